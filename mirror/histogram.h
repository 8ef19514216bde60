// LogHistogram: a latency distribution in HDR-style log-linear buckets: every power of two
// split into 32 sub-buckets, so a percentile read at a bucket's midpoint is within 1.6 %.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice::mirror {

class LogHistogram {
 public:
  // 2^(kSubBits-1) sub-buckets per power of two; values below 2^kSubBits get a bucket each.
  static constexpr int kSubBits = 6;
  static constexpr uint64_t kSubCount = uint64_t{1} << kSubBits;
  // Values at or above 2^kMaxBits µs (about 19 hours) are counted in the last bucket.
  static constexpr int kMaxBits = 36;
  static constexpr size_t kMaxBuckets = kSubCount + (kMaxBits - kSubBits) * (kSubCount / 2);

  void Add(uint64_t value_us);
  void Merge(const LogHistogram& o);
  void Clear() { *this = LogHistogram(); }

  uint64_t count() const { return count_; }
  uint64_t sum_us() const { return sum_us_; }
  uint64_t min_us() const { return count_ ? min_us_ : 0; }
  uint64_t max_us() const { return max_us_; }
  // The value at quantile Q (0..1): the midpoint of the bucket holding it, clamped to the
  // recorded min and max. 0 when empty.
  uint64_t Percentile(double q) const;
  // Bucket I covers [BucketLow(I), BucketHigh(I)]; counts() grows to the highest bucket used,
  // so the memory of a histogram follows the largest value it saw (about 4 KiB up to 1 s).
  const std::vector<uint64_t>& counts() const { return counts_; }
  static size_t BucketOf(uint64_t v);
  static uint64_t BucketLow(size_t i);
  static uint64_t BucketHigh(size_t i);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t sum_us_ = 0;
  uint64_t min_us_ = UINT64_MAX;
  uint64_t max_us_ = 0;
};

}  // namespace sluice::mirror
