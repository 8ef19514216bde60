// PostgreSQL standby naming: application_name as the standby's announced address, and the
// conninfo sluice writes when it re-points a standby.
#include <gtest/gtest.h>

#include "health/pg_standby.h"

namespace sluice::health {
namespace {

TEST(PgStandbyAddress, AcceptsHostPort) {
  EXPECT_EQ(PgStandbyAddress("127.0.0.1:54321"), "127.0.0.1:54321");
  EXPECT_EQ(PgStandbyAddress("db-3.example:5432"), "db-3.example:5432");
  EXPECT_EQ(PgStandbyAddress("127.0.0.1:1"), "127.0.0.1:1");
  EXPECT_EQ(PgStandbyAddress("127.0.0.1:65535"), "127.0.0.1:65535");
}

TEST(PgStandbyAddress, SpellsBracketedV6AsServerName) {
  // Server::name() is host + ":" + port; discovery compares names.
  EXPECT_EQ(PgStandbyAddress("[::1]:5432"), "::1:5432");
}

TEST(PgStandbyAddress, RejectsWhatIsNotHostPort) {
  for (const char* name : {"", "r1", "walreceiver", "127.0.0.1", "127.0.0.1:", ":5432",
                           "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:54321x", "127.0.0.1:-5",
                           "127.0.0.1: 5432", "::1:5432", "[::1:5432", "127.0.0.1:123456"})
    EXPECT_FALSE(PgStandbyAddress(name)) << name;
}

TEST(PgConninfo, ReadsApplicationNameQuotedOrNot) {
  // What SHOW primary_conninfo returns after pg_basebackup -R.
  EXPECT_EQ(PgConninfoApplicationName("user=repl password=x host=127.0.0.1 port=5432 "
                                      "application_name='127.0.0.1:5433' sslmode=prefer"),
            "127.0.0.1:5433");
  EXPECT_EQ(PgConninfoApplicationName("host=h application_name=r1"), "r1");
  EXPECT_EQ(PgConninfoApplicationName("host=h application_name = 'a b'"), "a b");
  EXPECT_EQ(PgConninfoApplicationName("host=h fallback_application_name=x"), "");
  EXPECT_EQ(PgConninfoApplicationName("host=h"), "");
  EXPECT_EQ(PgConninfoApplicationName("host='unterminated"), "");
}

TEST(PgConninfo, QuotedValuesReadBack) {
  for (const char* v : {"127.0.0.1:5433", "a b", "it's", "back\\slash", ""}) {
    std::string ci = "host=h application_name=" + PgConninfoValue(v);
    EXPECT_EQ(PgConninfoApplicationName(ci), v) << ci;
  }
}

}  // namespace
}  // namespace sluice::health
