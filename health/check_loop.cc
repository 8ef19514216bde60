// The check loop: every interval, resolve, check every server (the primary first), publish
// states with hysteresis, lag and addresses, then hand the round's facts to Decide().
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/cluster_monitor.h"

namespace sluice::health {

namespace {

// How often a server's host name is looked up again.
constexpr int64_t kResolveEveryMs = 30'000;
// How often the monitor asks whether a worker saw a connection fail
// (MonitorHooks::take_check_request), and how soon after a round's start a round it asks
// for may run.
constexpr int64_t kSuspectPollMs = 25;
constexpr int64_t kMinRoundGapMs = 200;

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool OperatorOffline(ServerState s) {
  return s == ServerState::kOfflineSoft || s == ServerState::kOfflineHard;
}

bool IsNumeric(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// HOST's numeric address, IPv4 preferred (the harness and most servers listen on it).
Result<std::string> ResolveHost(const std::string& host) {
  if (IsNumeric(host)) return host;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0)
    return Unavailable(fmt::format("host name {} does not resolve: {}", host, gai_strerror(rc)));
  std::string v4, v6;
  for (addrinfo* a = res; a; a = a->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {0};
    if (a->ai_family == AF_INET && v4.empty())
      v4 = inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, buf,
                     sizeof buf);
    else if (a->ai_family == AF_INET6 && v6.empty())
      v6 = inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, buf,
                     sizeof buf);
  }
  freeaddrinfo(res);
  if (!v4.empty()) return v4;
  if (!v6.empty()) return v6;
  return Unavailable("host name " + host + " has no IPv4 or IPv6 address");
}

}  // namespace

int CheckTimeoutMs(int failover_window_ms) {
  return std::clamp(failover_window_ms / 2, 100, 1000);
}

void ClusterMonitor::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ClusterMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Cluster ClusterMonitor::Composed() const {
  RuntimePtr rt = owner_->topology_->Current();
  const Cluster* c = rt ? rt->FindCluster(name_) : nullptr;
  return c ? *c : Cluster{};
}

ServerWatch& ClusterMonitor::Watch(const Cluster& c, const Server& s) {
  ServerWatch& w = watch_[s.name()];
  if (!w.node) {
    NodeOptions o{c.protocol,
                  s.address.empty() ? s.host : s.address,
                  s.port,
                  c.monitor_user,
                  c.monitor_password,
                  CheckTimeoutMs(c.failover_window_ms),
                  CheckTimeoutMs(c.failover_window_ms)};
    o.tls = c.backend_tls;
    w.node = owner_->hooks_.node_factory ? owner_->hooks_.node_factory(o) : MakeNode(o);
    w.health = Hysteresis(c.monitor_fail_threshold, c.monitor_recover_threshold);
  }
  return w;
}

Node* ClusterMonitor::Action(const Cluster& c, const std::string& server) {
  ServerWatch& w = watch_[server];
  if (!w.action) {
    const Server* s = nullptr;
    for (const Server& x : c.servers)
      if (x.name() == server) s = &x;
    if (!s) return nullptr;
    NodeOptions o;
    o.protocol = c.protocol;
    o.host = s->address.empty() ? s->host : s->address;
    o.port = s->port;
    o.user = c.admin_user.empty() ? c.monitor_user : c.admin_user;
    o.password = c.admin_user.empty() ? c.monitor_password : c.admin_password;
    o.connect_timeout_ms = 2000;
    o.read_timeout_ms = 30'000;
    o.tls = c.backend_tls;
    w.action = owner_->hooks_.node_factory ? owner_->hooks_.node_factory(o) : MakeNode(o);
  }
  return w.action.get();
}

void ClusterMonitor::RunRound() {
  std::lock_guard<std::mutex> a(action_mu_);
  Round();
}

int64_t ClusterMonitor::PrimaryWindowEndMs() {
  Cluster c = Composed();
  std::lock_guard<std::mutex> a(action_mu_);
  for (const Server& s : c.servers) {
    if (s.role != ServerRole::kPrimary) continue;
    auto it = watch_.find(s.name());
    if (it == watch_.end() || it->second.failures < 1 || it->second.last_ok_ms == 0) return 0;
    return it->second.last_ok_ms + c.failover_window_ms;
  }
  return 0;
}

void ClusterMonitor::Loop() {
  log::SetThreadName("health-" + name_);
  const auto& requested = owner_->hooks_.take_check_request;
  std::unique_lock<std::mutex> lock(wake_mu_);
  bool early = false;  // this round ran early, on a worker's word
  while (!stop_) {
    lock.unlock();
    int64_t started = MonotonicMs();
    if (requested) requested(name_);  // this round checks every server anyway
    RunRound();
    Cluster c = Composed();
    int interval = c.monitor_interval_ms > 0 ? c.monitor_interval_ms : 1000;
    int64_t next = started + interval;
    // A failing primary's window ends before the next round: the verdict's round runs when
    // it ends (the window itself is not shortened: failures >= 2 and its whole length).
    if (int64_t due = PrimaryWindowEndMs(); due > 0 && due < next)
      next = std::max(due, started + kMinRoundGapMs);
    // Between rounds, for causal reads, only the positions (one short query per server).
    int positions = c.consistency != Consistency::kEventual ? c.monitor_position_interval_ms : 0;
    int64_t next_positions = positions > 0 ? MonotonicMs() + positions : next;
    lock.lock();
    // Until the interval is over, or earlier when a worker reports a failed connection: the
    // primary's first failed check (and the write hold it starts) then comes at once, not up
    // to an interval after the kill. One early round per interval: the failover window is
    // still judged on the monitor's own schedule, not on rounds the workers' failures bring.
    bool poll = requested && !early;
    early = false;
    while (!stop_) {
      int64_t now = MonotonicMs();
      if (now >= next) break;
      int64_t until = std::min(next, next_positions);
      if (poll) until = std::min(until, now + kSuspectPollMs);
      if (wake_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(until - now, 0)),
                         [this] { return stop_; }))
        break;
      now = MonotonicMs();
      if (now >= next) break;
      if (positions > 0 && now >= next_positions) {
        lock.unlock();
        PollPositions();
        lock.lock();
        next_positions = MonotonicMs() + positions;
      }
      if (!poll) continue;
      lock.unlock();
      bool asked = MonotonicMs() - started >= kMinRoundGapMs && requested(name_);
      lock.lock();
      if (asked) {
        log::Debug("cluster {}: a worker saw a connection fail; checking now", name_);
        early = true;
        break;
      }
    }
  }
}

// Host names are resolved here, on the monitor's thread, and published as Server::address:
// the workers connect to that and never resolve. A name that does not resolve leaves its
// server SHUNNED (the round below) with the resolver's reason.
void ClusterMonitor::Resolve(const Cluster& c) {
  int64_t now = MonotonicMs();
  bool changed = false;
  for (const Server& s : c.servers) {
    ServerWatch& w = watch_[s.name()];
    if (now < w.next_resolve_ms) continue;
    w.next_resolve_ms = now + kResolveEveryMs;
    auto r = ResolveHost(s.host);
    std::string addr = r.ok() ? *r : "";
    std::string err = r.ok() ? "" : r.status().message();
    if (err != w.resolve_error) {
      if (!err.empty())
        Event("SERVER_UNRESOLVED", s.name(), err + ": SHUNNED, it gets no traffic");
      else if (!w.resolve_error.empty())
        Event("SERVER_RESOLVED", s.name(), "host name resolves to " + addr);
      w.resolve_error = err;
    }
    if (addr != s.address) {
      changed = true;
      w.address = addr;
      // The connections were made to the old address.
      w.node.reset();
      w.action.reset();
    }
  }
  if (!changed) return;
  owner_->topology_->Update([&](Overlay* o) {
    ClusterOverlay& co = o->clusters[name_];
    for (const Server& s : c.servers) co.servers[s.name()].address = watch_[s.name()].address;
    return true;
  });
}

int64_t ClusterMonitor::LagOf(const Cluster& c, const Server& s, const NodeCheck& k,
                              const NodeCheck* primary, bool primary_writing, ServerWatch& w,
                              int64_t now) {
  (void)c;
  if (s.role == ServerRole::kPrimary || !k.replicating) {
    w.behind_since_ms = 0;
    return 0;
  }
  // Position first: a replica that applied what the primary has is not behind, however
  // old its last replayed transaction is (a quiet cluster). With the primary gone, measured
  // against the last position sluice saw on it. Applied, not received: reads see only
  // what was applied (a paused replay keeps receiving).
  const Position& want = primary && primary_writing ? primary->written : primary_position_;
  if (!want.empty() && Behind(k.applied, want) == 0) {
    w.behind_since_ms = 0;
    return 0;
  }
  if (w.behind_since_ms == 0) w.behind_since_ms = now;
  std::optional<int64_t> reported = k.lag_ms;
  if (!reported && primary_writing) reported = k.replay_age_ms;
  if (reported) return std::max<int64_t>(*reported, 0);
  return now - w.behind_since_ms;
}

void ClusterMonitor::Round() {
  Cluster c = Composed();
  if (c.name.empty()) return;
  Resolve(c);
  c = Composed();
  int64_t now = MonotonicMs();
  // Nodes sluice fenced first: one that answers as a writable primary (an old primary that
  // restarted with read_only=OFF, a hung one that resumed) is fenced on first sight, before
  // anything else of the round. Then the primary, so that replicas are compared with a
  // position no newer than theirs.
  std::set<std::string> fenced;
  {
    Overlay ov = owner_->topology_->overlay();
    for (const auto& [server, so] : ov.clusters[name_].servers)
      if (so.fenced) fenced.insert(server);
  }
  std::vector<const Server*> order;
  const Server* primary = nullptr;
  for (const Server& s : c.servers)
    if (s.role == ServerRole::kPrimary && s.state != ServerState::kOfflineHard) primary = &s;
  for (const Server& s : c.servers)
    if (fenced.count(s.name()) && &s != primary) order.push_back(&s);
  if (primary) order.push_back(primary);
  for (const Server& s : c.servers)
    if (&s != primary && !fenced.count(s.name())) order.push_back(&s);

  const NodeCheck* primary_check = nullptr;
  bool primary_writing = false;
  for (const Server* s : order) {
    ServerWatch& w = Watch(c, *s);
    if (w.last_ok_ms == 0) w.last_ok_ms = now;
    CheckRecord rec;
    rec.time_unix_ms = UnixMs();
    rec.cluster = name_;
    rec.server = s->name();
    Result<NodeCheck> r = w.resolve_error.empty() ? w.node->Check() : Unavailable(w.resolve_error);
    if (r.ok() && r->writable && fenced.count(s->name()) && MayOrchestrate("fencing")) {
      FenceNode(c, s->name(), "a node sluice fenced answers as a writable primary (first sight)");
      r = w.node->Check();  // what it reports once fenced
    }
    rec.ok = r.ok();
    if (r.ok()) {
      if (r->writable) w.returning = false;
      w.last = *r;
      w.last_ok_ms = now;
      w.failures = 0;
      rec.latency_us = r->latency_us;
      rec.role_seen = r->writable ? "primary" : r->replicating ? "replica" : "read-only";
      if (s == primary) {
        primary_check = &*w.last;
        primary_writing = r->writable;
        if (r->writable) {
          primary_position_ = r->written;
          primary_position_of_ = s->name();
        }
      }
      w.lag_ms = LagOf(c, *s, *r, primary_check, primary_writing, w, now);
      rec.lag_ms = w.lag_ms;
      // A replica that is not streaming is judged by its lag (the router's max_lag_ms), not
      // shunned: with the primary gone none streams, and a caught-up one keeps serving reads.
      if (!r->replication_error.empty()) rec.error = "replication: " + r->replication_error;
      // The server answers clients and the monitor login lacks a grant: reported (event,
      // log, stats_monitor), never a reason to shun.
      if (r->privilege_error != w.privilege_error && !r->privilege_error.empty())
        Event("MONITOR_PRIVILEGE", s->name(), r->privilege_error);
      w.privilege_error = r->privilege_error;
    } else {
      rec.error = r.status().message();
      w.last.reset();
      w.returning = true;
      ++w.failures;
    }
    w.last_error = rec.error;
    CheckRecord shown = rec;
    if (r.ok() && !r->privilege_error.empty())
      shown.error =
          "privilege: " + r->privilege_error + (rec.error.empty() ? "" : "; " + rec.error);
    owner_->Record(shown);
  }

  // Verdicts with hysteresis; lag as measured; an unresolvable name is shunned outright.
  std::vector<std::pair<std::string, bool>> changes;
  for (const Server& s : c.servers) {
    ServerWatch& w = watch_[s.name()];
    bool good = w.last.has_value() && w.last_error.empty();
    if (w.health.Observe(good)) changes.push_back({s.name(), w.health.healthy()});
    // The primary answering as writable is back at once: its writes were held meanwhile,
    // and resuming them onto a primary still SHUNNED by the hysteresis would fail them
    // ("no usable server") until recover_threshold checks passed.
    if (good && &s == primary && w.last->writable && !w.health.healthy()) {
      w.health = Hysteresis(c.monitor_fail_threshold, c.monitor_recover_threshold);
      changes.push_back({s.name(), true});
    }
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
      ServerState st = w.health.healthy() && w.resolve_error.empty() ? ServerState::kOnline
                                                                     : ServerState::kShunned;
      if (so.state == ServerState::kOfflineSoft) st = ServerState::kOfflineSoft;
      if (so.state != st) so.state = st, changed = true;
      int64_t lag = w.last ? w.lag_ms : so.lag_ms;
      if (so.lag_ms != lag) so.lag_ms = lag, changed = true;
    }
    return changed;
  });

  PublishPositions(c);
  RoundFacts facts = Facts(c, now);
  Verdict v = Decide(facts);
  Act(c, v, facts);
  // Discovery adds servers: the fleet's leader does, the others take its topology.
  if (v.kind == VerdictKind::kHealthy && primary_check && Leads()) Discover(c, primary_check);
}

RoundFacts ClusterMonitor::Facts(const Cluster& c, int64_t now) {
  RoundFacts f;
  f.auto_failover = c.auto_failover;
  Runtime cfg = owner_->topology_->config();
  const Cluster* configured = cfg.FindCluster(name_);
  Overlay ov = owner_->topology_->overlay();
  const ClusterOverlay& co = ov.clusters[name_];
  std::string primary;
  for (const Server& s : c.servers) {
    ServerWatch& w = watch_[s.name()];
    NodeView n;
    n.name = s.name();
    n.role = s.role;
    n.priority = s.priority;
    if (configured)
      for (const Server& cs : configured->servers)
        if (cs.name() == s.name()) n.operator_offline = OperatorOffline(cs.state);
    auto so = co.servers.find(s.name());
    n.fenced = so != co.servers.end() && so->second.fenced;
    n.reachable = w.last.has_value();
    n.returning = w.returning;
    if (n.reachable) n.check = *w.last;
    n.dead = !n.reachable && w.failures >= 2 && now - w.last_ok_ms >= c.failover_window_ms;
    if (s.role == ServerRole::kPrimary) primary = s.name();
    f.nodes.push_back(std::move(n));
  }
  if (primary == primary_position_of_) f.primary_last_position = primary_position_;
  return f;
}

}  // namespace sluice::health
