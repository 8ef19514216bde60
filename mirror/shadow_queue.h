// ShadowQueue: what a mirrored client session hands its shadow session, in the client's
// order: each statement's bytes as sluice already holds them, bounded in bytes and count.
// A push over a bound is refused (the caller cuts the session's mirroring as a whole).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mirror/outcome.h"

namespace sluice::mirror {

struct ShadowStatement {
  std::string bytes;     // MySQL: the command's payload; PostgreSQL: the batch's messages
  uint32_t stmt_id = 0;  // MySQL: sluice's statement id (COM_STMT_PREPARE: the new one)
  bool expects_response = true;
  bool record = false;   // its outcome goes to the report (paired with the source's)
  Outcome source;        // the source's outcome when `record` (the shadow session keeps its
                         // strings in its pairer: queued, only its numbers are left)
  bool ordered = false;  // `record` and the statement has a top-level ORDER BY (HasOrderBy)
  // It ends a transaction (COMMIT, ROLLBACK): it only releases locks, so it never waits for
  // the mirror's write order (the source answers a COMMIT after it released its locks, so
  // a write that waited for them can be answered first: ordered, each would wait for the
  // other on the shadow).
  bool ends_txn = false;
  uint64_t ticket = 0;  // its place in the mirror's write order (write_order.h), or 0
};

class ShadowQueue {
 public:
  ShadowQueue(size_t max_bytes, size_t max_statements)
      : max_bytes_(max_bytes), max_statements_(max_statements) {}
  // False (and nothing queued) when S would take the queue over either bound.
  bool Push(ShadowStatement s) {
    size_t n = s.bytes.size();
    if (count_ + 1 > max_statements_ || bytes_ + n > max_bytes_) return false;
    if (count_ == ring_.size()) Grow();
    bytes_ += n;
    ring_[(head_ + count_) & (ring_.size() - 1)] = std::move(s);
    ++count_;
    return true;
  }
  bool empty() const { return count_ == 0; }
  ShadowStatement& front() { return ring_[head_]; }
  ShadowStatement& back() { return ring_[(head_ + count_ - 1) & (ring_.size() - 1)]; }
  void pop() {
    bytes_ -= ring_[head_].bytes.size();
    ring_[head_] = ShadowStatement{};  // an idle session keeps no statement's bytes
    head_ = (head_ + 1) & (ring_.size() - 1);
    if (--count_ == 0 && ring_.size() > kKeptSlots) clear();
  }
  void clear() {
    ring_.clear();
    ring_.shrink_to_fit();
    head_ = count_ = bytes_ = 0;
  }
  size_t bytes() const { return bytes_; }
  size_t size() const { return count_; }
  // F(statement) for each queued statement, front first.
  template <class F>
  void ForEach(F f) {
    for (size_t i = 0; i < count_; ++i) f(ring_[(head_ + i) & (ring_.size() - 1)]);
  }

 private:
  // A ring of slots that grows by doubling (never past the statement bound's power of two)
  // and is given back when a burst has drained beyond kKeptSlots: a push in the steady state
  // allocates nothing (a deque of statements this size allocates a node per push).
  static constexpr size_t kKeptSlots = 64;
  void Grow() {
    std::vector<ShadowStatement> bigger(ring_.empty() ? 8 : ring_.size() * 2);
    for (size_t i = 0; i < count_; ++i)
      bigger[i] = std::move(ring_[(head_ + i) & (ring_.size() - 1)]);
    ring_.swap(bigger);
    head_ = 0;
  }

  size_t max_bytes_;
  size_t max_statements_;
  size_t bytes_ = 0;
  std::vector<ShadowStatement> ring_;  // size 0 or a power of two
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace sluice::mirror
