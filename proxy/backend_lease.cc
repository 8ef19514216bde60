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

RouteResult BackendLease::Route(const RouteRequest& req) {
  const RuntimePtr& rt = worker_->runtime().Current();
  const Cluster& cluster = rt->clusters[cluster_index_];
  RouteResult route = worker_->router().Route(*rt, cluster_index_, req);
  if (route.hold) {
    // A failover or switchover is moving the primary: wait (bounded) for the snapshot that
    // ends it; the worker asks the session to RetryHeld().
    if (hold_deadline_ms_ == 0) hold_deadline_ms_ = MonotonicMs() + cluster.write_hold_timeout_ms;
    worker_->Hold(session_, hold_deadline_ms_);
    return route;
  }
  hold_deadline_ms_ = 0;
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
  bool queued = pools.Wait(
      key, limit, kPoolWaitTimeoutMs,
      [this, key](bool ok, PooledConn* c) {
        wait_ticket_ = 0;
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
