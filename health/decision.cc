#include "health/decision.h"

#include <fmt/format.h>

namespace sluice::health {

const char* VerdictName(VerdictKind k) {
  switch (k) {
    case VerdictKind::kHealthy:
      return "healthy";
    case VerdictKind::kHold:
      return "hold";
    case VerdictKind::kFailover:
      return "failover";
    case VerdictKind::kRefused:
      return "refused";
    case VerdictKind::kAdopt:
      return "adopt";
    case VerdictKind::kSplitBrain:
      return "split-brain";
  }
  return "?";
}

std::vector<std::string> WritableOthers(const std::vector<NodeView>& nodes,
                                        const std::string& target) {
  std::vector<std::string> out;
  for (const NodeView& n : nodes)
    if (n.name != target && n.reachable && n.check.writable) out.push_back(n.name);
  return out;
}

namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Verdict ChooseCandidate(const RoundFacts& f, const NodeView& old, Verdict v) {
  std::vector<Candidate> all;
  for (const NodeView& n : f.nodes) {
    if (n.name == old.name || n.role != ServerRole::kReplica || n.fenced) continue;
    Candidate c;
    c.name = n.name;
    c.priority = n.priority;
    c.operator_offline = n.operator_offline;
    c.reachable = n.reachable;
    if (n.reachable) {
      c.replication_broken = !n.check.replication_error.empty();
      Position got = Furthest(n.check.received, n.check.applied);
      c.behind = Behind(got, f.primary_last_position);
      c.position = GtidWeight(got);
    }
    all.push_back(c);
  }
  std::string why;
  auto cand = PickCandidate(all, &why);
  v.pause_writes = true;
  if (!f.auto_failover) {
    v.kind = VerdictKind::kRefused;
    v.why = "primary is dead and auto_failover is off";
  } else if (!cand) {
    v.kind = VerdictKind::kRefused;
    v.why = "no failover: " + why;
  } else {
    v.kind = VerdictKind::kFailover;
    v.target = cand->name;
    v.why = fmt::format("candidate {} (position {}, priority {})", cand->name, cand->position,
                        cand->priority);
  }
  return v;
}

}  // namespace

Verdict Decide(const RoundFacts& f) {
  Verdict v;
  const NodeView* primary = nullptr;
  for (const NodeView& n : f.nodes) {
    if (n.role != ServerRole::kPrimary) continue;
    // Two published primaries cannot happen through sluice; prefer the one that is up.
    if (!primary || (!primary->reachable && n.reachable)) primary = &n;
  }
  if (primary) v.primary = primary->name;
  for (const NodeView& n : f.nodes) {
    if (!n.reachable || !n.check.writable) continue;
    if (n.fenced)
      v.refence.push_back(n.name);
    else
      v.writable.push_back(n.name);
  }
  if (v.writable.size() >= 2) {
    v.kind = VerdictKind::kSplitBrain;
    v.pause_writes = true;
    v.why =
        fmt::format("{} nodes report themselves writable: {}", v.writable.size(), Join(v.writable));
    return v;
  }
  if (v.writable.size() == 1) {
    if (v.writable[0] == v.primary) return v;  // healthy
    v.kind = VerdictKind::kAdopt;
    v.target = v.writable[0];
    v.why = primary ? fmt::format("{} is writable and {} is not", v.target, primary->name)
                    : v.target + " is the only writable node";
    return v;
  }
  // Nobody accepts writes.
  if (!primary) {
    v.kind = VerdictKind::kRefused;
    v.why = "no primary is configured and no node is writable";
    return v;
  }
  v.pause_writes = true;
  if (primary->reachable) {
    v.kind = VerdictKind::kHold;
    v.why = primary->fenced ? "the primary was fenced and no node is writable"
                            : "the primary answers but reports itself read-only";
    if (!primary->fenced && primary->returning && !primary->check.replicating) {
      v.make_primary_writable = true;
      v.why = "the primary came back read-only (read_only in its config); making it writable";
    }
    // A fenced primary that answers is the returning old primary of a failover that found
    // no candidate: the candidates decide, not its answer.
    if (!primary->fenced) return v;
  }
  if (!primary->dead && !primary->fenced) {
    v.kind = VerdictKind::kHold;
    v.why = "the primary failed its check; holding writes for the failover window";
    return v;
  }
  return ChooseCandidate(f, *primary, v);
}

}  // namespace sluice::health
