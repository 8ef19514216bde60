#include "health/monitor.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/node.h"
#include "health/pg_standby.h"
#include "health/positions.h"

namespace sluice::health {

namespace {

constexpr size_t kMaxRecords = 2000;
// A discovered replica that left is drained this many intervals before it is removed.
constexpr int kDrainIntervals = 5;

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string SqlString(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

bool OperatorOffline(ServerState s) {
  return s == ServerState::kOfflineSoft || s == ServerState::kOfflineHard;
}

bool SplitHostPort(const std::string& hp, std::string* host, uint16_t* port) {
  size_t colon = hp.rfind(':');
  if (colon == std::string::npos) return false;
  int p = std::atoi(hp.c_str() + colon + 1);
  if (p <= 0 || p > 65535) return false;
  *host = hp.substr(0, colon);
  *port = static_cast<uint16_t>(p);
  return true;
}

// Whether replica K has applied everything PRIMARY had when the primary was checked (earlier
// in the same round): MariaDB's applied GTIDs cover its binlog, PostgreSQL's replay LSN
// reached its current LSN.
bool CaughtUp(Protocol protocol, const NodeCheck& k, const NodeCheck* primary) {
  if (!primary) return false;
  if (protocol == Protocol::kMysql) {
    auto mine = ParseGtidPos(k.gtid_applied);
    auto theirs = ParseGtidPos(primary->gtid_binlog);
    return mine && theirs && GtidCovers(*mine, *theirs);
  }
  return primary->lsn_current > 0 && k.lsn_replayed >= primary->lsn_current;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  return out;
}

}  // namespace

// What the monitor remembers of one server between rounds.
struct ServerWatch {
  std::unique_ptr<Node> node;    // monitor_user
  std::unique_ptr<Node> action;  // admin_user, opened on demand
  Hysteresis health{3, 3};
  std::optional<NodeCheck> last;
  std::string last_error;
  int64_t lag_ms = 0;
  int64_t behind_since_ms = 0;  // when a replica without a reported lag fell behind
  bool rejoin_reported = false;
  int missing_rounds = 0;  // discovered and no longer seen
  // coordination hook: the role of the last round; a role the fleet's leader moved starts
  // the server's verdict afresh, as the leader's own Publish does.
  std::optional<ServerRole> role;
};

class ClusterMonitor {
 public:
  ClusterMonitor(HealthMonitor* owner, std::string name) : owner_(owner), name_(std::move(name)) {}
  ~ClusterMonitor() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  const std::string& name() const { return name_; }
  Result<std::string> Switchover(const std::string& target);

 private:
  void Loop();
  void Round();
  Cluster Composed() const;
  const Cluster* Configured(const Runtime& cfg) const { return cfg.FindCluster(name_); }
  ServerWatch& Watch(const Cluster& c, const Server& s);
  Node* Action(const Cluster& c, const std::string& server);
  int64_t LagOf(const Cluster& c, const Server& s, const NodeCheck& k, const NodeCheck* primary,
                ServerWatch& w, int64_t now);
  void CheckPrimaryDeath(const Cluster& c, const Server* primary, bool ok, int64_t now);
  void RetryHeadless(const Cluster& c, int64_t now);
  bool Failover(const Cluster& c, const std::string& old_primary, int64_t now);
  std::optional<Candidate> Choose(const Cluster& c, const std::string& exclude, std::string* why);
  Status Promote(const Cluster& c, const Server& s, const NodeCheck& k);
  Status Repoint(const Cluster& c, const Server& replica, const Server& primary,
                 bool former_primary = false);
  void Publish(const Cluster& c, const std::string& new_primary, const std::string& old_primary,
               bool fence_old);
  void Discover(const Cluster& c, const NodeCheck* primary_check, int64_t now);
  void FenceReturned(const Cluster& c, const Server& s, const NodeCheck& k);
  void Event(std::string_view kind, std::string_view server, const std::string& msg) {
    owner_->Event(kind, name_, server, msg);
  }
  // --- coordination hook (coordination/leadership.h): the fleet's leader alone acts, and
  // writes each step before it takes it. No leadership: a single instance, which acts.
  coordination::Leadership* Fleet() const { return owner_->hooks_.leadership; }
  bool Orchestrates() const { return !Fleet() || Fleet()->MayOrchestrate(name_); }
  bool Intent(const std::string& phase, const std::string& old, const std::string& target,
              const char* action = "failover") {
    if (!Fleet()) return true;
    if (step_.id == 0 || phase == "fence" || phase == "drain")
      step_ = {action, "", old, "", "", "", UnixMs()};
    step_.phase = phase, step_.old_primary = old, step_.target = target;
    return Fleet()->RecordIntent(name_, step_);
  }
  void Outcome(const std::string& phase, const std::string& detail) {
    if (!Fleet() || step_.id == 0) return;
    step_.phase = phase, step_.detail = detail;
    Fleet()->RecordOutcome(name_, step_);
    step_ = {};
  }
  coordination::Step step_;  // the failover in progress, as recorded in the fleet
  // --- end of the coordination hook

  HealthMonitor* owner_;
  std::string name_;
  std::thread thread_;
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  // Held for a whole round and a whole switchover: the two never interleave on a node.
  std::mutex action_mu_;
  std::map<std::string, ServerWatch> watch_;
  int64_t primary_last_good_ms_ = 0;
  int primary_failures_ = 0;
  // Failover fenced the primary and found no candidate: retried every round.
  std::string headless_old_;
  std::string last_refusal_;  // the last "no failover" reason logged
  int64_t paused_since_ms_ = 0;
};

Cluster ClusterMonitor::Composed() const {
  RuntimePtr rt = owner_->topology_->Current();
  const Cluster* c = rt ? rt->FindCluster(name_) : nullptr;
  return c ? *c : Cluster{};
}

ServerWatch& ClusterMonitor::Watch(const Cluster& c, const Server& s) {
  ServerWatch& w = watch_[s.name()];
  if (!w.node) {
    NodeOptions o{c.protocol, s.host, s.port, c.monitor_user, c.monitor_password, 1, 2};
    w.node = MakeNode(o);
    w.health = Hysteresis(c.monitor_fail_threshold, c.monitor_recover_threshold);
  }
  return w;
}

Node* ClusterMonitor::Action(const Cluster& c, const std::string& server) {
  ServerWatch& w = watch_[server];
  if (!w.action) {
    NodeOptions o;
    o.protocol = c.protocol;
    if (!SplitHostPort(server, &o.host, &o.port)) return nullptr;
    o.user = c.admin_user.empty() ? c.monitor_user : c.admin_user;
    o.password = c.admin_user.empty() ? c.monitor_password : c.admin_password;
    o.connect_timeout_s = 2;
    o.read_timeout_s = 30;
    w.action = MakeNode(o);
  }
  return w.action.get();
}

void ClusterMonitor::Loop() {
  log::SetThreadName("health-" + name_);
  std::unique_lock<std::mutex> lock(wake_mu_);
  while (!stop_) {
    lock.unlock();
    int interval = 1000;
    {
      std::lock_guard<std::mutex> a(action_mu_);
      Round();
      Cluster c = Composed();
      if (c.monitor_interval_ms > 0) interval = c.monitor_interval_ms;
    }
    lock.lock();
    wake_.wait_for(lock, std::chrono::milliseconds(interval), [this] { return stop_; });
  }
}

int64_t ClusterMonitor::LagOf(const Cluster& c, const Server& s, const NodeCheck& k,
                              const NodeCheck* primary, ServerWatch& w, int64_t now) {
  if (s.role == ServerRole::kPrimary || !k.replicating) {
    w.behind_since_ms = 0;
    return 0;
  }
  if (CaughtUp(c.protocol, k, primary)) {
    w.behind_since_ms = 0;
    return 0;
  }
  if (w.behind_since_ms == 0) w.behind_since_ms = now;
  std::optional<int64_t> reported = c.protocol == Protocol::kMysql ? k.lag_ms : k.replay_age_ms;
  if (reported) return std::max<int64_t>(*reported, 0);
  return now - w.behind_since_ms;
}

void ClusterMonitor::Round() {
  Cluster c = Composed();
  if (c.name.empty()) return;
  int64_t now = MonotonicMs();
  // The primary first, so that replicas are compared with a position no newer than theirs.
  std::vector<const Server*> order;
  const Server* primary = nullptr;
  for (const Server& s : c.servers)
    if (s.role == ServerRole::kPrimary && s.state != ServerState::kOfflineHard) primary = &s;
  if (primary) order.push_back(primary);
  for (const Server& s : c.servers)
    if (&s != primary) order.push_back(&s);

  std::map<std::string, std::optional<NodeCheck>> results;
  const NodeCheck* primary_check = nullptr;
  for (const Server* s : order) {
    ServerWatch& w = Watch(c, *s);
    auto r = w.node->Check();
    CheckRecord rec;
    rec.time_unix_ms = UnixMs();
    rec.cluster = name_;
    rec.server = s->name();
    rec.ok = r.ok();
    if (r.ok()) {
      rec.latency_us = r->latency_us;
      rec.role_seen = r->is_primary ? "primary" : "replica";
      w.last = *r;
      results[s->name()] = *r;
      if (s == primary) primary_check = &*results[s->name()];
      w.lag_ms = LagOf(c, *s, *r, primary_check, w, now);
      rec.lag_ms = w.lag_ms;
      if (!r->replication_error.empty())
        rec.error = "replication: " + r->replication_error;
      else if (c.protocol == Protocol::kPostgres && s->role == ServerRole::kReplica &&
               r->replicating && !r->threads_running)
        rec.error = "replication: WAL receiver not streaming";
      if (s->role == ServerRole::kReplica && r->is_primary && primary &&
          s->state != ServerState::kOfflineHard)
        rec.error = "configured replica acts as a primary";
    } else {
      rec.error = r.status().message();
      w.last.reset();
      results[s->name()] = std::nullopt;
    }
    w.last_error = rec.error;
    owner_->Record(rec);
  }

  // Verdicts with hysteresis; lag as measured.
  std::vector<std::pair<std::string, bool>> changes;
  for (const Server& s : c.servers) {
    ServerWatch& w = watch_[s.name()];
    if (Fleet() && w.role && *w.role != s.role)  // coordination hook (ServerWatch::role)
      w.health = Hysteresis(c.monitor_fail_threshold, c.monitor_recover_threshold);
    w.role = s.role;
    bool good = results[s.name()].has_value() && w.last_error.empty();
    if (w.health.Observe(good)) changes.push_back({s.name(), w.health.healthy()});
  }
  for (const auto& [server, healthy] : changes) {
    const ServerWatch& w = watch_[server];
    Event("STATE", server,
          healthy ? "SHUNNED -> ONLINE (recovered)"
                  : fmt::format("ONLINE -> SHUNNED: {}",
                                w.last_error.empty() ? "check failed" : w.last_error));
  }
  owner_->topology_->Update([&](Overlay* o) {
    ClusterOverlay& co = o->clusters[name_];
    bool changed = false;
    for (const Server& s : c.servers) {
      ServerWatch& w = watch_[s.name()];
      ServerOverlay& so = co.servers[s.name()];
      // coordination hook: the fleet's leader moved its role during this round; this round
      // checked it in its old role, the next one judges it afresh.
      if (Fleet() && so.role && *so.role != s.role) continue;
      ServerState st = w.health.healthy() ? ServerState::kOnline : ServerState::kShunned;
      if (so.state == ServerState::kOfflineSoft) st = ServerState::kOfflineSoft;
      if (so.state != st) so.state = st, changed = true;
      int64_t lag = results[s.name()] ? w.lag_ms : so.lag_ms;
      if (so.lag_ms != lag) so.lag_ms = lag, changed = true;
    }
    return changed;
  });

  const bool acts = Orchestrates();  // coordination hook: followers only monitor
  if (!acts) headless_old_.clear();
  for (const Server& s : c.servers)
    if (acts && s.state == ServerState::kOfflineHard && results[s.name()])
      FenceReturned(c, s, *results[s.name()]);
  // coordination hook: a failover the previous leader left unfinished is finished here.
  if (acts && Fleet() && headless_old_.empty()) {
    if (auto u = Fleet()->Unfinished(name_); u && u->action == "failover") {
      step_ = *u, headless_old_ = u->old_primary, paused_since_ms_ = now;
    } else if (u && u->action == "switchover") {  // not resumed: writes flow again
      step_ = *u;
      Outcome("abandoned", "the instance that ran it is gone");
      owner_->topology_->Update([&](Overlay* o) {
        o->clusters[name_].writes_paused = false;
        return true;
      });
      Event("SWITCHOVER_ABORTED", u->old_primary,
            "the switchover " + u->leader + " began (phase " + u->phase +
                ") was abandoned by the new leader: writes unpaused; check which server is "
                "writable and run SWITCHOVER again");
    }
  }

  if (!headless_old_.empty()) {
    RetryHeadless(c, now);
    return;
  }
  CheckPrimaryDeath(c, primary, primary_check != nullptr, now);
  if (acts && primary_check) Discover(c, primary_check, now);
}

void ClusterMonitor::FenceReturned(const Cluster& c, const Server& s, const NodeCheck& k) {
  ServerWatch& w = watch_[s.name()];
  // Operator-set OFFLINE_HARD in the config: not ours to touch.
  Runtime cfg = owner_->topology_->config();
  Overlay ov = owner_->topology_->overlay();
  auto co = ov.clusters.find(name_);
  if (co == ov.clusters.end()) return;
  auto so = co->second.servers.find(s.name());
  if (so == co->second.servers.end() || !so->second.fenced) return;
  if (c.protocol == Protocol::kMysql && !k.read_only) {
    Node* a = Action(c, s.name());
    Status st = a ? a->Exec("SET GLOBAL read_only=ON") : Internal("bad address");
    Event("FENCE", s.name(),
          st.ok() ? "old primary is back: set read_only=ON; it gets no traffic until it rejoins"
                  : "old primary is back, could not set read_only=ON: " + st.message());
  }
  if (!w.rejoin_reported) {
    w.rejoin_reported = true;
    Event("NEEDS_REJOIN", s.name(),
          "the old primary is reachable again; kept OFFLINE_HARD out of the writer group until "
          "an operator rejoins it as a replica");
  }
}

void ClusterMonitor::CheckPrimaryDeath(const Cluster& c, const Server* primary, bool ok,
                                       int64_t now) {
  if (!primary) return;
  if (primary_last_good_ms_ == 0) primary_last_good_ms_ = now;
  if (ok) {
    primary_last_good_ms_ = now;
    primary_failures_ = 0;
    return;
  }
  ++primary_failures_;
  if (primary_failures_ < 2 || now - primary_last_good_ms_ < c.failover_window_ms) return;
  if (!c.auto_failover) {
    if (primary_failures_ == 2 || primary_failures_ % 30 == 0)
      Event("FAILOVER_REFUSED", primary->name(), "primary is dead and auto_failover is off");
    return;
  }
  if (!Orchestrates()) {  // coordination hook: the leader fails over; this one follows
    if (primary_failures_ == 2 || primary_failures_ % 30 == 0)
      log::Info("cluster {}: primary {} is dead; the fleet's leader ({}) fails over", name_,
                primary->name(), Fleet()->Leader());
    return;
  }
  Event("FAILOVER", primary->name(),
        fmt::format("primary failed {} checks over {} ms: fencing it and pausing writes",
                    primary_failures_, now - primary_last_good_ms_));
  primary_failures_ = 0;
  Failover(c, primary->name(), now);
}

void ClusterMonitor::RetryHeadless(const Cluster& c, int64_t now) {
  if (Failover(c, headless_old_, now)) return;
  if (c.writes_paused && now - paused_since_ms_ >= c.write_hold_timeout_ms) {
    owner_->topology_->Update([&](Overlay* o) {
      o->clusters[name_].writes_paused = false;
      return true;
    });
    Event("FAILOVER_REFUSED", headless_old_,
          fmt::format("no safe candidate after {} ms: writes unpaused so that clients get errors "
                      "instead of waiting; still retrying",
                      now - paused_since_ms_));
  }
}

std::optional<Candidate> ClusterMonitor::Choose(const Cluster& c, const std::string& exclude,
                                                std::string* why) {
  std::vector<Candidate> all;
  for (const Server& s : c.servers) {
    if (s.name() == exclude || s.role != ServerRole::kReplica) continue;
    Overlay ov = owner_->topology_->overlay();
    bool fenced = ov.clusters[name_].servers[s.name()].fenced;
    if (fenced) continue;
    ServerWatch& w = Watch(c, s);
    Candidate cand;
    cand.name = s.name();
    cand.max_lag_ms = s.max_lag_ms;
    cand.priority = s.priority;
    Runtime cfg = owner_->topology_->config();
    for (const Server& cs : Configured(cfg) ? Configured(cfg)->servers : std::vector<Server>{})
      if (cs.name() == s.name()) cand.operator_offline = OperatorOffline(cs.state);
    auto k = w.node->Check();
    if (k.ok()) {
      w.last = *k;
      cand.reachable = true;
      cand.replication_broken = !k->replication_error.empty();
      cand.lag_ms = w.lag_ms;
      if (c.protocol == Protocol::kMysql) {
        auto received = ParseGtidPos(k->gtid_received);
        auto applied = ParseGtidPos(k->gtid_applied);
        cand.position =
            std::max(received ? GtidWeight(*received) : 0, applied ? GtidWeight(*applied) : 0);
      } else {
        cand.position = std::max(k->lsn_received, k->lsn_replayed);
      }
    }
    all.push_back(cand);
  }
  return PickCandidate(all, why);
}

bool ClusterMonitor::Failover(const Cluster& c, const std::string& old_primary, int64_t now) {
  if (headless_old_.empty()) {
    if (!Intent("fence", old_primary, "")) return false;  // coordination hook
    paused_since_ms_ = now;
    owner_->topology_->Update([&](Overlay* o) {
      ClusterOverlay& co = o->clusters[name_];
      co.writes_paused = true;
      co.servers[old_primary].fenced = true;
      return true;
    });
    Event("FENCE", old_primary, "old primary OFFLINE_HARD, writes paused");
  }
  headless_old_ = old_primary;
  std::string why;
  std::optional<Candidate> cand;
  // coordination hook: a promotion a previous leader intended is finished on its target.
  if (Fleet() && step_.phase == "promote" && !step_.target.empty()) {
    const Server* t = nullptr;
    for (const Server& s : c.servers)
      if (s.name() == step_.target) t = &s;
    auto k = t ? Watch(c, *t).node->Check() : Result<NodeCheck>(NotFound("not in the cluster"));
    if (k.ok()) {
      watch_[t->name()].last = *k;
      cand = Candidate{};
      cand->name = t->name();
      Event("FAILOVER_RESUMED", t->name(), "finishing the promotion " + step_.leader + " intended");
    } else {
      Event("FAILOVER_ABANDONED", step_.target,
            "the intended target is unreachable: " + k.status().message() + "; choosing again");
      Outcome("abandoned", k.status().message());
      Intent("fence", old_primary, "");
    }
  }
  if (!cand) cand = Choose(c, old_primary, &why);
  if (!cand) {
    // Said once per reason: the check repeats every round while the primary stays dead.
    if (why != last_refusal_) {
      log::Error("cluster {}: no failover: {}", name_, why);
      Event("FAILOVER_REFUSED", old_primary, "no failover: " + why);
      last_refusal_ = why;
    }
    return false;
  }
  last_refusal_.clear();
  const Server* target = nullptr;
  for (const Server& s : c.servers)
    if (s.name() == cand->name) target = &s;
  Event("FAILOVER", cand->name,
        fmt::format("candidate chosen (position {}, priority {})", cand->position, cand->priority));
  if (!Intent("promote", old_primary, target->name())) return false;  // coordination hook
  // A target that already is a primary was promoted by a leader that died before its outcome.
  Status st = Fleet() && watch_[target->name()].last->is_primary
                  ? Status::Ok()
                  : Promote(c, *target, *watch_[target->name()].last);
  if (!st.ok()) {
    Event("FAILOVER_REFUSED", cand->name, "promotion failed: " + st.message());
    return false;
  }
  for (const Server& s : c.servers) {
    if (s.name() == cand->name || s.name() == old_primary || s.role != ServerRole::kReplica)
      continue;
    Status r = Repoint(c, s, *target);
    Event("REPOINT", s.name(),
          r.ok() ? "now replicates from " + target->name() : "re-point failed: " + r.message());
  }
  Publish(c, target->name(), old_primary, true);
  Outcome("done", "new primary " + target->name());  // coordination hook
  headless_old_.clear();
  Event("FAILOVER_DONE", target->name(),
        fmt::format("new primary {} (old {} fenced, needs rejoin); writes paused for {} ms",
                    target->name(), old_primary, MonotonicMs() - paused_since_ms_));
  return true;
}

Status ClusterMonitor::Promote(const Cluster& c, const Server& s, const NodeCheck& k) {
  Node* a = Action(c, s.name());
  if (!a) return Internal("bad address " + s.name());
  if (c.protocol == Protocol::kMysql) {
    // Apply what the relay log already holds: an acknowledged write may be only there.
    if (!k.gtid_received.empty()) {
      auto w = a->Query("SELECT MASTER_GTID_WAIT(" + SqlString(k.gtid_received) + ", 20)");
      if (!w.ok()) return w.status();
      if (!w->empty() && (*w)[0][0].value_or("-1") != "0")
        return Unavailable("the relay log was not applied within 20 s");
    }
    for (const char* sql : {"STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only=OFF"})
      if (Status st = a->Exec(sql); !st.ok()) return st;
    Event("PROMOTE", s.name(), "STOP SLAVE; RESET SLAVE ALL; read_only=OFF");
    return Status::Ok();
  }
  auto r = a->Query("SELECT pg_promote(true, 25)");
  if (!r.ok()) return r.status();
  if (r->empty() || (*r)[0][0].value_or("f") != "t")
    return Unavailable("pg_promote did not finish within 25 s");
  Event("PROMOTE", s.name(), "pg_promote() done");
  return Status::Ok();
}

Status ClusterMonitor::Repoint(const Cluster& c, const Server& replica, const Server& primary,
                               bool former_primary) {
  Node* a = Action(c, replica.name());
  if (!a) return Internal("bad address");
  if (c.protocol == Protocol::kMysql) {
    (void)a->Exec("STOP SLAVE");
    std::string change = fmt::format(
        "CHANGE MASTER TO MASTER_HOST={}, MASTER_PORT={}, MASTER_USER={}, MASTER_PASSWORD={}, "
        "MASTER_USE_GTID={}, MASTER_CONNECT_RETRY=1",
        SqlString(primary.host), primary.port, SqlString(c.replication_user),
        SqlString(c.replication_password),
        // A former primary's own writes are in its binlog, not in gtid_slave_pos.
        former_primary ? "current_pos" : "slave_pos");
    if (Status st = a->Exec(change); !st.ok()) return st;
    return a->Exec("START SLAVE");
  }
  // Keep the standby's application_name: discovery reads it as the standby's address and
  // synchronous_standby_names may name it. A standby that had none gets its address.
  std::string app = replica.name();
  auto cur = a->Query("SHOW primary_conninfo");
  if (cur.ok() && !cur->empty() && (*cur)[0][0]) {
    std::string named = PgConninfoApplicationName(*(*cur)[0][0]);
    if (!named.empty()) app = named;
  }
  std::string conninfo =
      fmt::format("host={} port={} user={} password={} application_name={}",
                  PgConninfoValue(primary.host), primary.port, PgConninfoValue(c.replication_user),
                  PgConninfoValue(c.replication_password), PgConninfoValue(app));
  // E'': the conninfo's quotes and backslashes, escaped by SqlString, read back as written.
  if (Status st = a->Exec("ALTER SYSTEM SET primary_conninfo = E" + SqlString(conninfo)); !st.ok())
    return st;
  if (Status st = a->Exec("ALTER SYSTEM SET recovery_target_timeline = 'latest'"); !st.ok())
    return st;
  return a->Exec("SELECT pg_reload_conf()");
}

void ClusterMonitor::Publish(const Cluster& c, const std::string& new_primary,
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
      } else if (s.role == ServerRole::kPrimary || s.name() == old_primary) {
        so.role = ServerRole::kReplica;
        so.fenced = fence_old;
      }
    }
    co.writes_paused = false;
    return true;
  });
  ServerWatch& w = watch_[new_primary];
  w.health = Hysteresis(c.monitor_fail_threshold, c.monitor_recover_threshold);
  w.behind_since_ms = 0;
  primary_last_good_ms_ = MonotonicMs();
  primary_failures_ = 0;
}

void ClusterMonitor::Discover(const Cluster& c, const NodeCheck* primary_check, int64_t now) {
  (void)now;
  std::set<std::string> allow;
  for (const std::string& h : SplitList(c.discovery_allow)) allow.insert(h);
  std::set<std::string> seen(primary_check->replicas.begin(), primary_check->replicas.end());
  for (const std::string& hp : SplitList(c.discovery)) seen.insert(hp);
  std::set<std::string> known;
  for (const Server& s : c.servers) known.insert(s.name());
  const Server* tmpl = nullptr;
  for (const Server& s : c.servers)
    if (s.role == ServerRole::kReplica) tmpl = &s;

  for (const std::string& hp : seen) {
    if (known.count(hp)) continue;
    Server s;
    if (!SplitHostPort(hp, &s.host, &s.port)) continue;
    if (!allow.count(s.host)) {
      log::Debug("cluster {}: discovery ignores {} (not in discovery_allow)", name_, hp);
      continue;
    }
    ServerWatch& w = Watch(c, s);
    auto k = w.node->Check();
    if (!k.ok() || k->is_primary || !k->replicating || !k->replication_error.empty()) continue;
    // Positions, not LagOf(): a replica that has not reported a lag yet measures 0 there.
    if (!CaughtUp(c.protocol, *k, primary_check)) {
      log::Debug("cluster {}: discovered {} is not caught up yet", name_, hp);
      continue;
    }
    // Its first round check is the next round's: without this one, the "left" pass below
    // would drain it at once.
    w.last = *k;
    s.role = ServerRole::kReplica;
    s.hostgroup = c.reader_hostgroup;
    if (tmpl) {
      s.weight = tmpl->weight;
      s.max_connections = tmpl->max_connections;
      s.max_lag_ms = tmpl->max_lag_ms;
    }
    s.state = ServerState::kOnline;
    owner_->topology_->Update([&](Overlay* o) {
      ServerOverlay& so = o->clusters[name_].servers[hp];
      so = ServerOverlay{};
      so.discovered = s;
      so.state = ServerState::kOnline;
      return true;
    });
    Event("SERVER_DISCOVERED", hp, "caught-up replica added to the reader hostgroup");
  }

  // Discovered servers that left: drained, then removed.
  Overlay ov = owner_->topology_->overlay();
  for (const auto& [hp, so] : ov.clusters[name_].servers) {
    if (!so.discovered) continue;
    ServerWatch& w = watch_[hp];
    bool present = seen.count(hp) && w.last.has_value();
    if (present) {
      if (w.missing_rounds > 0) {
        w.missing_rounds = 0;
        owner_->topology_->Update([&](Overlay* o) {
          o->clusters[name_].servers[hp].state = ServerState::kOnline;
          return true;
        });
      }
      continue;
    }
    if (++w.missing_rounds == 1) {
      owner_->topology_->Update([&](Overlay* o) {
        o->clusters[name_].servers[hp].state = ServerState::kOfflineSoft;
        return true;
      });
      Event("SERVER_DRAINING", hp, "discovered replica left: OFFLINE_SOFT");
    } else if (w.missing_rounds > kDrainIntervals) {
      owner_->topology_->Update([&](Overlay* o) {
        o->clusters[name_].servers.erase(hp);
        return true;
      });
      watch_.erase(hp);
      Event("SERVER_REMOVED", hp, "discovered replica removed after its drain");
    }
  }
}

Result<std::string> ClusterMonitor::Switchover(const std::string& target_name) {
  std::lock_guard<std::mutex> a(action_mu_);
  if (!Orchestrates())  // coordination hook
    return Unavailable("this instance does not lead the fleet: run SWITCHOVER on " +
                       Fleet()->Leader());
  Cluster c = Composed();
  const Server* old = nullptr;
  const Server* target = nullptr;
  for (const Server& s : c.servers) {
    if (s.role == ServerRole::kPrimary && s.state != ServerState::kOfflineHard) old = &s;
  }
  if (!old) return Unavailable("cluster " + name_ + " has no live primary");
  std::string why;
  if (target_name.empty()) {
    auto cand = Choose(c, old->name(), &why);
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
  if (!Intent("drain", old->name(), target->name(), "switchover"))  // coordination hook
    return Unavailable("the fleet did not record the switchover's intent: nothing done");
  owner_->topology_->Update([&](Overlay* o) {
    o->clusters[name_].writes_paused = true;
    return true;
  });
  Event("SWITCHOVER", old->name(),
        "writes paused; draining " + old->name() + " for " + target->name());
  auto unpause = [&](const std::string& why) {
    owner_->topology_->Update([&](Overlay* o) {
      o->clusters[name_].writes_paused = false;
      return true;
    });
    Event("SWITCHOVER_ABORTED", old->name(), why);
    Outcome("abandoned", why);  // coordination hook
    return Unavailable("switchover aborted: " + why);
  };
  // Let statements already on the primary finish (bounded).
  const auto& in_flight = owner_->hooks_.in_flight;
  if (in_flight) {
    for (int i = 0; i < 100 && in_flight(name_, old->name()) > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::string pos;
  if (c.protocol == Protocol::kMysql) {
    if (Status st = onode->Exec("SET GLOBAL read_only=ON"); !st.ok()) return unpause(st.message());
    auto p = onode->Query("SELECT @@gtid_binlog_pos");
    if (!p.ok() || p->empty()) return unpause("cannot read the primary's position");
    pos = (*p)[0][0].value_or("");
    auto w = tnode->Query("SELECT MASTER_GTID_WAIT(" + SqlString(pos) + ", 10)");
    if (!w.ok() || w->empty() || (*w)[0][0].value_or("-1") != "0") {
      (void)onode->Exec("SET GLOBAL read_only=OFF");
      return unpause("target did not reach " + pos + " within 10 s");
    }
  } else {
    for (const char* sql :
         {"ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()",
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
          "backend_type = 'client backend' AND pid <> pg_backend_pid() AND "
          "usename NOT IN (current_user, 'monitor', 'repl')"})
      if (Status st = onode->Exec(sql); !st.ok()) return unpause(st.message());
    auto p = onode->Query("SELECT pg_current_wal_lsn()::text");
    if (!p.ok() || p->empty()) return unpause("cannot read the primary's LSN");
    pos = (*p)[0][0].value_or("");
    uint64_t want = ParseLsn(pos).value_or(0);
    bool reached = false;
    for (int i = 0; i < 100 && !reached; ++i) {
      auto k = tnode->Check();
      reached = k.ok() && k->lsn_replayed >= want;
      if (!reached) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!reached) {
      (void)onode->Exec("ALTER SYSTEM RESET default_transaction_read_only");
      (void)onode->Exec("SELECT pg_reload_conf()");
      return unpause("target did not replay " + pos + " within 10 s");
    }
  }
  auto tc = tnode->Check();
  if (!tc.ok()) return unpause("target: " + tc.status().message());
  if (!Intent("promote", old->name(), target->name(), "switchover"))  // coordination hook
    return unpause("the fleet did not record the promote intent");
  if (Status st = Promote(c, *target, *tc); !st.ok()) return unpause("promote: " + st.message());
  for (const Server& s : c.servers) {
    if (s.name() == target->name() || s.name() == old->name() || s.role != ServerRole::kReplica)
      continue;
    Status r = Repoint(c, s, *target);
    Event("REPOINT", s.name(),
          r.ok() ? "now replicates from " + target->name() : "re-point failed: " + r.message());
  }
  bool fence_old = true;
  if (c.protocol == Protocol::kMysql) {
    Status r = Repoint(c, *old, *target, true);
    fence_old = !r.ok();
    Event("REPOINT", old->name(),
          r.ok() ? "old primary now replicates from " + target->name()
                 : "old primary re-point failed (fenced): " + r.message());
  } else {
    Event("NEEDS_REJOIN", old->name(),
          "PostgreSQL cannot demote a running primary: the old primary stays fenced "
          "(default_transaction_read_only) until an operator rejoins it (pg_rewind + restart)");
  }
  std::string old_name = old->name(), new_name = target->name();
  Publish(c, new_name, old_name, fence_old);
  int64_t pause = MonotonicMs() - start;
  std::string msg =
      fmt::format("switchover {} -> {} done; writes paused for {} ms", old_name, new_name, pause);
  Event("SWITCHOVER_DONE", new_name, msg);
  Outcome("done", msg);  // coordination hook
  return msg;
}

HealthMonitor::HealthMonitor(Topology* topology, MonitorHooks hooks)
    : topology_(topology), hooks_(std::move(hooks)) {}

HealthMonitor::~HealthMonitor() {
  Stop();
}

void HealthMonitor::Start() {
  Runtime cfg = topology_->config();
  for (const Cluster& c : cfg.clusters) {
    clusters_.push_back(std::make_unique<ClusterMonitor>(this, c.name));
    clusters_.back()->Start();
  }
}

void HealthMonitor::Stop() {
  for (auto& c : clusters_) c->Stop();
  clusters_.clear();
}

Result<std::string> HealthMonitor::Switchover(const std::string& cluster,
                                              const std::string& target) {
  for (auto& c : clusters_)
    if (c->name() == cluster) return c->Switchover(target);
  return NotFound("no cluster " + cluster);
}

std::vector<CheckRecord> HealthMonitor::RecentChecks() const {
  std::lock_guard<std::mutex> lock(records_mu_);
  return {records_.begin(), records_.end()};
}

void HealthMonitor::Record(CheckRecord r) {
  std::lock_guard<std::mutex> lock(records_mu_);
  records_.push_back(std::move(r));
  while (records_.size() > kMaxRecords) records_.pop_front();
}

void HealthMonitor::Event(std::string_view kind, std::string_view cluster, std::string_view server,
                          const std::string& message) {
  if (kind == "FAILOVER_REFUSED" || kind == "SWITCHOVER_ABORTED")
    log::Error("{} cluster {} {}: {}", kind, cluster, server, message);
  else
    log::Info("{} cluster {} {}: {}", kind, cluster, server, message);
  if (hooks_.event) hooks_.event(kind, cluster, server, message);
}

}  // namespace sluice::health
