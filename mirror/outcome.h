// Outcome: one statement's result on one side of a mirror (source or shadow), as the shadow
// session records it, and the pairing of both sides of one statement by sequence number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::mirror {

enum class Side { kSource, kShadow };
const char* SideName(Side s);  // "source", "shadow"

struct StatementError {
  uint32_t code = 0;     // MySQL error number; 0 for PostgreSQL
  std::string sqlstate;  // five characters, e.g. "42S22" / "42703"
  std::string text;
  bool operator==(const StatementError&) const = default;
};

struct Outcome {
  std::string mirror;        // the [[mirror]] name
  uint64_t digest_hash = 0;  // routing/digest.h
  std::string digest_text;
  Side side = Side::kSource;
  uint64_t session_id = 0;  // the mirrored client session
  uint64_t seq = 0;         // the statement's number in that session, from 1
  int64_t start_us = 0;     // monotonic (common/clock.h)
  int64_t end_us = 0;
  bool ok = true;
  StatementError error;  // when !ok
  uint64_t rows_returned = 0;
  uint64_t rows_affected = 0;
  uint64_t checksum = 0;  // ResultChecksum::Value() of the rows returned
  bool read = false;      // a statement that changes nothing (routing/classifier.h)

  uint64_t latency_us() const {
    return end_us > start_us ? static_cast<uint64_t>(end_us - start_us) : 0;
  }
};

// Both sides of one statement. SHADOW is empty when the shadow never answered (the session's
// mirroring was cut first): such a statement counts on the source side only.
struct OutcomePair {
  Outcome source;
  std::optional<Outcome> shadow;
};

// What a pair says about the shadow, decided on the pair alone.
struct PairFindings {
  bool new_error = false;        // the shadow failed where the source did not, or differently
  bool result_mismatch = false;  // a read both sides answered, with different rows
  bool row_count_differs = false;
};
PairFindings Compare(const OutcomePair& p);

// A checksum of a result set, fed field by field and row by row. Unordered (the default):
// the row hashes are combined by addition, so any order of the same rows (duplicates
// included) gives the same value. Ordered (for a statement with ORDER BY): each row hash is
// chained into the previous value, so a different order gives a different value.
class ResultChecksum {
 public:
  explicit ResultChecksum(bool ordered = false) : ordered_(ordered) {}
  void AddField(std::string_view bytes);  // a field's text or binary value
  void AddNull();
  void EndRow();
  uint64_t rows() const { return rows_; }
  uint64_t Value() const;  // of the rows ended so far (a row's pending fields are ignored)

 private:
  void Mix(const void* p, size_t n);
  bool ordered_;
  uint64_t row_ = 0;
  uint64_t acc_ = 0;
  uint64_t rows_ = 0;
};

// Whether a statement's (digest) text ends in an ORDER BY of its own, outside parentheses:
// its rows then come in a defined order and the checksum must be ordered.
bool HasOrderBy(std::string_view text);

// Matches the two sides of one session's statements by sequence number. The source side
// comes first (the client's answer is forwarded before the shadow replays it); a session
// keeps at most MAX_PENDING source outcomes waiting for their shadow twin (the shadow
// session's queue bound): the oldest beyond it is handed back unpaired.
class OutcomePairer {
 public:
  explicit OutcomePairer(size_t max_pending) : max_pending_(max_pending ? max_pending : 1) {}
  // Keeps O (source side) until its twin arrives; returns the oldest pending one, unpaired,
  // when the bound is exceeded.
  std::optional<OutcomePair> AddSource(Outcome o);
  // The pair for O's sequence number, or, when no source outcome waits for it (a bug in the
  // feeder, or a pair already handed back unpaired), nullopt. Pending source outcomes
  // older than O are handed back unpaired through UNPAIRED (the shadow skipped them).
  std::optional<OutcomePair> AddShadow(Outcome o, std::deque<OutcomePair>* unpaired);
  // The session's mirroring was cut: every pending source outcome, unpaired.
  std::deque<OutcomePair> Cut();
  size_t pending() const { return pending_.size(); }

 private:
  size_t max_pending_;
  std::deque<Outcome> pending_;  // ascending seq
};

}  // namespace sluice::mirror
