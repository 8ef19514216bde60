// LogEvery: lets one message through per interval and counts the ones it held back, for an
// error that can repeat thousands of times a second (accept() while file descriptors run out).
#pragma once

#include <cstdint>

namespace sluice {

// Not thread-safe: each thread (a worker, the admin accept thread) keeps its own.
class LogEvery {
 public:
  explicit LogEvery(int64_t interval_ms) : interval_ms_(interval_ms) {}

  // Counts one occurrence at NOW_MS. True when the caller should log now; then *count is the
  // number of occurrences since the last message, this one included.
  bool Tick(int64_t now_ms, uint64_t* count) {
    ++pending_;
    if (logged_ && now_ms - last_ms_ < interval_ms_) return false;
    logged_ = true;
    last_ms_ = now_ms;
    *count = pending_;
    pending_ = 0;
    return true;
  }

 private:
  int64_t interval_ms_;
  int64_t last_ms_ = 0;
  bool logged_ = false;
  uint64_t pending_ = 0;
};

}  // namespace sluice
