// SWITCHOVER: a planned primary change. Hold writes, let in-flight statements finish, fence
// the old primary (read-only, its client sessions ended), wait until the target applied the
// old primary's last position, promote it, re-point the rest. Bounded at every step; an
// abort before the promotion puts the old primary back.
#include <chrono>

#include <fmt/format.h>

#include "common/clock.h"
#include "health/cluster_monitor.h"

namespace sluice::health {

Result<std::string> ClusterMonitor::Switchover(const std::string& target_name) {
  std::lock_guard<std::mutex> a(action_mu_);
  if (!MayOrchestrate("switchover")) return Unavailable("another instance orchestrates " + name_);
  Cluster c = Composed();
  const Server* old = nullptr;
  const Server* target = nullptr;
  for (const Server& s : c.servers)
    if (s.role == ServerRole::kPrimary && s.state != ServerState::kOfflineHard) old = &s;
  if (!old) return Unavailable("cluster " + name_ + " has no live primary");
  if (target_name.empty()) {
    // The most advanced healthy replica: the failover's own choice, with the primary alive.
    RoundFacts f = Facts(c, MonotonicMs());
    Verdict v;
    v.primary = old->name();
    std::vector<Candidate> all;
    for (const NodeView& n : f.nodes) {
      if (n.name == old->name() || n.role != ServerRole::kReplica || n.fenced) continue;
      Candidate cand;
      cand.name = n.name;
      cand.priority = n.priority;
      cand.operator_offline = n.operator_offline;
      cand.reachable = n.reachable;
      if (n.reachable) {
        cand.replication_broken = !n.check.replication_error.empty();
        cand.position = GtidWeight(Furthest(n.check.received, n.check.applied));
      }
      all.push_back(cand);
    }
    std::string why;
    auto cand = PickCandidate(all, &why);
    if (!cand) return Unavailable("no switchover: " + why);
    for (const Server& s : c.servers)
      if (s.name() == cand->name) target = &s;
  } else {
    for (const Server& s : c.servers)
      if (s.name() == target_name && s.role == ServerRole::kReplica) target = &s;
    if (!target) return InvalidArgument("no replica " + target_name + " in cluster " + name_);
  }
  Node* tnode = Action(c, target->name());
  Node* onode = Action(c, old->name());
  if (!tnode || !onode) return Internal("bad address");
  // Refuse before pausing anything when the target cannot take over.
  auto tcheck = tnode->Check();
  if (!tcheck.ok())
    return Unavailable("target " + target->name() + ": " + tcheck.status().message());
  if (!tcheck->replication_error.empty())
    return Unavailable("target replication broken: " + tcheck->replication_error);

  int64_t start = MonotonicMs();
  if (!Record("switchover", "drain", old->name(), target->name()))
    return Unavailable("the fleet did not record the switchover's intent: nothing done");
  SetPaused(true, "switchover " + old->name() + " -> " + target->name());
  Event("SWITCHOVER", old->name(),
        "writes held; draining " + old->name() + " for " + target->name());
  auto abort = [&](const std::string& why) {
    (void)onode->Unfence();
    SetPaused(false, "");
    Event("SWITCHOVER_ABORTED", old->name(), why);
    Record("switchover", "abandoned", old->name(), target->name(), why);
    return Unavailable("switchover aborted: " + why);
  };
  // Let statements already on the primary finish (bounded).
  const auto& in_flight = owner_->hooks_.in_flight;
  if (in_flight) {
    for (int i = 0; i < 100 && in_flight(name_, old->name()) > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto fenced = onode->Fence(KeepUsers(c));
  if (!fenced.ok()) return abort("fencing the old primary: " + fenced.status().message());
  owner_->Count(name_, &HealthCounters::fence_actions);
  Event("FENCE", old->name(), "switchover: " + *fenced);
  auto ocheck = onode->Check();
  if (!ocheck.ok()) return abort("cannot read the primary's position");
  Position pos = ocheck->written;
  if (Status st = tnode->WaitApplied(pos, 10'000); !st.ok())
    return abort("target did not reach " + PositionText(pos) + " within 10 s");
  auto tc = tnode->Check();
  if (!tc.ok()) return abort("target: " + tc.status().message());
  if (!Record("switchover", "promote", old->name(), target->name()))
    return abort("the fleet did not record the promote intent");
  if (Status st = tnode->Promote(*tc); !st.ok()) return abort("promote: " + st.message());
  Event("PROMOTE", target->name(), "switchover: the target accepts writes");
  for (const Server& s : c.servers) {
    if (s.name() == target->name() || s.name() == old->name() || s.role != ServerRole::kReplica)
      continue;
    Repoint(c, s.name(), target->name(), false);
  }
  bool fence_old = true;
  if (onode->CanRejoinLive()) {
    ReplicationSource src{target->host, target->port, c.replication_user, c.replication_password};
    Status r = onode->Repoint(src, true);
    fence_old = !r.ok();
    Event("REPOINT", old->name(),
          r.ok() ? "old primary now replicates from " + target->name()
                 : "old primary re-point failed (fenced): " + r.message());
  } else {
    Event("NEEDS_REJOIN", old->name(),
          "a running PostgreSQL primary cannot be demoted: the old primary stays fenced "
          "(default_transaction_read_only) until an operator rejoins it (pg_rewind + restart)");
    watch_[old->name()].rejoin_reported = true;
  }
  std::string old_name = old->name(), new_name = target->name();
  PublishPrimary(c, new_name, old_name, fence_old);
  owner_->Count(name_, &HealthCounters::switchovers);
  int64_t pause = MonotonicMs() - start;
  std::string msg =
      fmt::format("switchover {} -> {} done; writes paused for {} ms", old_name, new_name, pause);
  Event("SWITCHOVER_DONE", new_name, msg);
  Record("switchover", "done", old_name, new_name, msg);
  return msg;
}

}  // namespace sluice::health

namespace sluice::health {

void ClusterMonitor::ReleaseHold(const std::string& why) {
  // The hold may be this instance's own (paused_) or one it applied from the fleet's topology
  // while it followed: the overlay is what the data plane reads.
  bool held = paused_;
  owner_->topology_->Update([&](Overlay* o) {
    bool& p = o->clusters[name_].writes_paused;
    held = held || p;
    if (!p) return false;
    p = false;
    return true;
  });
  paused_ = false;
  if (held) Event("WRITES_RESUMED", "", why);
}

bool ClusterMonitor::ResumeSwitchover(const Cluster& c, const RoundFacts& facts) {
  const auto& hook = owner_->hooks_.unfinished_switchover;
  if (!hook || !Leads()) return false;
  std::optional<OrchestrationStep> u = hook(name_);
  if (!u) return false;
  const std::string& old = u->old_primary;
  const std::string& target = u->target;
  const std::string& began = u->detail;  // the earlier leader
  const NodeView* t = nullptr;
  for (const NodeView& n : facts.nodes)
    if (n.name == target) t = &n;
  if (u->phase == "promote" && t && t->reachable && t->check.writable) {
    // Its target was promoted: finish the switchover as switchover.cc would have.
    for (const Server& s : c.servers)
      if (s.name() != target && s.name() != old && s.role == ServerRole::kReplica)
        Repoint(c, s.name(), target, false);
    bool fence_old = true;
    Node* onode = Action(c, old);
    const Server* ts = nullptr;
    for (const Server& s : c.servers)
      if (s.name() == target) ts = &s;
    if (onode && ts && onode->CanRejoinLive()) {
      ReplicationSource src{ts->host, ts->port, c.replication_user, c.replication_password};
      fence_old = !onode->Repoint(src, true).ok();
    }
    PublishPrimary(c, target, old, fence_old);
    owner_->Count(name_, &HealthCounters::switchovers);
    std::string msg = fmt::format("finished the switchover {} began: {} -> {} ({} promoted it)",
                                  began, old, target, began);
    Event("SWITCHOVER_DONE", target, msg);
    Record("switchover", "done", old, target, msg);
    return true;
  }
  if (u->phase == "promote" && (!t || !t->reachable)) {
    // Whether the target was promoted cannot be told: the old primary stays fenced (never two
    // writable nodes); writes are released and fail with the server's read-only error.
    std::string msg = fmt::format(
        "the switchover {} began ({} -> {}) was abandoned: the target does not answer, so {} "
        "stays fenced (read-only) until an operator decides; a write waits at most "
        "write_hold_timeout_ms, then fails",
        began, old, target, old);
    ReleaseHold("released: " + msg);
    Event("SWITCHOVER_ABORTED", old, msg);
    Record("switchover", "abandoned", old, target, msg);
    return true;
  }
  // Nothing was promoted: roll back, the old primary writable again.
  Node* a = Action(c, old);
  Status st = a ? a->Unfence() : Unavailable("no such server");
  if (!st.ok() && a) a->Close();
  std::string msg = fmt::format("the switchover {} began ({} -> {}, phase {}) was rolled back: {}",
                                began, old, target, u->phase,
                                st.ok() ? old + " is writable again"
                                        : "could not unfence " + old + " (" + st.message() + ")");
  ReleaseHold("released: " + msg);
  Event("SWITCHOVER_ABORTED", old, msg);
  Record("switchover", "abandoned", old, target, msg);
  return true;
}

}  // namespace sluice::health
