// The admin port's guards: statement splitting, the store's refusal of ATTACH/PRAGMA/DDL,
// and the wrong-password back-off.
#include <unistd.h>

#include <gtest/gtest.h>

#include "admin/login_throttle.h"
#include "admin/sql_split.h"
#include "admin/sqlite_db.h"

namespace sluice {
namespace {

using V = std::vector<std::string>;

TEST(SplitStatements, SemicolonsOutsideQuotesAndComments) {
  EXPECT_EQ(SplitStatements("SELECT 1; DROP TABLE servers"), (V{"SELECT 1", "DROP TABLE servers"}));
  EXPECT_EQ(SplitStatements("SELECT 1;"), (V{"SELECT 1"}));
  EXPECT_EQ(SplitStatements("  ;; SELECT 1 ;;  "), (V{"SELECT 1"}));
  EXPECT_EQ(SplitStatements("SELECT 'a;b', \"c;d\", `e;f`, [g;h]"),
            (V{"SELECT 'a;b', \"c;d\", `e;f`, [g;h]"}));
  EXPECT_EQ(SplitStatements("SELECT 'it''s; ok'"), (V{"SELECT 'it''s; ok'"}));
  EXPECT_EQ(SplitStatements("SELECT 1 -- x; y\n; SELECT 2"), (V{"SELECT 1 -- x; y", "SELECT 2"}));
  EXPECT_EQ(SplitStatements("SELECT /* ; */ 1"), (V{"SELECT /* ; */ 1"}));
  EXPECT_EQ(SplitStatements("-- only a comment;\n/* and; this */"), V{});
  EXPECT_EQ(SplitStatements("SELECT 'unterminated; DROP"), (V{"SELECT 'unterminated; DROP"}));
  EXPECT_EQ(SplitStatements(""), V{});
}

TEST(FirstWord, SkipsSpaceAndComments) {
  EXPECT_EQ(FirstWord("  /* x */ -- y\n vacuum into '/tmp/x'"), "VACUUM");
  EXPECT_EQ(FirstWord("select 1"), "SELECT");
  EXPECT_EQ(FirstWord("  "), "");
}

class GuardedStore : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.Open(":memory:").ok());
    ASSERT_TRUE(db_.Run("CREATE TABLE servers (host TEXT); INSERT INTO servers VALUES ('a')").ok());
  }
  Status Guarded(std::string_view sql) { return db_.RunGuarded(sql).status(); }
  SqliteDb db_;
};

TEST_F(GuardedStore, DataStatementsRun) {
  EXPECT_TRUE(Guarded("INSERT INTO servers VALUES ('b')").ok());
  EXPECT_TRUE(Guarded("UPDATE servers SET host = 'c' WHERE host = 'b'").ok());
  EXPECT_TRUE(Guarded("DELETE FROM servers WHERE host = 'c'").ok());
  auto r = db_.RunGuarded("SELECT count(*) FROM servers -- trailing comment");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->rows.at(0).at(0), "1");
  EXPECT_TRUE(Guarded("CREATE TEMP TABLE scratch (x INT)").ok());
  EXPECT_TRUE(Guarded("DROP TABLE temp.scratch").ok());
}

TEST_F(GuardedStore, SchemaChangesAndEngineAccessAreRefused) {
  for (const char* sql :
       {"DROP TABLE servers", "ALTER TABLE servers ADD COLUMN x INT", "CREATE TABLE t (x INT)",
        "CREATE VIEW v AS SELECT 1", "CREATE INDEX i ON servers (host)",
        "ATTACH DATABASE '/tmp/sluice-guard-test.db' AS x", "DETACH DATABASE main",
        "PRAGMA writable_schema = 1", "PRAGMA table_info(servers)",
        "VACUUM INTO '/tmp/sluice-guard-test.db'", "/* c */ vacuum"}) {
    Status s = Guarded(sql);
    EXPECT_FALSE(s.ok()) << sql;
    EXPECT_NE(s.message().find("not allowed on the admin port"), std::string::npos)
        << sql << ": " << s.message();
  }
  // A trigger body holds semicolons: refused as several statements before the authorizer.
  EXPECT_FALSE(
      Guarded("CREATE TRIGGER tr AFTER INSERT ON servers BEGIN DELETE FROM servers; END").ok());
  auto r = db_.RunGuarded("SELECT count(*) FROM servers");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows.at(0).at(0), "1");  // nothing above ran
  EXPECT_EQ(::access("/tmp/sluice-guard-test.db", F_OK), -1);
}

TEST_F(GuardedStore, OneStatementPerCall) {
  Status s = Guarded("SELECT 1; DROP TABLE servers");
  EXPECT_FALSE(s.ok());
  auto r = db_.RunGuarded("SELECT count(*) FROM servers");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows.at(0).at(0), "1");
  // The unguarded Run (sluice's own statements) is unaffected.
  EXPECT_TRUE(db_.Run("CREATE TABLE own (x INT); DROP TABLE own").ok());
}

TEST(LoginThrottle, LocksOutAfterFreeFailuresWithGrowingWindow) {
  LoginThrottle t;
  const std::string a = "10.0.0.1";
  int64_t now = 1000000;
  for (int i = 0; i < LoginThrottle::kFreeFailures; ++i) {
    EXPECT_EQ(t.LockedForMs(a, now), 0);
    EXPECT_EQ(t.Failure(a, now), 0);
  }
  EXPECT_EQ(t.Failure(a, now), LoginThrottle::kFirstLockoutMs);
  EXPECT_EQ(t.LockedForMs(a, now + 10), LoginThrottle::kFirstLockoutMs - 10);
  EXPECT_EQ(t.LockedForMs("10.0.0.2", now), 0);  // per address
  now += LoginThrottle::kFirstLockoutMs;
  EXPECT_EQ(t.LockedForMs(a, now), 0);
  EXPECT_EQ(t.Failure(a, now), 2 * LoginThrottle::kFirstLockoutMs);
  for (int i = 0; i < 20; ++i) t.Failure(a, now);
  EXPECT_EQ(t.LockedForMs(a, now), LoginThrottle::kMaxLockoutMs);
  t.Success(a);
  EXPECT_EQ(t.LockedForMs(a, now), 0);
}

TEST(LoginThrottle, ForgetsOldFailuresAndBoundsMemory) {
  LoginThrottle t;
  int64_t now = 1000000;
  for (int i = 0; i < 4; ++i) t.Failure("a", now);
  EXPECT_GT(t.LockedForMs("a", now), 0);
  EXPECT_EQ(t.LockedForMs("a", now + LoginThrottle::kForgetAfterMs), 0);
  for (size_t i = 0; i < LoginThrottle::kMaxAddresses + 100; ++i)
    t.Failure("10.1." + std::to_string(i), now + static_cast<int64_t>(i));
  EXPECT_LE(t.size(), LoginThrottle::kMaxAddresses);
}

}  // namespace
}  // namespace sluice
