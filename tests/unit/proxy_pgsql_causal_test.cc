// PostgreSQL causal reads from bytes: a write's position read on its own connection after
// the client has its answer, the read's position check on the replica (found: the read
// runs there; not found: the primary), the monitor's position that makes the check
// unnecessary, and the statistics of each (stats_consistency).
#include <gtest/gtest.h>

#include "proxy/shared.h"
#include "tests/unit/pg_session_fixture.h"

namespace sluice::pgproxy {
namespace {

std::string OneValue(std::string_view value) {
  std::string out;
  pgsql::FieldDescription f;
  f.name = "v";
  f.type_oid = 25;
  pgsql::AppendRowDescription(&out, std::span<const pgsql::FieldDescription>(&f, 1));
  std::optional<std::string_view> v = value;
  pgsql::AppendDataRow(&out, std::span<const std::optional<std::string_view>>(&v, 1));
  out += Complete("SELECT 1");
  return out;
}

class PgCausalTest : public PgSessionTest {
 protected:
  void SetUp() override {
    h_.Publish([](Runtime* rt) { rt->clusters[0].consistency = Consistency::kSession; });
    h_.Settle();
  }
  // The client writes; its connection (server 0) answers, then is asked for the position.
  void WriteAt(std::string_view lsn) {
    h_.client().Write(Query("INSERT INTO t VALUES (1)"));
    ServerUntil(0, 'Q');
    h_.server(0).Write(Complete("INSERT 0 1") + Ready());
    auto got = ClientUntil('Z');  // the client's answer comes first
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.front().type, 'C');
    auto probe = ServerUntil(0, 'Q');
    ASSERT_EQ(probe.size(), 1u);
    EXPECT_EQ(probe[0].body, std::string("SELECT pg_current_wal_lsn()") + '\0');
    h_.server(0).Write(OneValue(lsn) + Ready());
    h_.Settle();
  }
  // The client's read (its text contains `what`) arrives at server i, which answers it.
  void ReadArrives(size_t i, std::string_view what) {
    auto read = ServerUntil(i, 'Q');
    ASSERT_EQ(read.size(), 1u);
    EXPECT_NE(read[0].body.find(what), std::string::npos);
    h_.server(i).Write(Complete("SELECT 1") + Ready());
    EXPECT_EQ(ClientUntil('Z').front().type, 'C');
  }
  const ConsistencyStats& Stats() { return h_.stats().consistency["app"]; }
};

TEST_F(PgCausalTest, ReadRunsOnTheReplicaThatShowsTheWritesPosition) {
  LoggedIn();
  WriteAt("0/3000060");
  h_.client().Write(Query("SELECT v FROM t WHERE id = 1"));
  ServerLogin(1);  // the replica's connection
  EXPECT_EQ(h_.server(1).address, "10.0.0.2");
  auto check = ServerUntil(1, 'Q');
  ASSERT_EQ(check.size(), 1u);
  EXPECT_NE(check[0].body.find("pg_last_wal_replay_lsn() >= '0/3000060'"), std::string::npos);
  h_.server(1).Write(OneValue("t") + Ready());
  ReadArrives(1, "WHERE id = 1");
  EXPECT_EQ(Stats().waits, 1u);
  EXPECT_EQ(Stats().reads_replica, 1u);
  EXPECT_EQ(Stats().wait_timeouts, 0u);
  EXPECT_EQ(Stats().reads_kept_primary, 0u);
  // The same replica showed it: the next read needs no check.
  h_.client().Write(Query("SELECT v FROM t WHERE id = 2"));
  ReadArrives(1, "WHERE id = 2");
  EXPECT_EQ(Stats().waits, 1u);
  EXPECT_EQ(Stats().reads_replica, 2u);
}

TEST_F(PgCausalTest, ReadGoesToThePrimaryWhenTheReplicaLacksThePosition) {
  LoggedIn();
  WriteAt("0/3000060");
  h_.client().Write(Query("SELECT v FROM t WHERE id = 1"));
  ServerLogin(1);
  ServerUntil(1, 'Q');
  h_.server(1).Write(OneValue("f") + Ready());
  ReadArrives(0, "WHERE id = 1");  // on the primary's connection, back from the pool
  EXPECT_EQ(Stats().waits, 1u);
  EXPECT_EQ(Stats().wait_timeouts, 1u);
  EXPECT_EQ(Stats().reads_kept_primary, 1u);
  EXPECT_EQ(Stats().reads_replica, 0u);
}

TEST_F(PgCausalTest, WaitBoundGoesIntoTheCheck) {
  h_.Publish([](Runtime* rt) { rt->clusters[0].consistency_wait_ms = 2000; });
  h_.Settle();
  LoggedIn();
  WriteAt("0/3000060");
  h_.client().Write(Query("SELECT 1"));
  ServerLogin(1);
  auto check = ServerUntil(1, 'Q');
  ASSERT_EQ(check.size(), 1u);
  EXPECT_NE(check[0].body.find("generate_series(0, 400)"), std::string::npos);
}

TEST_F(PgCausalTest, MonitorPositionCoveringTheTargetSkipsTheCheck) {
  LoggedIn();
  WriteAt("0/3000060");
  routing::CausalPosition seen;
  seen.MergeLsn(*routing::ParseLsnText("0/3000100"));
  h_.shared().cluster_counters[0]->positions.Publish("10.0.0.2", 5432, seen);
  h_.client().Write(Query("SELECT v FROM t WHERE id = 1"));
  ServerLogin(1);
  ReadArrives(1, "WHERE id = 1");  // the read itself, no check before it
  EXPECT_EQ(Stats().waits, 0u);
  EXPECT_EQ(Stats().reads_by_position, 1u);
  EXPECT_EQ(Stats().reads_replica, 1u);
}

TEST_F(PgCausalTest, UnknownWritePositionKeepsReadsOnThePrimary) {
  LoggedIn();
  h_.client().Write(Query("INSERT INTO t VALUES (1)"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("INSERT 0 1") + Ready());
  ClientUntil('Z');
  ServerUntil(0, 'Q');  // the position query fails (a standby answers it so)
  std::string err;
  pgsql::AppendErrorResponse(&err,
                             pgsql::ErrorSpec{"ERROR", "55000", "recovery is in progress", "", ""});
  h_.server(0).Write(err + Ready());
  h_.client().Write(Query("SELECT 1"));
  ReadArrives(0, "SELECT 1");
  EXPECT_EQ(h_.dialed(), 1u);
  EXPECT_EQ(Stats().reads_kept_primary, 1u);
}

TEST_F(PgCausalTest, NoPositionQueryUnderEventual) {
  h_.Publish([](Runtime* rt) { rt->clusters[0].consistency = Consistency::kEventual; });
  h_.Settle();
  LoggedIn();
  h_.client().Write(Query("INSERT INTO t VALUES (1)"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("INSERT 0 1") + Ready());
  ClientUntil('Z');
  h_.client().Write(Query("INSERT INTO t VALUES (2)"));
  auto next = ServerUntil(0, 'Q');
  ASSERT_EQ(next.size(), 1u);
  EXPECT_NE(next[0].body.find("(2)"), std::string::npos);
}

}  // namespace
}  // namespace sluice::pgproxy
