// Statistics: each worker counts into plain, thread-local structures (no atomics, no locks on
// the client path) and once a second hands the delta over through a one-slot lock-free
// mailbox; the control plane (admin, metrics) takes the deltas and sums them.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice {

// Latency buckets (upper bounds, microseconds) shared by every histogram sluice exports.
inline constexpr std::array<uint64_t, 12> kLatencyBucketsUs = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 500000, 1000000};

struct LatencyHistogram {
  std::array<uint64_t, kLatencyBucketsUs.size() + 1> buckets{};  // last: +Inf
  uint64_t count = 0;
  uint64_t sum_us = 0;
  void Add(uint64_t us);
  void Merge(const LatencyHistogram& o);
};

struct ServerStats {
  uint64_t queries = 0;
  uint64_t errors = 0;          // statements answered with an error by this server
  uint64_t connect_errors = 0;  // failed connects / logins
  uint64_t bytes_to_server = 0;
  uint64_t bytes_from_server = 0;
  LatencyHistogram latency;
  // Waits for a connection or a slot of this server's pool (at its max_connections) that
  // ended, served or timed out: their time (PgBouncer's total_wait_time / avg_wait_time).
  LatencyHistogram pool_wait;
  uint64_t pool_wait_max_us = 0;  // the longest of them
  // Gauges, absolute values at hand-over time (not deltas).
  int64_t conns_used = 0;
  int64_t conns_free = 0;
  int64_t clients_waiting = 0;  // sessions waiting in the pool now (PgBouncer's cl_waiting)
  int64_t oldest_wait_us = 0;   // how long the first of them has waited (PgBouncer's maxwait)
  // Adds counters and replaces the gauges (one worker's newer hand-over); across workers
  // AddWorkerStats sums them.
  void Merge(const ServerStats& o);
};

struct DigestStats {
  std::string cluster;
  std::string digest_text;
  std::string schema;
  std::string user;
  int hostgroup = -1;
  uint64_t count = 0;
  uint64_t sum_us = 0;
  uint64_t min_us = UINT64_MAX;
  uint64_t max_us = 0;
  uint64_t rows_sent = 0;
  uint64_t rows_affected = 0;
  uint64_t errors = 0;
  int64_t first_seen_unix = 0;
  int64_t last_seen_unix = 0;
  void Merge(const DigestStats& o);
};

struct CommandStats {
  uint64_t count = 0;
  LatencyHistogram latency;
};

struct UserStats {
  uint64_t statements = 0;
  uint64_t errors = 0;
  int64_t client_connections = 0;  // gauge
};

// A statement a query rule rejected, for the control plane's event log.
// Causal reads per cluster (Cluster::consistency; read_your_writes_ms counts as well).
struct ConsistencyStats {
  uint64_t reads_replica = 0;       // reads that ran on a replica
  uint64_t reads_kept_primary = 0;  // reads the split would give a replica, run on the primary
  uint64_t waits = 0;               // position checks (waits) on a replica before a read
  uint64_t wait_timeouts = 0;       // ... that found the position missing: read on the primary
  uint64_t wait_us = 0;             // their total time
  // Reads on a replica with no check at all: the monitor's last read of its position
  // already covered what the read needs (counted in reads_replica too).
  uint64_t reads_by_position = 0;
  void Add(const ConsistencyStats& o) {
    reads_by_position += o.reads_by_position;
    reads_replica += o.reads_replica;
    reads_kept_primary += o.reads_kept_primary;
    waits += o.waits;
    wait_timeouts += o.wait_timeouts;
    wait_us += o.wait_us;
  }
};

struct RejectedStatement {
  std::string cluster;
  std::string user;
  std::string message;    // the rule's error message
  std::string statement;  // the text, cut at kRejectedTextMax bytes
};
inline constexpr size_t kRejectedTextMax = 200;
inline constexpr size_t kRejectedSamplesMax = 32;  // per hand-over; the rest are counted

// Hashes std::string keys and std::string_view lookups alike, so that a worker counting a
// statement finds its row without building a std::string (C++20 heterogeneous lookup).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// stats_query_digest keeps at most this many rows (digest x user x schema x cluster), as
// pg_stat_statements.max bounds pg_stat_statements: a statement of a shape beyond them is
// counted in its cluster's "other" row (kOtherDigestText). A worker's delta between two
// hand-overs is bounded the same way, so a flood of distinct statements costs fixed memory.
constexpr size_t kQueryDigestsMax = 10000;
constexpr std::string_view kOtherDigestText = "(other: statement shapes beyond the digest cap)";
// The key of CLUSTER's "other" row.
uint64_t OtherDigestKey(std::string_view cluster);
// Adds V (counted under KEY) to DIGESTS, or to its cluster's "other" row when KEY is new and
// DIGESTS holds kQueryDigestsMax rows.
void MergeDigest(std::unordered_map<uint64_t, DigestStats>* digests, uint64_t key,
                 const DigestStats& v);

// Everything one worker counted since its last hand-over. Keys: cluster name + "/" + server
// name for servers; digest hash (with user/schema folded in) for digests.
struct StatsDelta {
  StringMap<ServerStats> servers;
  std::unordered_map<uint64_t, DigestStats> digests;
  std::map<std::string, CommandStats, std::less<>> commands;  // by first keyword: SELECT, …
  StringMap<UserStats> users;                                 // by UserStatsKey: "cluster/user"
  StringMap<ConsistencyStats> consistency;                    // by cluster name
  uint64_t client_connections_accepted = 0;
  uint64_t client_connections_refused = 0;  // over a limit, or failed login
  uint64_t protocol_errors = 0;             // malformed client bytes, both protocols
  uint64_t protocol_errors_mysql = 0;       // … of MySQL clients
  uint64_t protocol_errors_postgresql = 0;  // … of PostgreSQL clients
  uint64_t client_login_timeouts = 0;       // closed by client_login_timeout_ms
  uint64_t preauth_evictions = 0;           // unauthenticated, closed for a newer connection
  uint64_t query_timeouts = 0;              // statements failed by query_timeout_ms
  uint64_t idle_transaction_timeouts = 0;   // closed by idle_in_transaction_timeout_ms
  uint64_t pool_waits = 0;                  // statements that waited for a backend slot
  uint64_t pool_wait_timeouts = 0;
  uint64_t retries = 0;  // statements moved to another server before any byte
  // Statements bound for the primary held after a connect to it failed (refused, timed out,
  // reset before any byte of the statement), before the monitor's verdict; and those of
  // them that failed when the hold's bound passed (proxy/backend_lease.h).
  uint64_t connect_holds = 0;
  uint64_t connect_hold_timeouts = 0;
  int64_t client_connections = 0;  // gauge
  uint64_t rejected_statements = 0;
  // Sessions pinned to their backend connection in transaction pooling, by
  // "<cluster>/<reason>" (PostgreSQL: advisory_lock, set_role, …; proxy/pgsql/settings.h).
  std::map<std::string, uint64_t, std::less<>> session_pins;
  std::vector<RejectedStatement> rejected;  // a bounded sample, see kRejectedSamplesMax

  void Merge(StatsDelta&& o);
  bool empty() const;
};

// The key of StatsDelta::users: "cluster/user".
std::string UserStatsKey(std::string_view cluster, std::string_view user);

// One finished statement, as a session reports it.
struct StatementRecord {
  std::string_view cluster;
  std::string_view server;  // "host:port"
  std::string_view user;
  std::string_view schema;
  std::string_view command;      // first keyword (SELECT, …) or protocol command name
  std::string_view digest_text;  // empty: not a statement with text
  uint64_t digest_hash = 0;
  int hostgroup = -1;
  uint64_t latency_us = 0;
  uint64_t rows_sent = 0;
  uint64_t rows_affected = 0;
  bool error = false;
};

// Counts a rejected statement and keeps it as a sample while there is room.
void RecordRejection(StatsDelta* d, std::string_view cluster, std::string_view user,
                     std::string_view message, std::string_view statement);

// Adds one statement to a worker's delta (per server, command, user and digest).
void RecordStatement(StatsDelta* d, const StatementRecord& r);

// One slot from a worker to the control plane. The worker Offer()s its delta (if the slot is
// still full it keeps counting into its own and offers later); the reader Take()s it.
class StatsMailbox {
 public:
  ~StatsMailbox() { delete slot_.exchange(nullptr); }
  // True when the slot was empty and now holds d; else d stays with the caller.
  bool Offer(std::unique_ptr<StatsDelta>& d) {
    StatsDelta* expected = nullptr;
    if (slot_.compare_exchange_strong(expected, d.get(), std::memory_order_acq_rel)) {
      d.release();
      return true;
    }
    return false;
  }
  std::unique_ptr<StatsDelta> Take() {
    return std::unique_ptr<StatsDelta>(slot_.exchange(nullptr, std::memory_order_acq_rel));
  }

 private:
  std::atomic<StatsDelta*> slot_{nullptr};
};

}  // namespace sluice
