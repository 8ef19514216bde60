// BackendPools: one worker's backend connections. Idle connections are kept per
// (server, user, variant); the number open per server is bounded by the worker's share of
// the server's max_connections, and sessions that find no free slot wait in a bounded FIFO.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"

struct event;

namespace sluice {

class Worker;

// What a backend connection can be reused for. variant is protocol-specific: the MySQL
// capability bits the connection was opened with, or a hash of the PostgreSQL database.
struct PoolKey {
  std::string server;  // "host:port"
  std::string user;
  uint64_t variant = 0;
  bool operator==(const PoolKey&) const = default;
};

struct PoolKeyHash {
  size_t operator()(const PoolKey& k) const {
    return std::hash<std::string>()(k.server) * 31 + std::hash<std::string>()(k.user) * 7 +
           static_cast<size_t>(k.variant);
  }
};

// Base of every protocol's backend connection, as the pool sees it.
class PooledConn {
 public:
  virtual ~PooledConn() = default;
  // Closes the socket and deletes this object; the pool has already forgotten it.
  virtual void Destroy() = 0;
  const PoolKey& key() const { return key_; }

 protected:
  explicit PooledConn(PoolKey key) : key_(std::move(key)) {}

 private:
  friend class BackendPools;
  PoolKey key_;
  int64_t idle_since_ms_ = 0;
  bool idle_ = false;
};

class BackendPools {
 public:
  // Called when a slot for the server frees up (or the wait fails). `conn` is an idle
  // connection with the waiter's key, or nullptr: the waiter may open a new one (the slot is
  // reserved for it). ok=false: timed out or the pool is closing.
  using WaitCallback = std::function<void(bool ok, PooledConn* conn)>;

  explicit BackendPools(Worker* worker);
  ~BackendPools();

  // An idle connection for key, now owned by the caller, or nullptr.
  PooledConn* TakeIdle(const PoolKey& key);
  // Reserves a slot to open a new connection to server if under limit. When the server is at
  // its limit but holds idle connections of another key, one of them is closed to make room.
  bool TryReserve(const std::string& server, int limit);
  // Gives an owned, healthy connection back for reuse (or to the first waiter).
  void PutIdle(PooledConn* conn);
  // A connection is gone (closed by the server, failed to log in): drop it from the idle
  // list if it is there and free its slot. The caller destroys it.
  void Forget(PooledConn* conn);
  // A connection (open or failed to open) is gone: frees its slot.
  void Release(const std::string& server);
  // Queues a waiter for server; false when the queue is full (caller answers "too busy").
  // Returns a ticket that Cancel() takes.
  bool Wait(const PoolKey& key, int limit, int timeout_ms, WaitCallback cb, uint64_t* ticket);
  void Cancel(uint64_t ticket);
  void CloseAll();
  // Closes every idle connection to server (it went OFFLINE_HARD or away).
  void CloseIdleTo(const std::string& server);

  int open_count(const std::string& server) const;
  // Sessions waiting for server now, and since when the first of them waits (MonotonicUs;
  // 0: none waits).
  size_t waiting_count(const std::string& server) const;
  int64_t first_wait_since_us(const std::string& server) const;
  size_t idle_count() const;
  size_t idle_count(const std::string& server) const;

 private:
  struct Waiter {
    uint64_t ticket;
    PoolKey key;
    int limit;
    int64_t deadline_ms;
    int64_t since_us;
    WaitCallback cb;
  };
  struct ServerSlots {
    int open = 0;
    std::deque<Waiter> waiters;
  };
  bool CloseOneIdleOf(const std::string& server);
  void ServeWaiters(const std::string& server);
  static void OnTimer(int, short, void* arg);
  void ExpireWaiters();

  static constexpr size_t kMaxWaitersPerServer = 10000;
  Worker* worker_;
  // Per key, oldest first: taken from the back (warmest), closed from the front. A vector,
  // not a list: a connection given back costs no node allocation once its key was seen.
  std::unordered_map<PoolKey, std::vector<PooledConn*>, PoolKeyHash> idle_;
  std::unordered_map<std::string, ServerSlots> servers_;
  ::event* timer_ = nullptr;
  uint64_t next_ticket_ = 1;
  size_t idle_total_ = 0;
};

}  // namespace sluice
