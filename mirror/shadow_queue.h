// ShadowQueue: what a mirrored client session hands its shadow session, in the client's
// order: each statement's bytes as sluice already holds them, bounded in bytes and count.
// A push over a bound is refused (the caller cuts the session's mirroring as a whole).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "mirror/outcome.h"

namespace sluice::mirror {

struct ShadowStatement {
  std::string bytes;     // MySQL: the command's payload; PostgreSQL: the batch's messages
  uint32_t stmt_id = 0;  // MySQL: sluice's statement id (COM_STMT_PREPARE: the new one)
  bool expects_response = true;
  bool record = false;  // its outcome goes to the report (paired with the source's)
  Outcome source;       // the source's outcome when `record`
};

class ShadowQueue {
 public:
  ShadowQueue(size_t max_bytes, size_t max_statements)
      : max_bytes_(max_bytes), max_statements_(max_statements) {}
  // False (and nothing queued) when S would take the queue over either bound.
  bool Push(ShadowStatement s) {
    size_t n = s.bytes.size();
    if (items_.size() + 1 > max_statements_ || bytes_ + n > max_bytes_) return false;
    bytes_ += n;
    items_.push_back(std::move(s));
    return true;
  }
  bool empty() const { return items_.empty(); }
  ShadowStatement& front() { return items_.front(); }
  void pop() {
    bytes_ -= items_.front().bytes.size();
    items_.pop_front();
  }
  void clear() {
    items_.clear();
    bytes_ = 0;
  }
  size_t bytes() const { return bytes_; }
  size_t size() const { return items_.size(); }

 private:
  size_t max_bytes_;
  size_t max_statements_;
  size_t bytes_ = 0;
  std::deque<ShadowStatement> items_;
};

}  // namespace sluice::mirror
