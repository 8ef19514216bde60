// Unit tests of common/log.h: escaping, the two line formats written through spdlog to a
// file, Reopen after a rename (logrotate), and the rate limiter for libevent's warnings.
#include "common/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace sluice::log {
namespace {

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class LogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-log-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/sluice.log";
    ASSERT_TRUE(SetFile(path_).ok());
  }
  void TearDown() override {
    SetFormat(Format::kText);
    ASSERT_TRUE(SetFile("").ok());
    std::remove(path_.c_str());
    std::remove((path_ + ".1").c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_, path_;
};

TEST(LogEscape, ControlCharactersNeverBreakALine) {
  EXPECT_EQ(EscapeText("a\nb\r\tc\x01"), "a\\nb\\r\\tc\\x01");
  EXPECT_EQ(EscapeJson("q\"b\\n\n\x02"), "q\\\"b\\\\n\\n\\u0002");
  EXPECT_EQ(EscapeText("plain"), "plain");
}

TEST_F(LogFileTest, TextIsOneLinePerEventWithTimeLevelThread) {
  SetThreadName("worker-7");
  Info("first\nsecond line of the same event");
  Warn("{} and {}", 1, "two");
  SetThreadName("main");
  auto lines = Lines(path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(testing::internal::RE::FullMatch(
      lines[0],
      testing::internal::RE("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z INFO  \\[worker-7\\] "
                            "first\\\\nsecond line of the same event")))
      << lines[0];
  EXPECT_NE(lines[1].find("WARN  [worker-7] 1 and two"), std::string::npos) << lines[1];
}

TEST_F(LogFileTest, JsonLines) {
  SetFormat(Format::kJson);
  Error("bad \"quote\"\nnext");
  auto lines = Lines(path_);
  ASSERT_EQ(lines.size(), 1u);
  const std::string& l = lines[0];
  EXPECT_EQ(l.rfind("{\"time\":\"", 0), 0u) << l;
  EXPECT_NE(l.find("Z\",\"level\":\"error\",\"thread\":\"main\","
                   "\"msg\":\"bad \\\"quote\\\"\\nnext\"}"),
            std::string::npos)
      << l;
  EXPECT_EQ(l.back(), '}');
}

TEST_F(LogFileTest, ReopenAfterRenameWritesANewFile) {
  Info("before rotation");
  ASSERT_EQ(std::rename(path_.c_str(), (path_ + ".1").c_str()), 0);
  Reopen();
  Info("after rotation");
  EXPECT_EQ(Lines(path_ + ".1").size(), 1u);
  auto now = Lines(path_);
  ASSERT_EQ(now.size(), 1u);
  EXPECT_NE(now[0].find("after rotation"), std::string::npos);
}

TEST_F(LogFileTest, UnwritablePathIsAnErrorAndKeepsTheOldFile) {
  // A regular file as the parent: not creatable even by root (spdlog creates directories).
  std::string bad = path_ + "/sluice.log";
  Status st = SetFile(bad);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(bad), std::string::npos);
  Info("still here");
  ASSERT_EQ(Lines(path_).size(), 1u);
}

TEST(RateLimiter, PassesNPerSecondAndCountsTheRest) {
  RateLimiter r(3);
  uint64_t suppressed = 0;
  int passed = 0;
  for (int i = 0; i < 10; ++i) passed += r.Allow(100, &suppressed);
  EXPECT_EQ(passed, 3);
  EXPECT_TRUE(r.Allow(101, &suppressed));
  EXPECT_EQ(suppressed, 7u);
  EXPECT_TRUE(r.Allow(101, &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

}  // namespace
}  // namespace sluice::log
