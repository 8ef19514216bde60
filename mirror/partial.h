// The mirror report's per-worker half: what one worker's shadow sessions recorded since the
// last hand-over, per mirror and digest, bounded by a digest cap with an "other" row.
// Partials merge (worker -> control plane) by adding up; see mirror/report.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/stats.h"
#include "mirror/histogram.h"
#include "mirror/mailbox.h"
#include "mirror/outcome.h"

namespace sluice::mirror {

// Why a session's mirroring was cut as a whole (issue #15).
enum class CutReason { kQueueFull, kShadowDown, kOther };
inline constexpr size_t kCutReasons = 3;
const char* CutReasonName(CutReason r);  // "queue_full", "shadow_down", "other"

// One side of one digest.
struct SideAgg {
  uint64_t executions = 0;
  uint64_t errors = 0;
  uint64_t rows_returned = 0;
  uint64_t rows_affected = 0;
  StatementError last_error;  // the latest error on this side
  LogHistogram latency;       // of the successful executions only (errors: `errors`)

  void Add(const Outcome& o);
  void Merge(const SideAgg& o);  // O is the newer: its last error wins when it has one
};

// Source vs shadow for one digest (or for the "other" row: every digest over the cap).
struct DigestAgg {
  std::string digest_text;
  bool read = false;
  SideAgg source;
  SideAgg shadow;
  uint64_t pairs = 0;              // statements both sides answered
  uint64_t unpaired = 0;           // source only: the session was cut before the shadow answered
  uint64_t new_errors = 0;         // PairFindings::new_error
  uint64_t result_mismatches = 0;  // PairFindings::result_mismatch (reads only)
  uint64_t row_count_diffs = 0;    // PairFindings::row_count_differs
  StatementError last_new_error;   // the shadow's text of the latest new error

  void Add(const OutcomePair& p);
  void Merge(const DigestAgg& o);
};

// Lifetime counters for Prometheus (never reset): statements by side and outcome, and the
// latency per side of the successful ones (as SideAgg) in the buckets every sluice histogram
// uses.
struct SideTotals {
  uint64_t ok = 0;
  uint64_t error = 0;
  LatencyHistogram latency;
  void Add(const Outcome& o);
  void Merge(const SideTotals& o);
};

struct MirrorAgg {
  uint64_t sessions = 0;    // mirrored sessions started
  uint64_t statements = 0;  // pairs added (paired or not)
  int64_t queue_bytes = 0;  // the change of the bytes queued for shadows since the last hand-over
  std::array<uint64_t, kCutReasons> cuts{};
  std::unordered_map<uint64_t, DigestAgg> digests;
  DigestAgg other;  // digests beyond the cap, summed
  uint64_t other_statements = 0;
  SideTotals source_totals, shadow_totals;

  // Adds P under its digest, or to `other` when the digest is new and MAX_DIGESTS are kept.
  void Add(const OutcomePair& p, size_t max_digests);
};

class MirrorPartial {
 public:
  explicit MirrorPartial(size_t max_digests = 1000) : max_digests_(max_digests) {}
  void SessionStarted(std::string_view mirror);
  void SessionCut(std::string_view mirror, CutReason reason);
  // The bytes queued for MIRROR's shadow sessions grew (or, negative, shrank) by DELTA.
  void QueueBytes(std::string_view mirror, int64_t delta);
  void Add(const OutcomePair& p);  // under p.source.mirror
  bool empty() const { return mirrors_.empty(); }
  size_t max_digests() const { return max_digests_; }
  std::map<std::string, MirrorAgg, std::less<>>& mirrors() { return mirrors_; }
  const std::map<std::string, MirrorAgg, std::less<>>& mirrors() const { return mirrors_; }

 private:
  MirrorAgg& Of(std::string_view mirror);
  size_t max_digests_;
  std::map<std::string, MirrorAgg, std::less<>> mirrors_;
};

using PartialMailbox = Mailbox<MirrorPartial>;

// A worker's end: records into its own partial and hands it over at most once per Flush
// (called once a second from the worker's timer, as the stats are). Never blocks.
class MirrorFeed {
 public:
  MirrorFeed(PartialMailbox* mailbox, size_t max_digests)
      : mailbox_(mailbox),
        max_digests_(max_digests),
        partial_(std::make_unique<MirrorPartial>(max_digests)) {}
  MirrorPartial* partial() { return partial_.get(); }
  // Offers the partial; on success starts a new one. False when the slot was still full.
  bool Flush();

 private:
  PartialMailbox* mailbox_;
  size_t max_digests_;
  std::unique_ptr<MirrorPartial> partial_;
};

}  // namespace sluice::mirror
