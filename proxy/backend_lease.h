// BackendLease: how a session gets the backend connection for its next statement, whatever
// the protocol: route (holding while the cluster's writes are paused), take an idle
// connection, reserve a slot to open one, or wait (bounded) for either; the router's
// started/finished accounting, failed servers, the retry budget, and the pool statistics.
// The protocol says how to open a connection and how to word a refusal.
#pragma once

#include <cstdint>
#include <string>

#include "proxy/backend_pool.h"
#include "proxy/router.h"

namespace sluice {

class ClientSession;
class Worker;

// Routes and backend attempts a statement gets before it fails (retries before any byte).
inline constexpr int kMaxBackendAttempts = 3;
inline constexpr int kPoolWaitTimeoutMs = 10000;

enum class LeaseRefusal {
  kTimedOut,   // waited kPoolWaitTimeoutMs for a connection or a slot
  kQueueFull,  // too many sessions wait for this server already
};

// What the client is told, in its protocol's error.
std::string RefusalMessage(LeaseRefusal why, const std::string& server);

class BackendLease {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    // An idle connection of the key asked for, now the session's.
    virtual void OnLeaseConnection(PooledConn* conn) = 0;
    // A slot is reserved for key: the session opens a connection in it (or Release()s it).
    virtual void OnLeaseSlot(const PoolKey& key) = 0;
    virtual void OnLeaseRefused(LeaseRefusal why, const std::string& server) = 0;
  };

  BackendLease(Worker* w, size_t cluster_index, ClientSession* session, Callbacks* cb)
      : worker_(w), cluster_index_(cluster_index), session_(session), cb_(cb) {}
  ~BackendLease() { CancelWait(); }
  BackendLease(const BackendLease&) = delete;
  BackendLease& operator=(const BackendLease&) = delete;

  // Routes req on the current snapshot. While the cluster's writes are paused (hold), the
  // session is held by the worker until its deadline (set at the first hold of the
  // statement) and asked to RetryHeld(); a rejection is recorded in the statistics.
  RouteResult Route(const RouteRequest& req);
  bool holding() const { return hold_deadline_ms_ != 0; }
  void EndHold() { hold_deadline_ms_ = 0; }

  // Asks for a connection to the cluster's server_index under key: idle one, new slot, or a
  // bounded wait; the answer comes through the callbacks (at once or later).
  void Acquire(int server_index, const PoolKey& key);
  bool waiting() const { return wait_ticket_ != 0; }
  void CancelWait();
  int server_index() const { return server_index_; }

  // The router's least-outstanding count: one Finished() per Started(), however the
  // statement ends.
  void Started();
  void Finished();
  // The server failed: this worker avoids it for a while.
  void MarkFailed(const std::string& server);
  // Gives back a slot reserved by OnLeaseSlot that was not used, or a closed connection's.
  void Release(const std::string& server);

  // The retry budget of the statement in flight: true (and counted) when it may route
  // again after a failure before any of its bytes reached the client.
  bool Retry();
  void NewStatement() { attempts_ = 0; }
  // A causal read's position check on a replica ended after us microseconds: found (the
  // read runs there) or not (it routes again, to the primary); checked false: the replica
  // had shown the position before, the read runs there without a check.
  void CountCausalCheck(bool checked, bool found, uint64_t us);
  // A causal read runs on a replica without a check: the monitor's position covered it.
  void CountReadByPosition();

 private:
  Worker* worker_;
  size_t cluster_index_;
  ClientSession* session_;
  Callbacks* cb_;
  int server_index_ = -1;
  bool started_ = false;
  int attempts_ = 0;
  uint64_t wait_ticket_ = 0;
  int64_t hold_deadline_ms_ = 0;
};

}  // namespace sluice
