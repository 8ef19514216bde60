// LogEvery: one message per interval, with the count of the occurrences it stands for.
#include "common/log_every.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(LogEvery, FirstOccurrenceLogsThenOncePerInterval) {
  LogEvery every(1000);
  uint64_t n = 0;
  EXPECT_TRUE(every.Tick(5000, &n));
  EXPECT_EQ(n, 1u);
  for (int i = 0; i < 500; ++i) EXPECT_FALSE(every.Tick(5000 + i, &n));
  EXPECT_FALSE(every.Tick(5999, &n));
  EXPECT_TRUE(every.Tick(6000, &n));
  EXPECT_EQ(n, 502u);  // the 501 held back and this one
  EXPECT_FALSE(every.Tick(6001, &n));
  EXPECT_TRUE(every.Tick(9000, &n));
  EXPECT_EQ(n, 2u);
}

TEST(LogEvery, TimeZeroIsNotSpecial) {
  LogEvery every(100);
  uint64_t n = 0;
  EXPECT_TRUE(every.Tick(0, &n));
  EXPECT_FALSE(every.Tick(50, &n));
  EXPECT_TRUE(every.Tick(100, &n));
  EXPECT_EQ(n, 2u);
}

}  // namespace
}  // namespace sluice
