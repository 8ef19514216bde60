// PgSession's login while the primary is held or does not answer, from bytes: answered by
// sluice from what an earlier backend login of the cluster, database and user reported
// (proxy/pgsql/login_params.h), the database checked by the first statement's backend.
#include <gtest/gtest.h>

#include "protocol/pgsql/backend.h"
#include "proxy/pgsql/login_params.h"
#include "proxy/pgsql/session.h"
#include "tests/unit/pgsql_session_fixture.h"

namespace sluice::pgproxy {
namespace {

class PgLoginTest : public PgSessionTest {
 protected:
  // A first client logs in (its backend teaches the cache) and leaves; the backend stays
  // in the pool unless KILL_BACKEND (the primary died with it).
  void Prime(bool kill_backend) {
    LoggedIn();
    h_.client().Write(Typed('X', ""));
    h_.Settle();
    if (kill_backend) {
      h_.server(0).Close();
      h_.Settle();
    }
  }
  void PauseWrites() {
    h_.Publish([](Runtime* rt) { rt->clusters[0].writes_paused = true; });
    h_.Settle();
    h_.RunUntil([&] { return false; }, 150);  // the worker sees the snapshot
  }
  // The second client's login up to ReadyForQuery; the messages after the client's final.
  std::vector<Msg> SecondLogin() {
    buf_.clear();
    Connect();
    return ScramLogin("app_pw", 'Z');
  }
  static std::string Param(const std::vector<Msg>& got, const std::string& name) {
    for (const Msg& m : got)
      if (m.type == 'S' && m.body.compare(0, name.size() + 1, name + '\0') == 0)
        return m.body.substr(name.size() + 1, m.body.size() - name.size() - 2);
    return "<none>";
  }
};

TEST(PgLoginParamsTest, KeyedByClusterDatabaseAndUserAndBounded) {
  PgLoginParams c;
  std::map<std::string, std::string> params{{"server_version", "16.0"}, {"datestyle", "ISO"}};
  std::map<std::string, std::string> names{{"datestyle", "DateStyle"}};
  c.Learn("pg", "db", "app", params, names);
  const PgLoginParams::Params* p = c.Find("pg", "db", "app");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].first, "DateStyle");  // the server's own spelling
  EXPECT_EQ(c.Find("pg", "db", "other"), nullptr);
  EXPECT_EQ(c.Find("pg", "other", "app"), nullptr);
  EXPECT_EQ(c.Find("other", "db", "app"), nullptr);
  for (size_t i = 0; i < PgLoginParams::kMaxEntries + 10; ++i)
    c.Learn("pg", "db" + std::to_string(i), "app", params, names);
  EXPECT_EQ(c.size(), PgLoginParams::kMaxEntries);
}

// Before: the login waited in the write hold for the new primary (a client whose connect
// timeout is shorter than the failover gave up). Now AuthenticationOk … ReadyForQuery come
// from sluice with no backend; the first write waits in the hold and runs after it.
TEST_F(PgLoginTest, ALoginWhileWritesAreHeldIsAnsweredWithoutABackend) {
  Prime(false);
  PauseWrites();
  auto got = SecondLogin();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().type, 'Z');
  EXPECT_EQ(Param(got, "server_version"), "16.0");
  EXPECT_EQ(Param(got, "work_mem"), "4MB");
  EXPECT_EQ(Param(got, "application_name"), "");
  bool key = false;
  for (const Msg& m : got) key |= m.type == 'K';
  EXPECT_TRUE(key);
  EXPECT_EQ(h_.dialed(), 1u);
  EXPECT_EQ(evbuffer_get_length(h_.server(0).in()), 0u);
  h_.client().Write(Query("INSERT INTO t VALUES (1)"));
  h_.RunUntil([&] { return false; }, 150);
  EXPECT_EQ(evbuffer_get_length(h_.server(0).in()), 0u);  // held
  h_.Publish([](Runtime* rt) { rt->clusters[0].writes_paused = false; });
  auto q = ServerUntil(0, 'Q');
  ASSERT_FALSE(q.empty());
  EXPECT_NE(q.back().body.find("INSERT INTO t VALUES (1)"), std::string::npos);
  h_.server(0).Write(Complete("INSERT 0 1") + Ready());
  EXPECT_EQ(ClientUntil('Z').front().type, 'C');
}

// The primary refused the login's connect (killed): held after the refused connect, then
// answered from the cache at once; the write goes to the new primary after the promotion.
TEST_F(PgLoginTest, ALoginThePrimaryRefusesIsAnsweredAndItsWriteRunsAfterThePromotion) {
  Prime(true);
  h_.dialer().refuse_ips = {"10.0.0.1"};
  auto got = SecondLogin();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().type, 'Z');
  EXPECT_EQ(Param(got, "server_version"), "16.0");
  h_.client().Write(Query("INSERT INTO t VALUES (2)"));
  h_.RunUntil([&] { return false; }, 150);
  buf_ += h_.client().TakeAll();
  EXPECT_EQ(TakeMessages(&buf_).size(), 0u);  // held, no error
  h_.Publish(sluice::testing::PromoteReplica);
  ASSERT_TRUE(h_.RunUntil([&] { return h_.LastDialedTo("10.0.0.2") >= 0; }));
  size_t i = static_cast<size_t>(h_.LastDialedTo("10.0.0.2"));
  ServerLogin(i);
  auto q = ServerUntil(i, 'Q');
  ASSERT_FALSE(q.empty());
  EXPECT_NE(q.back().body.find("INSERT INTO t VALUES (2)"), std::string::npos);
  h_.server(i).Write(Complete("INSERT 0 1") + Ready());
  EXPECT_EQ(ClientUntil('Z').front().type, 'C');
}

// A hung primary: its connect is accepted, its login never answers. After kLoginAnswerMs
// the client is logged in by sluice; the login under way lands in the pool when it ends.
TEST_F(PgLoginTest, ALoginWhoseBackendDoesNotAnswerIsAnsweredBySluice) {
  Prime(true);
  auto got = SecondLogin();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().type, 'Z');
  EXPECT_EQ(Param(got, "work_mem"), "4MB");
  ASSERT_EQ(h_.dialed(), 2u);  // the login's own connect, still without an answer
  ServerLogin(1);
  ASSERT_TRUE(h_.RunUntil([&] { return h_.worker().pools().idle_count() == 1; }));
  h_.client().Write(Query("INSERT INTO t VALUES (4)"));
  auto q = ServerUntil(1, 'Q');
  ASSERT_FALSE(q.empty());
  EXPECT_EQ(h_.dialed(), 2u);  // on the connection the login opened
  h_.server(1).Write(Complete("INSERT 0 1") + Ready());
  EXPECT_EQ(ClientUntil('Z').front().type, 'C');
}

// The database is checked by the first statement: the server's FATAL 3D000 reaches the
// client as PostgreSQL's own login would have ended, and the session closes.
TEST_F(PgLoginTest, ADatabaseTheFirstStatementsLoginRefusesIsFatal3D000) {
  Prime(true);
  PauseWrites();
  auto got = SecondLogin();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back().type, 'Z');
  h_.client().Write(Query("INSERT INTO t VALUES (3)"));
  h_.RunUntil([&] { return false; }, 150);
  h_.Publish([](Runtime* rt) { rt->clusters[0].writes_paused = false; });
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() == 2u; }));
  ASSERT_TRUE(h_.RunUntil([&] { return evbuffer_get_length(h_.server(1).in()) >= 8; }));
  h_.server(1).TakeAll();
  std::string err;
  pgsql::AppendErrorResponse(
      &err, pgsql::ErrorSpec{"FATAL", "3D000", "database \"db\" does not exist", "", ""});
  h_.server(1).Write(err);
  h_.server(1).Close();
  auto fatal = ClientUntil('E');
  ASSERT_FALSE(fatal.empty());
  EXPECT_NE(fatal.back().body.find("FATAL"), std::string::npos);
  EXPECT_NE(fatal.back().body.find("3D000"), std::string::npos);
  EXPECT_NE(fatal.back().body.find("does not exist"), std::string::npos);
  h_.Settle();
  EXPECT_EQ(h_.shared().cluster_counters[0]->client_connections.load(), 0);  // closed
}

// The first login ever of a database has nothing to answer from: it still waits.
TEST_F(PgLoginTest, TheFirstLoginOfADatabaseStillWaitsForABackend) {
  PauseWrites();
  auto got = SecondLogin();
  for (const Msg& m : got) EXPECT_NE(m.type, 'Z');
  EXPECT_EQ(h_.dialed(), 0u);
}

}  // namespace
}  // namespace sluice::pgproxy
