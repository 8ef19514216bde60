// A PostgreSQL session's backend connection as stats_backends (SHOW SERVERS) shows it: the
// login's own connection idle in the pool, active and linked to the session inside a
// transaction, idle again after it, gone when the server closes it.
#include <gtest/gtest.h>

#include "pgsql_session_fixture.h"
#include "proxy/session_admin.h"

namespace sluice::pgproxy {
namespace {

class PgBackendRegistryTest : public PgSessionTest {};

TEST_F(PgBackendRegistryTest, StatsBackendsFollowsTheConnection) {
  LoggedIn();
  auto rows = [&] { return BackendRows(h_.shared(), MonotonicMs()); };
  auto r = rows();
  ASSERT_EQ(r.size(), 1u);
  // id, protocol, cluster, server, hostgroup, user, database, state, time_in_state_ms,
  // age_ms, remote_id, tls, client_id, worker
  EXPECT_EQ(r[0][1], "pgsql");
  EXPECT_EQ(r[0][2], "app");
  EXPECT_EQ(r[0][3], "10.0.0.1:5432");
  EXPECT_EQ(r[0][5], "app");
  EXPECT_EQ(r[0][7], "idle");
  EXPECT_EQ(r[0][10], "500");  // BackendKeyData's pid
  EXPECT_FALSE(r[0][12].has_value());
  std::string ptr = *r[0][0];
  h_.client().Write(Query("BEGIN"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("BEGIN") + Ready('T'));
  ClientUntil('Z');
  auto sessions = SessionRows(h_.shared(), MonotonicMs());
  ASSERT_EQ(sessions.size(), 1u);
  r = rows();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0][0], ptr);  // the pooled connection, reused
  EXPECT_EQ(r[0][7], "active");
  EXPECT_EQ(r[0][12], sessions[0][0]);
  h_.client().Write(Query("COMMIT"));
  ServerUntil(0, 'Q');
  h_.server(0).Write(Complete("COMMIT") + Ready());
  ClientUntil('Z');
  r = rows();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0][7], "idle");
  EXPECT_FALSE(r[0][12].has_value());
  h_.server(0).Close();
  ASSERT_TRUE(h_.RunUntil([&] { return rows().empty(); }));
}

}  // namespace
}  // namespace sluice::pgproxy
