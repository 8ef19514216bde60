// Causal reads: the replication position a session's read must find on a replica (MariaDB
// GTIDs per domain, or a PostgreSQL LSN), and the statements that check it on the replica.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sluice::routing {

struct CausalGtid {
  uint32_t domain = 0;
  uint32_t server = 0;
  uint64_t seq = 0;
};

// A value type without allocation: up to kMaxDomains GTID domains (a MariaDB position) or
// one LSN (PostgreSQL). Merging keeps, per domain, the furthest sequence number.
class CausalPosition {
 public:
  static constexpr size_t kMaxDomains = 8;

  bool empty() const { return count_ == 0 && lsn_ == 0; }
  void Clear() { count_ = 0, lsn_ = 0; }
  // Merges "D-S-N[,D-S-N...]" (MariaDB's last_gtid, gtid_binlog_pos); false (and nothing
  // merged) when the text is malformed or names more than kMaxDomains domains.
  bool MergeGtids(std::string_view text);
  // False when the position already holds kMaxDomains other domains.
  bool MergeGtid(const CausalGtid& g);
  void MergeLsn(uint64_t lsn) {
    if (lsn > lsn_) lsn_ = lsn;
  }
  void Merge(const CausalPosition& o);
  std::span<const CausalGtid> gtids() const { return {gtids_.data(), count_}; }
  uint64_t lsn() const { return lsn_; }
  // "0-1-42,1-2-7" / "16/B374D848".
  std::string GtidText() const;
  std::string LsnText() const;

 private:
  std::array<CausalGtid, kMaxDomains> gtids_{};
  size_t count_ = 0;
  uint64_t lsn_ = 0;
};

// A PostgreSQL LSN "16/B374D848".
std::optional<uint64_t> ParseLsnText(std::string_view text);

// The value of the system variable `name` in MySQL session-state-change data (the OK
// packet's SESSION_TRACK_SYSTEM_VARIABLES entries); the last one when it changed twice.
std::optional<std::string_view> TrackedSystemVariable(std::string_view state,
                                                      std::string_view name);

// The check a replica answers with one row, one column: "0" when it has applied P (MariaDB
// waits up to wait_ms for it: MASTER_GTID_WAIT), anything else when not.
std::string MariadbCausalCheck(const CausalPosition& p, int wait_ms);
// PostgreSQL: "t" when the standby replayed P (pg_last_wal_replay_lsn()), "f" (or NULL, not
// a standby) otherwise. PostgreSQL has no MASTER_GTID_WAIT: the statement polls on the
// server, every kPostgresWaitStepMs up to wait_ms, in one round trip (generate_series rows
// filtered by a pg_sleep until the position is there; LIMIT 1 ends it at the first).
inline constexpr int kPostgresWaitStepMs = 5;
std::string PostgresCausalCheck(const CausalPosition& p, int wait_ms);
// What a PostgreSQL write's position is read with, on the connection that committed it,
// once its transaction ended: the primary's WAL write position, at or past the commit
// record once the commit returned (synchronous_commit flushes it; docs/architecture.md).
inline constexpr std::string_view kPostgresWritePositionQuery = "SELECT pg_current_wal_lsn()";

// Whether HAVE holds every write of WANT (per GTID domain, and the LSN).
bool Covers(const CausalPosition& have, const CausalPosition& want);

// The replication positions the monitor last read on a cluster's servers, for the workers:
// a causal read on a replica whose applied position already covers the session's target
// needs no check there. One writer (the cluster's monitor thread), any number of readers;
// per server a seqlock over relaxed atomics (no lock, no allocation). Servers are keyed by
// "host:port"; more than kMaxServers are not kept (their reads are checked on the replica).
class PositionBoard {
 public:
  static constexpr size_t kMaxServers = 32;
  // The monitor read POS on HOST:PORT (a replica's applied position, the primary's written
  // one). An empty POS forgets the server (its check failed: the old position says nothing).
  void Publish(std::string_view host, uint16_t port, const CausalPosition& pos);
  // The last position published for HOST:PORT; false when none is (or a write raced the read).
  bool Read(std::string_view host, uint16_t port, CausalPosition* out) const;

 private:
  struct Slot {
    std::atomic<uint64_t> key{0};      // FNV-1a of "host:port"; 0: free
    std::atomic<uint64_t> version{0};  // odd while written
    std::atomic<uint64_t> lsn{0};
    std::atomic<uint32_t> count{0};  // GTID domains below; 0 with lsn 0: unknown
    std::array<std::atomic<uint64_t>, CausalPosition::kMaxDomains> domain_server{};
    std::array<std::atomic<uint64_t>, CausalPosition::kMaxDomains> seq{};
  };
  const Slot* Find(uint64_t key) const;
  std::array<Slot, kMaxServers> slots_;
};

// The furthest position every session of a cluster saw acknowledged (consistency =
// "global"), shared by all workers: relaxed atomics, one compare-exchange loop per
// acknowledged write, plain loads per read. Domains claim slots on first use; a position
// of more domains than slots, or a slot race lost, makes Snapshot() report incomplete, so
// a read goes to the primary rather than risk a stale replica.
class CausalBoard {
 public:
  void Note(const CausalPosition& p);
  // A write whose position is unknown was acknowledged: from now on Snapshot() is
  // incomplete (reads under "global" stay on the primary).
  void NoteUnknown() { overflow_.store(true, std::memory_order_relaxed); }
  // False when the board may miss a write (see above).
  bool Snapshot(CausalPosition* out) const;

 private:
  struct Slot {
    std::atomic<uint64_t> domain{0};  // domain + 1; 0: free
    std::atomic<uint64_t> seq{0};
    std::atomic<uint32_t> server{0};  // of the furthest GTID (MASTER_GTID_WAIT ignores it)
  };
  std::array<Slot, CausalPosition::kMaxDomains> slots_;
  std::atomic<uint64_t> lsn_{0};
  std::atomic<bool> overflow_{false};
};

}  // namespace sluice::routing
