#include "proxy/backend_lease.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/stats.h"
#include "proxy/shared.h"
#include "proxy/worker.h"

namespace sluice {

std::string RefusalMessage(LeaseRefusal why, const std::string& server) {
  return why == LeaseRefusal::kTimedOut
             ? fmt::format("sluice: timed out waiting for a connection to {}", server)
             : fmt::format("sluice: too many sessions waiting for a connection to {}", server);
}

int64_t ConnectHoldMs(const Cluster& c) {
  if (c.write_hold_timeout_ms <= 0) return 0;
  return int64_t{c.failover_window_ms} + c.monitor_interval_ms + kConnectHoldMarginMs;
}

RouteResult BackendLease::Route(const RouteRequest& req) {
  const RuntimePtr& rt = worker_->runtime().Current();
  const Cluster& cluster = rt->clusters[cluster_index_];
  RouteResult route = worker_->router().Route(*rt, cluster_index_, req);
  if (route.hold) {
    // A failover or switchover is moving the primary: wait (bounded) for the snapshot that
    // ends it; the worker asks the session to RetryHeld(). A statement held since a refused
    // connect keeps its start: its bound becomes write_hold_timeout_ms from then, if longer.
    int64_t now = MonotonicMs();
    if (hold_started_ms_ == 0) hold_started_ms_ = now;
    int64_t bound = hold_started_ms_ + cluster.write_hold_timeout_ms;
    if (hold_deadline_ms_ == 0 || (connect_hold_ && bound > hold_deadline_ms_))
      hold_deadline_ms_ = bound;
    connect_hold_ = false;
    connect_failure_.clear();
    worker_->Hold(session_, hold_deadline_ms_);
    return route;
  }
  // A statement held after a refused connect stays held until it gets a connection
  // (EndHold) or its bound passes; otherwise the hold ends with the pause.
  if (!connect_hold_) EndHold();
  if (route.kept_for_consistency || (route.read_on_replica && !route.causal_check)) {
    ConsistencyStats& cs = worker_->stats().consistency[cluster.name];
    cs.reads_kept_primary += route.kept_for_consistency;
    cs.reads_replica += !route.causal_check && route.read_on_replica;
  }
  if (route.reject)
    RecordRejection(&worker_->stats(), cluster.name, req.user, route.message, req.text);
  return route;
}

void BackendLease::CountCausalCheck(bool checked, bool found, uint64_t us) {
  const RuntimePtr& rt = worker_->runtime().Current();
  ConsistencyStats& cs = worker_->stats().consistency[rt->clusters[cluster_index_].name];
  cs.waits += checked;
  cs.wait_us += us;
  if (found)
    cs.reads_replica++;
  else
    cs.wait_timeouts++;
}

void BackendLease::CountReadByPosition() {
  const RuntimePtr& rt = worker_->runtime().Current();
  ConsistencyStats& cs = worker_->stats().consistency[rt->clusters[cluster_index_].name];
  cs.reads_replica++;
  cs.reads_by_position++;
}

void BackendLease::Acquire(int server_index, const PoolKey& key) {
  const RuntimePtr& rt = worker_->runtime().Current();
  const Server& srv = rt->clusters[cluster_index_].servers[server_index];
  server_index_ = server_index;
  BackendPools& pools = worker_->pools();
  if (PooledConn* c = pools.TakeIdle(key)) {
    cb_->OnLeaseConnection(c);
    return;
  }
  int limit = std::max(1, srv.max_connections / std::max(1, worker_->shared()->worker_count));
  if (pools.TryReserve(key.server, limit)) {
    cb_->OnLeaseSlot(key);
    return;
  }
  // At the limit: wait (bounded in count and time) for a connection or a free slot.
  worker_->stats().pool_waits++;
  int64_t since_us = MonotonicUs();
  bool queued = pools.Wait(
      key, limit, kPoolWaitTimeoutMs,
      [this, key, since_us](bool ok, PooledConn* c) {
        wait_ticket_ = 0;
        CountPoolWait(key.server, static_cast<uint64_t>(MonotonicUs() - since_us));
        if (!ok) {
          worker_->stats().pool_wait_timeouts++;
          cb_->OnLeaseRefused(LeaseRefusal::kTimedOut, key.server);
        } else if (c) {
          cb_->OnLeaseConnection(c);
        } else {
          cb_->OnLeaseSlot(key);  // a slot was reserved for us
        }
      },
      &wait_ticket_);
  if (!queued) cb_->OnLeaseRefused(LeaseRefusal::kQueueFull, key.server);
}

void BackendLease::CountPoolWait(const std::string& server, uint64_t us) {
  const RuntimePtr& rt = worker_->runtime().Current();
  ServerStats& st = worker_->stats().servers[rt->clusters[cluster_index_].name + "/" + server];
  st.pool_wait.Add(us);
  st.pool_wait_max_us = std::max(st.pool_wait_max_us, us);
}

void BackendLease::CancelWait() {
  if (wait_ticket_) worker_->pools().Cancel(wait_ticket_);
  wait_ticket_ = 0;
}

void BackendLease::Started() {
  if (started_) return;
  started_ = true;
  worker_->router().Started(cluster_index_, server_index_);
}

void BackendLease::Finished() {
  if (!started_) return;
  started_ = false;
  worker_->router().Finished(cluster_index_, server_index_);
}

void BackendLease::MarkFailed(const std::string& server) {
  worker_->router().MarkFailed(cluster_index_, server);
  // The monitor checks now rather than at the end of its interval (health::MonitorHooks::
  // take_check_request): one relaxed store, nothing waits.
  worker_->shared()->cluster_counters[cluster_index_]->check_requested.store(
      true, std::memory_order_relaxed);
}

void BackendLease::EndHold() {
  hold_deadline_ms_ = 0;
  hold_started_ms_ = 0;
  connect_hold_ = false;
  connect_retry_ms_ = 0;
  connect_failure_.clear();
}

bool BackendLease::HoldAfterConnectFailure(const std::string& server, const std::string& why) {
  const RuntimePtr& rt = worker_->runtime().Current();
  const Cluster& c = rt->clusters[cluster_index_];
  const Server* primary = nullptr;
  for (const Server& s : c.servers)
    if (s.role == ServerRole::kPrimary && s.hostgroup == c.writer_hostgroup && s.name() == server)
      primary = &s;
  int64_t bound = ConnectHoldMs(c);
  if (!primary || bound <= 0) return false;
  int64_t now = MonotonicMs();
  if (!holding()) {
    hold_started_ms_ = now;
    hold_deadline_ms_ = now + bound;
    connect_hold_ = true;
    connect_retry_ms_ = kConnectRetryFirstMs;
    worker_->stats().connect_holds++;
  }
  connect_failure_ = fmt::format("{}: {}", server, why);
  if (now >= hold_deadline_ms_) {
    if (connect_hold_) worker_->stats().connect_hold_timeouts++;
    EndHold();
    return false;
  }
  if (connect_retry_ms_ == 0) connect_retry_ms_ = kConnectRetryFirstMs;
  int64_t retry_at = std::min(hold_deadline_ms_, now + connect_retry_ms_);
  connect_retry_ms_ = std::min(connect_retry_ms_ * 2, kConnectRetryMaxMs);
  worker_->Hold(session_, hold_deadline_ms_, retry_at);
  return true;
}

std::string BackendLease::HoldTimedOut() {
  std::string msg =
      connect_failure_.empty()
          ? std::string(
                "sluice: timed out waiting for the cluster's new primary (failover or "
                "switchover): writes held longer than write_hold_timeout_ms")
          : fmt::format(
                "sluice: timed out waiting for the cluster's new primary: the primary refused "
                "the connection ({}) and no new primary came within {} ms",
                connect_failure_, MonotonicMs() - hold_started_ms_);
  if (connect_hold_) worker_->stats().connect_hold_timeouts++;
  EndHold();
  return msg;
}

void BackendLease::Release(const std::string& server) {
  worker_->pools().Release(server);
}

bool BackendLease::Retry() {
  if (++attempts_ >= kMaxBackendAttempts) return false;
  worker_->stats().retries++;
  return true;
}

}  // namespace sluice
