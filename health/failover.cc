// Carrying out a round's verdict (decision.h): hold or resume writes, fence, promote the
// candidate, adopt an outside primary, hold writes through a split brain. Every step that
// changes a server passes MayOrchestrate() first, and a fleet records it (Record) before.
#include <fmt/format.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/cluster_monitor.h"
#include "health/command.h"

namespace sluice::health {

namespace {

constexpr int kFenceCommandTimeoutMs = 10'000;
// A re-point is tried this often; the waits between tries double from one round (with
// monitor_interval_ms = 500: 0.5, 1, 2, 4, 8 s, about 15 s in all).
constexpr int kRepointAttempts = 6;

std::vector<std::string> SplitWords(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s + " ") {
    if (ch == ' ' || ch == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  return out;
}

}  // namespace

bool ClusterMonitor::MayOrchestrate(std::string_view step) {
  if (Leads()) {
    left_to_leader_.clear();
    return true;
  }
  // Said once per step while another instance leads (a follower asks every round).
  if (left_to_leader_.insert(std::string(step)).second)
    log::Info("cluster {}: another instance orchestrates; {} left to it", name_, step);
  return false;
}

bool ClusterMonitor::Leads() const {
  const auto& hook = owner_->hooks_.may_orchestrate;
  return !hook || hook(name_);
}

bool ClusterMonitor::Record(const char* action, const char* phase, const std::string& old,
                            const std::string& target, const std::string& detail) {
  const auto& hook = owner_->hooks_.record_step;
  if (!hook) return true;
  bool ok = hook(name_, OrchestrationStep{action, phase, old, target, detail});
  if (!ok)
    log::Warn("cluster {}: {} {} not recorded in the fleet: not taken", name_, action, phase);
  return ok;
}

std::vector<std::string> ClusterMonitor::KeepUsers(const Cluster& c) const {
  std::vector<std::string> keep;
  if (!c.monitor_user.empty()) keep.push_back(c.monitor_user);
  if (!c.replication_user.empty()) keep.push_back(c.replication_user);
  return keep;
}

void ClusterMonitor::SetPaused(bool paused, const std::string& why) {
  if (paused == paused_) return;
  paused_ = paused;
  if (paused) paused_since_ms_ = MonotonicMs();
  owner_->topology_->Update([&](Overlay* o) {
    bool& p = o->clusters[name_].writes_paused;
    if (p == paused) return false;
    p = paused;
    return true;
  });
  if (paused)
    Event("WRITES_HELD", "", why);
  else
    Event("WRITES_RESUMED", "",
          fmt::format("writes held for {} ms", MonotonicMs() - paused_since_ms_));
}

void ClusterMonitor::Act(const Cluster& c, const Verdict& v, const RoundFacts& facts) {
  bool entering = v.kind != last_kind_ || v.why != last_said_;
  last_kind_ = v.kind;
  last_said_ = v.why;
  if (ResumeSwitchover(c, facts)) return;  // the next round judges the cluster anew
  for (const std::string& r : v.refence)
    if (MayOrchestrate("fencing"))
      FenceNode(c, r, "a node sluice fenced reports itself writable again");
  UnfenceRejoined(c);
  RetryRepoints(c);
  switch (v.kind) {
    case VerdictKind::kHealthy:
      SetPaused(false, "");
      return;
    case VerdictKind::kHold:
      SetPaused(true, v.why);
      if (entering) log::Info("cluster {}: {}", name_, v.why);
      if (v.make_primary_writable && MayOrchestrate("making the primary writable")) {
        Node* a = Action(c, v.primary);
        Status st = a ? a->Unfence() : Unavailable("no such server");
        if (!st.ok() && a) a->Close();
        Event("PRIMARY_WRITABLE", v.primary,
              st.ok() ? "the primary came back read-only from a restart; writable again"
                      : "could not make the returning primary writable: " + st.message());
        if (st.ok()) watch_[v.primary].returning = false;
      }
      return;
    case VerdictKind::kSplitBrain:
      SetPaused(true, v.why);
      if (entering) {
        owner_->Count(name_, &HealthCounters::split_brain_holds);
        Event("SPLIT_BRAIN", "",
              v.why + "; writes held and routed to none of them until exactly one is writable");
      }
      return;
    case VerdictKind::kRefused:
      SetPaused(v.pause_writes, v.why);
      if (entering) {
        owner_->Count(name_, &HealthCounters::failovers_refused);
        Event("FAILOVER_REFUSED", v.primary, v.why);
      }
      return;
    case VerdictKind::kAdopt:
      if (!MayOrchestrate("adoption") || !Record("adopt", "adopt", v.primary, v.target)) return;
      PublishPrimary(c, v.target, v.primary, false);
      Record("adopt", "done", v.primary, v.target, "adopted");
      owner_->Count(name_, &HealthCounters::adoptions);
      Event("TOPOLOGY_ADOPTED", v.target,
            v.why + ": adopted as the primary (changed outside sluice); writes go there");
      return;
    case VerdictKind::kFailover:
      SetPaused(true, "primary " + v.primary + " is dead");
      if (!MayOrchestrate("failover")) return;
      if (!Failover(c, v, facts)) last_said_.clear();  // the next round tries again
      return;
  }
}

Status ClusterMonitor::RunFenceCommand(const Cluster& c, const std::string& server) {
  std::vector<std::string> argv = SplitWords(c.fence_command);
  const Server* s = nullptr;
  for (const Server& x : c.servers)
    if (x.name() == server) s = &x;
  if (argv.empty() || !s) return InvalidArgument("fence_command is empty");
  argv.push_back(name_);
  argv.push_back(s->host);
  argv.push_back(std::to_string(s->port));
  std::string output;
  int64_t start = MonotonicMs();
  int rc = owner_->hooks_.run_command
               ? owner_->hooks_.run_command(argv, kFenceCommandTimeoutMs, &output)
               : RunBounded(argv, kFenceCommandTimeoutMs, &output);
  std::string said =
      fmt::format("fence_command {} {} {} {}: {} after {} ms{}{}", argv[0], name_, s->host, s->port,
                  rc == 0    ? "succeeded"
                  : rc == -1 ? "did not finish (killed)"
                             : fmt::format("exited {}", rc),
                  MonotonicMs() - start, output.empty() ? "" : ": ", output);
  Event("FENCE_COMMAND", server, said);
  if (rc != 0) return Unavailable(said);
  owner_->Count(name_, &HealthCounters::fence_actions);
  return Status::Ok();
}

void ClusterMonitor::FenceNode(const Cluster& c, const std::string& server,
                               const std::string& why) {
  Node* a = Action(c, server);
  if (!a) return;
  auto r = a->Fence(KeepUsers(c));
  if (r.ok()) owner_->Count(name_, &HealthCounters::fence_actions);
  Event("FENCE", server,
        r.ok() ? why + ": " + *r : why + ": could not fence (" + r.status().message() + ")");
  if (!r.ok()) a->Close();
}

bool ClusterMonitor::Failover(const Cluster& c, const Verdict& verdict, const RoundFacts& facts) {
  Verdict v = verdict;
  const std::string& old = v.primary;
  // A promotion an earlier leader of the fleet intended is finished on its target, never on a
  // second replica; an unreachable one is given up and the verdict's candidate taken.
  if (owner_->hooks_.intended_target) {
    std::string t = owner_->hooks_.intended_target(name_);
    for (const NodeView& n : facts.nodes)
      if (!t.empty() && t != v.target && n.name == t && n.name != old && n.reachable && !n.fenced) {
        v.why = "the target an earlier leader of the fleet was promoting (not " + v.target + ")";
        v.target = t;
      }
  }
  if (!Record("failover", "fence", old, "")) return false;
  // Stop routing to it at once; writes are held.
  owner_->topology_->Update([&](Overlay* o) {
    bool& f = o->clusters[name_].servers[old].fenced;
    if (f) return false;
    f = true;
    return true;
  });
  Event("FAILOVER", old,
        fmt::format("primary failed every check over {} ms: OFFLINE_HARD, writes held; {}",
                    c.failover_window_ms, v.why));
  // Hard fencing first (STONITH, a cloud API): no promotion unless it succeeded.
  if (!c.fence_command.empty()) {
    if (Status st = RunFenceCommand(c, old); !st.ok()) {
      owner_->Count(name_, &HealthCounters::failovers_refused);
      Event("FAILOVER_REFUSED", old, "fence_command failed; no promotion: " + st.message());
      Record("failover", "abandoned", old, "", "fence_command failed");
      return false;
    }
  }
  // Soft fencing: judged dead by the window, it may still answer a fresh connection. Short
  // timeouts: a stopped server must not hold the failover.
  {
    NodeOptions o;
    o.protocol = c.protocol;
    for (const Server& s : c.servers)
      if (s.name() == old) o.host = s.address.empty() ? s.host : s.address, o.port = s.port;
    o.user = c.admin_user.empty() ? c.monitor_user : c.admin_user;
    o.password = c.admin_user.empty() ? c.monitor_password : c.admin_password;
    o.connect_timeout_ms = CheckTimeoutMs(c.failover_window_ms);
    o.read_timeout_ms = o.connect_timeout_ms;
    o.tls = c.backend_tls;
    auto quick = owner_->hooks_.node_factory ? owner_->hooks_.node_factory(o) : MakeNode(o);
    auto r = quick->Fence(KeepUsers(c));
    if (r.ok()) {
      owner_->Count(name_, &HealthCounters::fence_actions);
      Event("FENCE", old, "judged dead but answers: " + *r);
    } else {
      log::Info("cluster {}: old primary {} does not answer ({}); fenced when it returns", name_,
                old, r.status().message());
    }
  }
  // The invariant, on fresh checks: never promote while another reachable node is writable.
  std::vector<NodeView> fresh = facts.nodes;
  for (NodeView& n : fresh) {
    if (n.name == v.target) continue;
    auto k = watch_[n.name].node ? watch_[n.name].node->Check() : Unavailable("no node");
    n.reachable = k.ok();
    if (k.ok()) n.check = *k;
  }
  std::vector<std::string> others = WritableOthers(fresh, v.target);
  if (!others.empty()) {
    std::string list;
    for (const auto& o : others) list += (list.empty() ? "" : ", ") + o;
    log::Error("cluster {}: promotion of {} blocked: {} reports itself writable", name_, v.target,
               list);
    Event("FAILOVER_BLOCKED", v.target,
          "never promote while another reachable node is writable: " + list);
    return false;
  }
  Node* a = Action(c, v.target);
  ServerWatch& tw = watch_[v.target];
  if (!a || !tw.last) return false;
  if (!Record("failover", "promote", old, v.target)) return false;
  Event("FAILOVER", v.target, "promoting: " + v.why);
  // On a fresh connection: the one kept since the last action may have died with a restart
  // of the node in between (2013 on its first statement).
  a->Close();
  if (Status st = a->Promote(*tw.last); !st.ok()) {
    a->Close();
    owner_->Count(name_, &HealthCounters::failovers_refused);
    Event("FAILOVER_REFUSED", v.target, "promotion failed: " + st.message());
    Record("failover", "abandoned", old, v.target, "promotion failed: " + st.message());
    return false;
  }
  Event("PROMOTE", v.target, "the candidate accepts writes");
  // The replicas, and a fenced node that replicates again (an operator rejoined it; it is
  // back in service once it streams, which it cannot from the dead primary).
  for (const NodeView& n : facts.nodes) {
    bool rejoined = n.fenced && n.reachable && n.check.replicating && !n.check.writable;
    if (n.name != v.target && n.name != old && n.role == ServerRole::kReplica &&
        (!n.fenced || rejoined))
      Repoint(c, n.name, v.target, false);
  }
  int64_t held = MonotonicMs() - paused_since_ms_;
  PublishPrimary(c, v.target, old, true);
  owner_->Count(name_, &HealthCounters::failovers);
  Record("failover", "done", old, v.target, "new primary " + v.target);
  Event("FAILOVER_DONE", v.target,
        fmt::format("new primary {} (old {} fenced, needs rejoin); writes held for {} ms", v.target,
                    old, held));
  return true;
}

void ClusterMonitor::Repoint(const Cluster& c, const std::string& replica,
                             const std::string& primary, bool former_primary) {
  Node* a = Action(c, replica);
  const Server* p = nullptr;
  for (const Server& s : c.servers)
    if (s.name() == primary) p = &s;
  if (!a || !p) return;
  PendingRepoint& pending = repoints_[replica];
  if (pending.primary != primary) pending = PendingRepoint{primary, former_primary, 0, 0};
  ++pending.attempts;
  a->Close();  // a fresh connection, as for a promotion
  ReplicationSource src{p->host, p->port, c.replication_user, c.replication_password};
  Status st = a->Repoint(src, former_primary);
  if (st.ok()) {
    repoints_.erase(replica);
    Event("REPOINT", replica, "now replicates from " + primary);
    return;
  }
  if (pending.attempts >= kRepointAttempts) {
    Event("REPOINT", replica,
          fmt::format("re-point failed {} times, given up (an operator must re-point it): {}",
                      pending.attempts, st.message()));
    repoints_.erase(replica);
    return;
  }
  pending.wait_rounds = 1 << (pending.attempts - 1);
  Event("REPOINT", replica,
        fmt::format("re-point failed (try {} of {}), tried again in {} round(s): {}",
                    pending.attempts, kRepointAttempts, pending.wait_rounds, st.message()));
}

void ClusterMonitor::RetryRepoints(const Cluster& c) {
  std::vector<std::string> due;
  for (auto it = repoints_.begin(); it != repoints_.end();) {
    const Server* p = nullptr;
    for (const Server& s : c.servers)
      if (s.name() == it->second.primary) p = &s;
    // The primary changed again (or left the config): that failover re-points anew.
    if (!p || p->role != ServerRole::kPrimary) {
      it = repoints_.erase(it);
      continue;
    }
    if (--it->second.wait_rounds <= 0) due.push_back(it->first);
    ++it;
  }
  for (const std::string& replica : due) {
    PendingRepoint p = repoints_[replica];
    Repoint(c, replica, p.primary, p.former_primary);
  }
}

void ClusterMonitor::PublishPrimary(const Cluster& c, const std::string& new_primary,
                                    const std::string& old_primary, bool fence_old) {
  owner_->topology_->Update([&](Overlay* o) {
    ClusterOverlay& co = o->clusters[name_];
    for (const Server& s : c.servers) {
      ServerOverlay& so = co.servers[s.name()];
      if (s.name() == new_primary) {
        so.role = ServerRole::kPrimary;
        so.fenced = false;
        so.state = ServerState::kOnline;
        so.lag_ms = 0;
      } else {
        so.role = ServerRole::kReplica;
        if (s.name() == old_primary && fence_old) so.fenced = true;
      }
    }
    co.writes_paused = false;
    return true;
  });
  if (paused_) {
    paused_ = false;
    Event("WRITES_RESUMED", new_primary,
          fmt::format("writes held for {} ms", MonotonicMs() - paused_since_ms_));
  }
  ServerWatch& w = watch_[new_primary];
  w.health = Hysteresis(c.monitor_fail_threshold, c.monitor_recover_threshold);
  w.behind_since_ms = 0;
  primary_position_.clear();
  primary_position_of_.clear();
  last_kind_ = VerdictKind::kHealthy;
  last_said_.clear();
}

// A fenced node that came back: reported once as needing a rejoin; once it replicates
// cleanly again (an operator rejoined it), it serves reads again.
void ClusterMonitor::UnfenceRejoined(const Cluster& c) {
  Overlay ov = owner_->topology_->overlay();
  for (const auto& [server, so] : ov.clusters[name_].servers) {
    if (!so.fenced) continue;
    ServerWatch& w = watch_[server];
    if (!w.last) continue;
    const NodeCheck& k = *w.last;
    if (k.replicating && k.streaming && k.replication_error.empty() && !k.writable) {
      owner_->topology_->Update([&, &server = server](Overlay* o) {
        o->clusters[name_].servers[server].fenced = false;
        return true;
      });
      w.rejoin_reported = false;
      Event("REJOINED", server, "replicates again: back in service as a replica");
      continue;
    }
    if (!w.rejoin_reported) {
      w.rejoin_reported = true;
      Node* a = Action(c, server);
      Event("NEEDS_REJOIN", server,
            a && a->CanRejoinLive()
                ? "the old primary is reachable again; fenced (read-only, no traffic) until an "
                  "operator re-points it as a replica"
                : "the old primary is reachable again; fenced (read-only, no traffic) until an "
                  "operator rejoins it (pg_rewind + standby restart; sluice does not rewind)");
    }
  }
}

}  // namespace sluice::health
