// Worker: one thread, one libevent loop, its own SO_REUSEPORT listener per cluster, its own
// client sessions and backend pools. Nothing on the client path is shared between workers
// except the runtime snapshot (read through RuntimeCache) and relaxed atomic counters.
#pragma once

#include <event2/event.h>
#include <event2/listener.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/log_every.h"
#include "common/stats.h"
#include "common/status.h"
#include "mirror/partial.h"
#include "proxy/block_pool.h"
#include "proxy/janitor.h"
#include "proxy/limits.h"
#include "proxy/router.h"
#include "proxy/worker_inbox.h"
#include "routing/runtime.h"

namespace sluice {

class ClientSession;
class BackendPools;
class Dialer;
struct ProxyShared;
class ShadowWaiters;  // proxy/shadow_session.h
namespace mysqlproxy {
class MysqlWorkerState;
}
namespace pgproxy {
class CancelKeys;
class PgLoginParams;
}  // namespace pgproxy

class Worker {
 public:
  Worker(int index, ProxyShared* shared);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds this worker's listeners (called on the main thread so that a bind error is
  // reported before any thread starts).
  Status Listen(const Runtime& rt);
  void Start();
  // Called on the worker thread when its loop has ended (drain done or stop).
  void SetOnExit(std::function<void()> f) { on_exit_ = std::move(f); }
  // Thread-safe (through an eventfd, so libevent runs without locks): asks the loop to stop
  // accepting and to close sessions as they go idle.
  void RequestDrain();
  // Thread-safe, likewise: ends the loop now (after the drain timeout).
  void RequestStop();
  void Join();

  int index() const { return index_; }
  event_base* base() const { return base_; }
  ProxyShared* shared() const { return shared_; }
  RuntimeCache& runtime() { return runtime_; }
  // Server::name() ("host:port", the pool key's) of the current snapshot's server, built
  // once per snapshot rather than per statement.
  const std::string& ServerName(size_t cluster_index, size_t server_index);
  BackendPools& pools() { return *pools_; }
  Router& router() { return router_; }
  // How backend connections are opened (TCP; unit tests give an in-memory one).
  Dialer* dialer() const { return dialer_; }
  void set_dialer(Dialer* d) { dialer_ = d; }
  // This worker's counters since the last hand-over; only this worker's thread touches it.
  StatsDelta& stats() { return *stats_; }
  // Where the control plane takes this worker's counters from (any thread).
  StatsMailbox& stats_mailbox() { return mailbox_; }
  bool draining() const { return draining_; }
  // The mirror report's feed: this worker's shadow sessions record into it (no lock); once a
  // second it is offered through mirror_mailbox() to the control plane's MirrorReport.
  mirror::MirrorFeed& mirror_feed() { return mirror_feed_; }
  mirror::PartialMailbox& mirror_mailbox() { return mirror_mailbox_; }
  // A number in [0, 1) from this worker's own generator (the mirror's per-session sample).
  double NextUniform();
  // This worker's shadow sessions waiting for their turn in a mirror's write order (made on
  // first use).
  ShadowWaiters& shadow_waiters();

  // Users that completed caching_sha2_password full authentication on this worker.
  std::unordered_set<std::string>& sha2_cache() { return sha2_cache_; }
  // What this worker's MySQL sessions share (proxy/mysql/worker_state.h).
  mysqlproxy::MysqlWorkerState& mysql_state() { return *mysql_state_; }
  // The cancel keys of this worker's PostgreSQL clients (proxy/pgsql/cancel.h).
  pgproxy::CancelKeys& pg_cancel_keys() { return *pg_cancel_keys_; }
  // What PostgreSQL backend logins reported, per cluster, database and user.
  pgproxy::PgLoginParams& pg_login_params() { return *pg_login_params_; }

  // The blocks this worker's sessions borrow for a statement in flight (proxy/block_pool.h).
  BlockPool& blocks() { return blocks_; }

  // This worker's sessions that have not logged in yet (proxy/janitor.h).
  PreAuthQueue& preauth() { return preauth_; }

  // Sessions register themselves so that drain and shutdown can reach them.
  void AddSession(ClientSession* s);
  void RemoveSession(ClientSession* s);
  // Sessions whose statement waits for the writer (writes paused, or the primary refused a
  // connection); each is retried on the next snapshot, at retry_at_ms when set (a refused
  // connect is tried again), and failed at its deadline. Driven by the housekeeping tick.
  void Hold(ClientSession* s, int64_t deadline_ms, int64_t retry_at_ms = 0) {
    held_[s] = HeldUntil{deadline_ms, retry_at_ms};
  }
  void Unhold(ClientSession* s) { held_.erase(s); }

  // Thread-safe, lock-free (worker_inbox.h): runs R on this worker's thread soon.
  void Post(WorkerInbox::Request r);
  // On this worker's thread: ends (query_only: cancels the statement of) the session with
  // connection id ID if this worker owns it (ClientSession::Kill); false when it does not.
  bool KillLocal(uint32_t id, bool query_only);

  // A session whose client just proved its password takes one of USER's connections
  // (User::max_connections, counted across all workers) into *slot, which also counts it in
  // this worker's stats_users.client_connections. False when USER holds LIMIT already
  // (*current: how many); the refusal is counted and the session answers with its
  // protocol's error (MySQL 1226, PostgreSQL 53300) and closes.
  bool AdmitUser(std::string_view cluster, const std::string& user, int64_t limit, UserSlot* slot,
                 int64_t* current);

  // How long a listener rests after accept() failed for want of file descriptors.
  static constexpr int kAcceptBackoffMs = 250;

 private:
  struct ListenerCtx {
    Worker* worker;
    size_t cluster_index;
    evconnlistener* listener = nullptr;
    event* resume = nullptr;  // re-enables the listener after an accept() back-off
  };
  static void OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* arg);
  static void OnAcceptError(evconnlistener*, void* arg);
  static void OnAcceptResume(evutil_socket_t, short, void* arg);
  static void OnWake(evutil_socket_t fd, short, void* arg);
  void Wake(int request);
  static void OnHousekeeping(evutil_socket_t, short, void* arg);
  void HandOverStats();
  void ApplySnapshotChange();
  void RetryHeld(bool snapshot_changed);
  void Run();
  void BeginDrain();
  void MaybeFinishDrain();

  int index_;
  ProxyShared* shared_;
  // First, so that it goes last: sessions and connections give their blocks back to it.
  BlockPool blocks_;
  event_base* base_ = nullptr;
  // Requests from other threads: kDrain/kStop in request_, then a write to wake_fd_.
  enum Request { kNone = 0, kDrain = 1, kStop = 2 };
  std::atomic<int> request_{kNone};
  int wake_fd_ = -1;
  event* wake_ev_ = nullptr;
  event* housekeeping_ev_ = nullptr;
  int housekeeping_ticks_ = 0;
  uint64_t seen_version_ = 0;
  RuntimePtr previous_;  // the snapshot ApplySnapshotChange() last compared against
  std::vector<std::unique_ptr<ListenerCtx>> listeners_;
  std::unordered_set<ClientSession*> sessions_;
  PreAuthQueue preauth_;
  std::unordered_set<std::string> sha2_cache_;
  // Logged-in sessions per user on this worker (the stats_users gauge); entries stay, so a
  // user whose last session closed reports 0. UserSlots point at the values.
  StringMap<int64_t> user_sessions_;
  LogEvery accept_error_log_{10000};
  struct HeldUntil {
    int64_t deadline_ms = 0;
    int64_t retry_at_ms = 0;  // 0: on a new snapshot only
  };
  std::unordered_map<ClientSession*, HeldUntil> held_;
  // Before pools_: the pooled MySQL connections unregister from it when the pools close.
  std::unique_ptr<mysqlproxy::MysqlWorkerState> mysql_state_;
  std::unique_ptr<pgproxy::CancelKeys> pg_cancel_keys_;
  std::unique_ptr<pgproxy::PgLoginParams> pg_login_params_;
  std::unique_ptr<BackendPools> pools_;
  RuntimeCache runtime_;
  RuntimePtr names_of_;  // the snapshot server_names_ is of (held: its address is not reused)
  std::vector<std::vector<std::string>> server_names_;
  Router router_;
  Dialer* dialer_;
  std::unique_ptr<StatsDelta> stats_ = std::make_unique<StatsDelta>();
  StatsMailbox mailbox_;
  mirror::PartialMailbox mirror_mailbox_;
  mirror::MirrorFeed mirror_feed_{&mirror_mailbox_, 1000};
  std::unique_ptr<ShadowWaiters> shadow_waiters_;
  uint64_t rng_state_;
  std::thread thread_;
  std::function<void()> on_exit_;
  bool draining_ = false;
  WorkerInbox inbox_;
};

}  // namespace sluice
