// The [coordination] table of the config file: absent means a single instance; every mistake
// reads as one "FILE:LINE: coordination.key: what is wrong" line.
#include <gtest/gtest.h>

#include <string>

#include "admin/config_file.h"
#include "tests/unit/admin_fixture.h"

namespace sluice {
namespace {

// kBase: a valid config of 11 lines; appended text starts on line 12.
constexpr const char* kBase = testfix::kOneClusterConfig;
constexpr auto Error = &testfix::ConfigErrorWith;

TEST(CoordinationConfig, AbsentMeansOneInstance) {
  auto r = ParseConfig(kBase, "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->coordination.enabled());
}

TEST(CoordinationConfig, AllKeysRead) {
  auto r = ParseConfig(std::string(kBase) + R"([coordination]
etcd = "127.0.0.1:2379, 127.0.0.1:22379"
prefix = "/prod/sluice"
instance = "app-1"
lease_ttl_s = 10
)",
                       "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->coordination.enabled());
  EXPECT_EQ(r->coordination.etcd, "127.0.0.1:2379, 127.0.0.1:22379");
  EXPECT_EQ(r->coordination.prefix, "/prod/sluice");
  EXPECT_EQ(r->coordination.instance, "app-1");
  EXPECT_EQ(r->coordination.lease_ttl_s, 10);
}

TEST(CoordinationConfig, MistakesNameLineAndKey) {
  EXPECT_EQ(Error("[coordination]\netcd = \"127.0.0.1\"\n"),
            "t.toml:13: coordination.etcd: expected \"host:port,host:port...\", got \"127.0.0.1\" "
            "in \"127.0.0.1\"");
  EXPECT_EQ(Error("[coordination]\netcd = \"127.0.0.1:2379,,x:1\"\n"),
            "t.toml:13: coordination.etcd: expected \"host:port,host:port...\", got \"\" in "
            "\"127.0.0.1:2379,,x:1\"");
  EXPECT_EQ(Error("[coordination]\netcd = \"127.0.0.1:2379\"\nprefix = \"sluice/\"\n"),
            "t.toml:14: coordination.prefix: expected a key path such as \"/sluice\" (leading "
            "slash, none at the end), got \"sluice/\"");
  EXPECT_EQ(
      Error("[coordination]\netcd = \"127.0.0.1:2379\"\ninstance = \"a b\"\n"),
      "t.toml:14: coordination.instance: expected letters, digits and -_.: only, got \"a b\"");
  EXPECT_EQ(Error("[coordination]\netcd = \"127.0.0.1:2379\"\nlease_ttl_s = 1\n"),
            "t.toml:14: coordination.lease_ttl_s: expected 2..60, got 1");
  EXPECT_EQ(Error("[coordination]\nprefix = \"/x\"\n"),
            "t.toml:12: coordination.etcd: missing required key");
  EXPECT_EQ(Error("[coordination]\netcd = \"127.0.0.1:2379\"\nttl = 5\n"),
            "t.toml:14: coordination.ttl: unknown key");
}

}  // namespace
}  // namespace sluice
