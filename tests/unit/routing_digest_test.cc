#include "routing/digest.h"

#include <string>

#include <gtest/gtest.h>

namespace sluice::routing {
namespace {

std::string D(std::string_view sql, Dialect d = Dialect::kMysql) {
  std::string out;
  Digest(sql, d, &out);
  return out;
}

TEST(RoutingDigest, LiteralsBecomePlaceholders) {
  EXPECT_EQ(D("SELECT c FROM sbtest1 WHERE id=5023"), "SELECT c FROM sbtest1 WHERE id = ?");
  EXPECT_EQ(D("UPDATE sbtest1 SET c='0123-4567' WHERE id=5"),
            "UPDATE sbtest1 SET c = ? WHERE id = ?");
  EXPECT_EQ(D("SELECT 0x1F, x'AB', b'01', 1.5e3, \"dq\", N'n'"), "SELECT ?,?,?,?,?,?");
  EXPECT_EQ(D("SELECT $$x$$, E'y', $1", Dialect::kPostgres), "SELECT ?,?,?");
}

TEST(RoutingDigest, TextAndPreparedFormsShareADigest) {
  EXPECT_EQ(D("SELECT c FROM t WHERE id = ?"), D("SELECT c FROM t WHERE id = 42"));
  EXPECT_EQ(D("SELECT abalance FROM pgbench_accounts WHERE aid = $1", Dialect::kPostgres),
            D("SELECT abalance FROM pgbench_accounts WHERE aid = 77367", Dialect::kPostgres));
}

TEST(RoutingDigest, BooleansAndNullStay) {
  EXPECT_EQ(D("SELECT * FROM t WHERE a = TRUE AND b IS NULL AND c = false"),
            "SELECT * FROM t WHERE a = TRUE AND b IS NULL AND c = false");
}

TEST(RoutingDigest, SignedNumbersAreOneLiteral) {
  EXPECT_EQ(D("UPDATE t SET a = a + -2740 WHERE b = -1"), "UPDATE t SET a = a + ? WHERE b = ?");
  EXPECT_EQ(D("SELECT a-1, a - 1"), "SELECT a - ?,a - ?");
}

TEST(RoutingDigest, WhitespaceAndCommentsFold) {
  EXPECT_EQ(D("  SELECT\n\t c   FROM /* x */ t -- tail\n WHERE id  =  1 "),
            "SELECT c FROM t WHERE id = ?");
  EXPECT_EQ(D("select c from t where id=1"), "select c from t where id = ?");  // case kept
  EXPECT_EQ(D("SELECT /*+ BKA(t) */ 1"), "SELECT ?");
  EXPECT_EQ(D("/*!40101 SET NAMES utf8 */"), "SET NAMES utf8");
}

TEST(RoutingDigest, InListsCollapse) {
  EXPECT_EQ(D("SELECT * FROM t WHERE id IN (1, 2, 3)"), "SELECT * FROM t WHERE id IN (?,...)");
  EXPECT_EQ(D("SELECT * FROM t WHERE id IN (1,2,3,4,5,6,7,8,9)"),
            D("SELECT * FROM t WHERE id IN (10, 20)"));
  EXPECT_EQ(D("SELECT * FROM t WHERE id IN (7)"), "SELECT * FROM t WHERE id IN (?)");
  EXPECT_EQ(D("SELECT * FROM t WHERE id IN (a, 2)"), "SELECT * FROM t WHERE id IN (a,?)");
  EXPECT_EQ(D("SELECT * FROM t WHERE id IN (SELECT id FROM u)"),
            "SELECT * FROM t WHERE id IN (SELECT id FROM u)");
}

TEST(RoutingDigest, ValuesRowsCollapse) {
  EXPECT_EQ(D("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')"),
            "INSERT INTO t(a,b) VALUES (?,...),...");
  EXPECT_EQ(D("INSERT INTO t (a, b) VALUES (1, 'x')"), "INSERT INTO t(a,b) VALUES (?,...)");
  EXPECT_EQ(D("INSERT INTO t VALUES (1, now()), (2, now()) ON DUPLICATE KEY UPDATE b=VALUES(b)"),
            "INSERT INTO t VALUES (?,now()),... ON DUPLICATE KEY UPDATE b = VALUES (b)");
  EXPECT_EQ(D("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 77367, "
              "-2740, CURRENT_TIMESTAMP);",
              Dialect::kPostgres),
            "INSERT INTO pgbench_history(tid,bid,aid,delta,mtime) VALUES "
            "(?,?,?,?,CURRENT_TIMESTAMP);");
}

TEST(RoutingDigest, PostgresCastsAndQuotedIdentifiers) {
  EXPECT_EQ(D("SELECT \"users\".* FROM \"users\" WHERE \"id\" = $1::int", Dialect::kPostgres),
            "SELECT \"users\".* FROM \"users\" WHERE \"id\" = ?::int");
}

TEST(RoutingDigest, LongStatementsAreBounded) {
  std::string sql = "INSERT INTO t VALUES (1)";
  for (int i = 0; i < 100000; ++i) sql += ",(1)";
  std::string out = D(sql);
  EXPECT_EQ(out, "INSERT INTO t VALUES (?),...");
  std::string wide = "SELECT " + std::string(10000, 'a');
  EXPECT_LE(D(wide).size(), kDigestMaxInput);
}

TEST(RoutingDigest, HashIsStableAndDistinguishes) {
  // FNV-1a 64 of "" is the offset basis; of "a" the published test vector.
  EXPECT_EQ(DigestHash(""), 14695981039346656037ull);
  EXPECT_EQ(DigestHash("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_NE(DigestHash(D("SELECT c FROM t WHERE id = 1")), DigestHash(D("SELECT c FROM u")));
  EXPECT_EQ(DigestHash(D("SELECT c FROM t WHERE id = 1")),
            DigestHash(D("SELECT  c FROM t WHERE id = 99")));
}

TEST(RoutingDigest, OutputIsReplacedNotAppended) {
  std::string out = "garbage";
  Digest("SELECT 1", Dialect::kMysql, &out);
  EXPECT_EQ(out, "SELECT ?");
}

}  // namespace
}  // namespace sluice::routing
