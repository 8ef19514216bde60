// The janitor of the client sessions (PgBouncer's janitor.c): every wait a session makes has
// a bound, and a bound that fires says why. SessionTimer is one session's pending timeout;
// PreAuthQueue is a worker's unauthenticated client connections under their own bound.
#pragma once

#include <event2/event.h>

#include <cstddef>
#include <cstdint>
#include <list>
#include <string_view>

namespace sluice {

class SessionCore;

// Why a session's timer fired. A session waits for one thing at a time, so one timer is
// enough: the login, then a statement on a backend, or the client inside a transaction.
enum class TimeoutReason : uint8_t {
  kNone,
  kClientLogin,        // client_login_timeout_ms: from accept to a proven password
  kQuery,              // query_timeout_ms: a statement (with its state sync) on a backend
  kIdleInTransaction,  // idle_in_transaction_timeout_ms: the client holds an open transaction
  kLoginAnswer,        // a PostgreSQL login's backend did not answer in time (session_login.cc)
};
std::string_view TimeoutReasonName(TimeoutReason r);

// The pre-auth bounds are settings ([sluice] client_preauth_bytes and
// max_unauthenticated_connections, routing/runtime.h): the bytes a client may send before it
// has logged in (the read-ahead bound of its connection until then), and the unauthenticated
// connections each worker keeps, all clusters together. A new one beyond that closes the
// oldest (an idle socket that never logged in), so a flood of sockets costs at most that
// much memory and never keeps a real client out.
//
// One worker's share of max_unauthenticated_connections (TOTAL over WORKERS), at least 1.
inline size_t UnauthenticatedPerWorker(int64_t total, int workers) {
  if (workers < 1) workers = 1;
  int64_t share = (total + workers - 1) / workers;
  return share < 1 ? 1 : static_cast<size_t>(share);
}

class SessionTimer {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    virtual void OnSessionTimeout(TimeoutReason why) = 0;
  };

  SessionTimer(event_base* base, Callbacks* cb);
  ~SessionTimer();
  SessionTimer(const SessionTimer&) = delete;
  SessionTimer& operator=(const SessionTimer&) = delete;

  // Replaces the pending timeout (if any) by WHY in MS milliseconds; MS <= 0: none.
  void Arm(TimeoutReason why, int64_t ms);
  // Cancels the pending timeout when it is WHY.
  void Disarm(TimeoutReason why);
  TimeoutReason pending() const { return pending_; }

 private:
  static void OnFire(evutil_socket_t, short, void* arg);

  event* ev_;
  Callbacks* cb_;
  TimeoutReason pending_ = TimeoutReason::kNone;
};

// A worker's sessions that have not logged in yet, oldest first.
class PreAuthQueue {
 public:
  using Handle = std::list<SessionCore*>::iterator;

  // Adds S as the newest (*h: its place). Returns the oldest session when the queue holds
  // more than BOUND with S: the caller closes that one, which removes it.
  SessionCore* Add(SessionCore* s, Handle* h, size_t bound);
  void Remove(Handle h) { list_.erase(h); }
  Handle end() { return list_.end(); }
  size_t size() const { return list_.size(); }

 private:
  std::list<SessionCore*> list_;
};

}  // namespace sluice
