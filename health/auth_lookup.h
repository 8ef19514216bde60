// AuthLookup: passthrough authentication's control-plane side for one cluster (PgBouncer's
// auth_user/auth_query). A worker whose client names a user sluice does not have posts the
// name here (Submit: a lock-free stack and an eventfd, never a lock or a wait); this thread
// answers from its AuthCache or runs auth_query on the primary as auth_user (libmariadb /
// libpq through health/node.h, bounded by the cluster's connect timeout and a 2 s read
// timeout) and calls the request's callback with the stored verifier, which the worker's
// login then checks the client's proof against (docs/operations.md, "Passthrough
// authentication").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>

#include "common/atomic_stack.h"
#include "common/status.h"
#include "health/auth_cache.h"
#include "health/node.h"
#include "routing/runtime.h"

namespace sluice::health {

struct AuthAnswer {
  enum class Kind { kFound, kNotFound, kFailed };
  Kind kind = Kind::kFailed;
  StoredVerifier stored;  // kFound
  std::string error;      // kFailed: why, for the log line
};

// Since start. A Submit refused at once counts as rejected; every other one as a hit (the
// cache, or the same batch, answered) or a miss. failures and not_found are misses that
// failed (server down, lookup refused, auth_max_users: rejected too) or found no user.
struct AuthLookupCounters {
  std::string cluster;
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t failures = 0;
  int64_t not_found = 0;
  int64_t rejected = 0;  // over auth_max_pending or auth_max_users
  int64_t cache_entries = 0;
  int64_t users = 0;  // distinct users found (bounded by auth_max_users)
};

// Runs one statement as the cluster's lookup user (the test seam; the default connects to
// the cluster's primary).
using AuthFetch = std::function<Result<Rows>(const Cluster& c, const std::string& sql)>;

// auth_query (or the protocol's default) with its placeholder ("$1" for PostgreSQL, "?" for
// MariaDB) replaced by USER as a literal no name can break out of (a hex string).
std::string AuthQuerySql(const Cluster& c, const std::string& user);
// The rows auth_query returned, as an answer: no row (or a NULL verifier) is kNotFound;
// MariaDB rows of several host entries must agree on plugin and authentication_string.
AuthAnswer AuthAnswerFromRows(const Cluster& c, const std::string& user, const Rows& rows);

class AuthLookup {
 public:
  // Called on the lookup thread, once per Submit that returned true.
  using Callback = std::function<void(AuthAnswer)>;

  // Reads the cluster named CLUSTER from RUNTIME at each lookup (auth_* may change at run
  // time). FETCH empty: the primary, through a Node of its own.
  AuthLookup(const RuntimeHolder* runtime, std::string cluster, AuthFetch fetch = {});
  ~AuthLookup();
  AuthLookup(const AuthLookup&) = delete;
  AuthLookup& operator=(const AuthLookup&) = delete;

  void Start();
  void Stop();
  // Any thread (a worker's login): queues a lookup of USER that is of no use after
  // DEADLINE_MS (MonotonicMs). False, counted as rejected, when MAX_PENDING are waiting
  // already (the caller's cluster auth_max_pending: a worker reads no snapshot here).
  bool Submit(std::string user, int64_t deadline_ms, int max_pending, Callback cb);
  AuthLookupCounters Counters() const;
  const std::string& cluster() const { return cluster_; }

 private:
  struct Request {
    std::string user;
    int64_t deadline_ms;
    Callback cb;
  };
  using Queue = AtomicStack<Request>;
  void Run();
  void Serve(Queue::Node* fifo);
  AuthAnswer Lookup(const Cluster& c, const std::string& user, int64_t now_ms, bool* cached);

  const RuntimeHolder* runtime_;
  std::string cluster_;
  AuthFetch fetch_;
  int wake_fd_ = -1;
  Queue queue_;
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  // The lookup thread's own.
  AuthCache cache_{10000};
  std::unordered_set<std::string> users_;
  std::atomic<int64_t> hits_{0}, misses_{0}, failures_{0}, not_found_{0}, rejected_{0};
  std::atomic<int64_t> cache_entries_{0}, user_count_{0};
};

}  // namespace sluice::health
