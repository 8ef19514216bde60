// LogHistogram: percentiles within 1.6 % of the exact ones on random data, bucket bounds
// that tile the axis, merges equal to one histogram fed everything.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "mirror/histogram.h"

namespace sluice::mirror {
namespace {

uint64_t Exact(std::vector<uint64_t> v, double q) {
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

TEST(LogHistogramTest, BucketsTileTheAxis) {
  for (size_t i = 0; i + 1 < LogHistogram::kMaxBuckets; ++i) {
    ASSERT_EQ(LogHistogram::BucketHigh(i) + 1, LogHistogram::BucketLow(i + 1)) << i;
    ASSERT_EQ(LogHistogram::BucketOf(LogHistogram::BucketLow(i)), i);
    ASSERT_EQ(LogHistogram::BucketOf(LogHistogram::BucketHigh(i)), i);
    uint64_t lo = LogHistogram::BucketLow(i), hi = LogHistogram::BucketHigh(i);
    if (lo >= 64) {
      ASSERT_LE(static_cast<double>(hi - lo + 1) / lo, 1.0 / 32 + 1e-12) << i;
    }
  }
  EXPECT_EQ(LogHistogram::BucketOf(UINT64_MAX), LogHistogram::kMaxBuckets - 1);
}

void ExpectPercentilesClose(const std::vector<uint64_t>& values) {
  LogHistogram h;
  for (uint64_t v : values) h.Add(v);
  for (double q : {0.5, 0.9, 0.95, 0.99, 0.999}) {
    double exact = static_cast<double>(Exact(values, q));
    double got = static_cast<double>(h.Percentile(q));
    EXPECT_LE(std::abs(got - exact), exact * 0.016 + 1.0) << "q=" << q << " exact=" << exact;
  }
  EXPECT_EQ(h.count(), values.size());
  EXPECT_EQ(h.max_us(), *std::max_element(values.begin(), values.end()));
}

TEST(LogHistogramTest, PercentilesWithinAFewPerCentOnRandomData) {
  std::mt19937_64 rng(16);
  for (int round = 0; round < 20; ++round) {
    std::vector<uint64_t> values;
    std::lognormal_distribution<double> lat(std::log(500.0 + round * 300), 0.4 + round * 0.1);
    for (int i = 0; i < 20000; ++i) values.push_back(static_cast<uint64_t>(lat(rng)) + 1);
    ExpectPercentilesClose(values);
  }
  // Uniform over six orders of magnitude, and a bimodal mix (a cache hit / miss shape).
  std::vector<uint64_t> wide, bimodal;
  std::uniform_int_distribution<uint64_t> u(1, 5'000'000);
  std::normal_distribution<double> fast(200, 20), slow(40000, 3000);
  for (int i = 0; i < 50000; ++i) {
    wide.push_back(u(rng));
    bimodal.push_back(static_cast<uint64_t>(std::max(1.0, i % 10 ? fast(rng) : slow(rng))));
  }
  ExpectPercentilesClose(wide);
  ExpectPercentilesClose(bimodal);
}

TEST(LogHistogramTest, MergeEqualsOneHistogramOfEverything) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<uint64_t> u(1, 2'000'000);
  LogHistogram all, a, b;
  for (int i = 0; i < 10000; ++i) {
    uint64_t v = u(rng) >> (i % 11);
    all.Add(v);
    (i % 3 ? a : b).Add(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.counts(), all.counts());
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.sum_us(), all.sum_us());
  EXPECT_EQ(a.min_us(), all.min_us());
  EXPECT_EQ(a.max_us(), all.max_us());
  EXPECT_EQ(a.Percentile(0.95), all.Percentile(0.95));
}

TEST(LogHistogramTest, EmptyAndSingleValue) {
  LogHistogram h;
  EXPECT_EQ(h.Percentile(0.5), 0u);
  EXPECT_EQ(h.min_us(), 0u);
  h.Add(12345);
  EXPECT_EQ(h.Percentile(0.0), 12345u);
  EXPECT_EQ(h.Percentile(0.99), 12345u);
  // The memory follows the largest value: about 4 KiB of buckets up to one second.
  LogHistogram s;
  s.Add(1'000'000);
  EXPECT_LE(s.counts().size(), 64u + 14 * 32 + 32);
}

}  // namespace
}  // namespace sluice::mirror
