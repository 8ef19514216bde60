// BackendRegistry: a backend connection's slot through its life (new, active, idle, gone),
// ids that never repeat, reads from another thread while the owner writes, and a MySQL
// session's connection as SHOW SERVERS' stats_backends shows it.
#include "proxy/backend_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "mysql_session_fixture.h"
#include "proxy/session_admin.h"

namespace sluice {
namespace {

TEST(BackendRegistry, ASlotFollowsItsConnectionAndIsFreedForReuse) {
  BackendRegistry reg;
  BackendSlot* a = reg.Register(1, true, "127.0.0.1:5432", "app", "db1", 100);
  ASSERT_NE(a, nullptr);
  auto snap = reg.Snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].worker, 1);
  EXPECT_TRUE(snap[0].pgsql);
  EXPECT_EQ(snap[0].server, "127.0.0.1:5432");
  EXPECT_EQ(snap[0].user, "app");
  EXPECT_EQ(snap[0].database, "db1");
  EXPECT_EQ(snap[0].phase, BackendPhase::kNew);
  EXPECT_EQ(snap[0].opened_ms, 100);
  a->SetReady(4242, true);
  a->SetPhase(BackendPhase::kActive, 150);
  snap = reg.Snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].remote_id, 4242u);
  EXPECT_TRUE(snap[0].tls);
  EXPECT_EQ(snap[0].phase, BackendPhase::kActive);
  EXPECT_EQ(snap[0].phase_since_ms, 150);
  EXPECT_EQ(snap[0].opened_ms, 100);
  uint64_t first_id = snap[0].id;
  reg.Unregister(1, a);
  EXPECT_TRUE(reg.Snapshot().empty());
  // The slot is reused, the id is not.
  BackendSlot* b = reg.Register(1, false, "127.0.0.1:3306", "other", "", 200);
  EXPECT_EQ(b, a);
  snap = reg.Snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_NE(snap[0].id, first_id);
  EXPECT_FALSE(snap[0].tls);
  EXPECT_EQ(snap[0].remote_id, 0u);
  EXPECT_EQ(snap[0].phase, BackendPhase::kNew);
}

TEST(BackendRegistry, IdsAreUniqueAcrossWorkers) {
  BackendRegistry reg;
  std::set<uint64_t> ids;
  for (int w = 0; w < 4; ++w) {
    for (int i = 0; i < 50; ++i) {
      BackendSlot* s = reg.Register(w, false, "h:1", "u", "", 0);
      ASSERT_NE(s, nullptr);
      if (i % 2) reg.Unregister(w, s);  // half are closed again, their slots reused
    }
  }
  for (const BackendInfo& b : reg.Snapshot()) EXPECT_TRUE(ids.insert(b.id).second) << b.id;
  EXPECT_EQ(ids.size(), 100u);
  EXPECT_EQ(reg.Register(BackendRegistry::kMaxWorkers, false, "h:1", "u", "", 0), nullptr);
}

TEST(BackendRegistry, AReaderNeverSeesAHalfWrittenSlot) {
  BackendRegistry reg;
  BackendSlot* s = reg.Register(0, false, "a:1", "user-a", "db-a", 0);
  ASSERT_NE(s, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0}, reads{0};
  std::thread reader([&] {
    while (!stop.load()) {
      for (const BackendInfo& b : reg.Snapshot()) {
        // The owner always writes the three texts and the remote id together.
        char k = b.server[0];
        if (b.user != std::string("user-") + k || b.database != std::string("db-") + k)
          torn.fetch_add(1);
        reads.fetch_add(1);
      }
    }
  });
  // 20,000 rewrites. A seqlock reader retries while the owner writes, so a writer that never
  // pauses can starve it (under ASan on a loaded machine it finished 567 reads in 10 s):
  // after every 100 rewrites the writer waits for one more finished read (60 s bound in all).
  int64_t deadline = MonotonicMs() + 60000;
  for (int i = 0; i < 20000; ++i) {
    reg.Unregister(0, s);
    bool odd = i % 2;
    s = reg.Register(0, false, odd ? "b:2" : "a:1", odd ? "user-b" : "user-a",
                     odd ? "db-b" : "db-a", i);
    ASSERT_NE(s, nullptr);
    if (i % 100 == 99) {
      int seen = reads.load();
      while (reads.load() == seen && MonotonicMs() < deadline) std::this_thread::yield();
    }
  }
  stop.store(true);
  reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GE(reads.load(), 200);
}

}  // namespace
}  // namespace sluice

namespace sluice::mysqlproxy {
namespace {

class BackendRegistrySessionTest : public MysqlSessionTest {};

// The harness's session logs in, holds its connection in a transaction (active, linked to
// the session), then gives it back to the pool at COMMIT (idle, no link).
TEST_F(BackendRegistrySessionTest, StatsBackendsShowsTheConnectionActiveThenIdle) {
  LoggedIn();
  auto rows = [&] { return BackendRows(h_.shared(), MonotonicMs()); };
  EXPECT_TRUE(rows().empty());
  Query("BEGIN");
  ASSERT_TRUE(h_.RunUntil([&] { return !rows().empty(); }));
  EXPECT_EQ(rows()[0][7], "new");  // connecting and logging in
  ServerLogin(0);
  ServerGets(0, 1);
  h_.server(0).Write(
      Packet(1, Ok(mysql::SERVER_STATUS_AUTOCOMMIT | mysql::SERVER_STATUS_IN_TRANS)));
  ClientGets(1);
  auto sessions = SessionRows(h_.shared(), MonotonicMs());
  ASSERT_EQ(sessions.size(), 1u);
  auto r = rows();
  ASSERT_EQ(r.size(), 1u);
  // id, protocol, cluster, server, hostgroup, user, database, state, time_in_state_ms,
  // age_ms, remote_id, tls, client_id, worker
  EXPECT_EQ(r[0][1], "mysql");
  EXPECT_EQ(r[0][2], "app");
  EXPECT_EQ(r[0][3], "10.0.0.1:3306");
  EXPECT_EQ(r[0][4], "0");
  EXPECT_EQ(r[0][5], "app");
  EXPECT_EQ(r[0][7], "active");
  EXPECT_EQ(r[0][10], "100");  // the greeting's connection id
  EXPECT_EQ(r[0][11], "0");
  EXPECT_EQ(r[0][12], sessions[0][0]);  // linked to the session holding it
  Query("COMMIT");
  ServerGets(0, 1);
  h_.server(0).Write(Packet(1, Ok()));
  ClientGets(1);
  r = rows();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0][7], "idle");
  EXPECT_FALSE(r[0][12].has_value());
  h_.server(0).Close();  // the server goes: so does its row
  ASSERT_TRUE(h_.RunUntil([&] { return rows().empty(); }));
}

}  // namespace
}  // namespace sluice::mysqlproxy
