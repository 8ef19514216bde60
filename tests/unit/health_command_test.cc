// RunBounded (fence_command): exit status, output, and the time bound, with real processes.
#include <gtest/gtest.h>

#include <chrono>

#include "health/command.h"

namespace sluice::health {
namespace {

TEST(RunBounded, ExitStatusAndOutput) {
  std::string out;
  EXPECT_EQ(RunBounded({"sh", "-c", "echo fenced $0 $1; exit 0", "app", "10.0.0.1"}, 5000, &out),
            0);
  EXPECT_EQ(out, "fenced app 10.0.0.1");
  EXPECT_EQ(RunBounded({"sh", "-c", "echo no >&2; exit 3"}, 5000, &out), 3);
  EXPECT_EQ(out, "no");
}

TEST(RunBounded, KilledAfterItsBound) {
  std::string out;
  auto start = std::chrono::steady_clock::now();
  // sh's child keeps the output pipe open: the bound must end both.
  EXPECT_EQ(RunBounded({"sh", "-c", "sleep 10; echo late"}, 300, &out), -1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(RunBounded, MissingProgramIsAnError) {
  std::string out;
  EXPECT_NE(RunBounded({"/nonexistent/fence"}, 1000, &out), 0);
}

TEST(RunBounded, OutputIsBounded) {
  std::string out;
  EXPECT_EQ(RunBounded({"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"}, 5000, &out), 0);
  EXPECT_LE(out.size(), 1024u);
}

}  // namespace
}  // namespace sluice::health
