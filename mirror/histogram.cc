#include "mirror/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sluice::mirror {

// Layout: buckets 0..kSubCount-1 hold the values 0..kSubCount-1 exactly. A value whose
// highest bit is m >= kSubBits keeps its top kSubBits bits (the leading one and
// kSubBits-1 below it): kSubCount/2 buckets per power of two, each at most 1/32 wide.
size_t LogHistogram::BucketOf(uint64_t v) {
  if (v < kSubCount) return static_cast<size_t>(v);
  int m = 63 - std::countl_zero(v);
  if (m >= kMaxBits) return kMaxBuckets - 1;
  int shift = m - (kSubBits - 1);
  uint64_t sub = (v >> shift) - kSubCount / 2;  // 0 .. kSubCount/2-1
  return static_cast<size_t>(kSubCount + (m - kSubBits) * (kSubCount / 2) + sub);
}

uint64_t LogHistogram::BucketLow(size_t i) {
  if (i < kSubCount) return i;
  size_t j = i - kSubCount;
  int m = static_cast<int>(j / (kSubCount / 2)) + kSubBits;
  uint64_t sub = j % (kSubCount / 2) + kSubCount / 2;
  return sub << (m - (kSubBits - 1));
}

uint64_t LogHistogram::BucketHigh(size_t i) {
  if (i < kSubCount) return i;
  if (i + 1 >= kMaxBuckets) return UINT64_MAX;
  return BucketLow(i + 1) - 1;
}

void LogHistogram::Add(uint64_t v) {
  size_t b = BucketOf(v);
  if (counts_.size() <= b) counts_.resize(b + 1);
  ++counts_[b];
  ++count_;
  sum_us_ += v;
  min_us_ = std::min(min_us_, v);
  max_us_ = std::max(max_us_, v);
}

void LogHistogram::Merge(const LogHistogram& o) {
  if (o.count_ == 0) return;
  if (counts_.size() < o.counts_.size()) counts_.resize(o.counts_.size());
  for (size_t i = 0; i < o.counts_.size(); ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_us_ += o.sum_us_;
  min_us_ = std::min(min_us_, o.min_us_);
  max_us_ = std::max(max_us_, o.max_us_);
}

uint64_t LogHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank of the value at Q among 1..count (nearest-rank definition).
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      uint64_t lo = BucketLow(i);
      uint64_t hi = std::min(BucketHigh(i), max_us_);
      uint64_t mid = lo + (hi - std::min(hi, lo)) / 2;
      return std::clamp(mid, min_us_, max_us_);
    }
  }
  return max_us_;
}

}  // namespace sluice::mirror
