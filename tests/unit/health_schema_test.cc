// Tests for health/schema_diff (shapes, fingerprints, differences) and health/schema_watch
// against a scripted fake Node: one catalog query per round, SCHEMA_CHANGED with the diff,
// nothing on an unchanged round, and skipped rounds when a round outlasts the interval.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "health/schema_diff.h"
#include "health/schema_watch.h"

namespace sluice::health {
namespace {

std::vector<CatalogRow> Base() {
  return {{"table", "app", "t", "", "BASE TABLE"},
          {"column", "app", "t", "id", "int(11) NOT NULL"},
          {"column", "app", "t", "v", "int(11)"},
          {"index", "app", "t", "PRIMARY", "UNIQUE BTREE (id)"},
          {"index", "app", "t", "idx_v", "BTREE (v)"},
          {"constraint", "app", "t", "PRIMARY", "PRIMARY KEY"}};
}

TEST(SchemaDiffTest, FingerprintIsStableAndOrderFree) {
  auto rows = Base();
  auto a = BuildShapes(rows);
  std::reverse(rows.begin(), rows.end());
  auto b = BuildShapes(rows);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(Fingerprint(a["app"]), Fingerprint(b["app"]));
  EXPECT_EQ(Fingerprint(a["app"]).size(), 16u);
  EXPECT_TRUE(DiffSchemas(a["app"], b["app"]).empty());
}

TEST(SchemaDiffTest, NamesEveryKindOfChange) {
  auto before = BuildShapes(Base())["app"];
  auto rows = Base();
  rows[2].definition = "bigint(20)";                           // v retyped
  rows.erase(rows.begin() + 4);                                // idx_v dropped
  rows.push_back({"column", "app", "t", "c", "varchar(10)"});  // c added
  rows.push_back({"index", "app", "t", "idx_c", "BTREE (c)"});
  rows.push_back({"table", "app", "u", "", "BASE TABLE"});
  rows.push_back({"column", "app", "u", "id", "int"});
  auto after = BuildShapes(rows)["app"];
  EXPECT_NE(Fingerprint(before), Fingerprint(after));
  EXPECT_EQ(DiffSchemas(before, after),
            (std::vector<std::string>{"column added: t.c (varchar(10))",
                                      "column retyped: t.v: int(11) -> bigint(20)",
                                      "index added: t.idx_c (BTREE (c))", "index dropped: t.idx_v",
                                      "table added: u (1 columns)"}));
  EXPECT_EQ(DiffSchemas(after, before).back(), "table dropped: u");
}

TEST(SchemaDiffTest, MessageIsBounded) {
  std::vector<std::string> many(25, "column added: t.c (int)");
  std::string msg = ChangeMessage("app", many);
  EXPECT_EQ(msg.rfind("schema app: column added: t.c (int); ", 0), 0u);
  EXPECT_NE(msg.find("; and 5 more"), std::string::npos);
}

// A Node whose catalog query returns the rows the test sets, after a delay it sets.
struct Script {
  std::mutex mu;
  std::vector<CatalogRow> rows = Base();
  int delay_ms = 0;
  std::atomic<int> queries{0};
};

class FakeNode : public Node {
 public:
  explicit FakeNode(Script* s) : s_(s) {}
  Result<NodeCheck> Check() override { return NodeCheck{}; }
  Result<Rows> Query(const std::string& sql) override {
    if (sql.rfind("SET ", 0) == 0) return Rows{};
    int delay;
    Rows out;
    {
      std::lock_guard<std::mutex> lock(s_->mu);
      delay = s_->delay_ms;
      for (const CatalogRow& r : s_->rows)
        out.push_back({r.what, r.schema, r.table, r.name, r.definition});
    }
    ++s_->queries;
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    return out;
  }
  void Close() override {}
  // The failover actions: a schema watch never takes them.
  Status Promote(const NodeCheck&) override { return Internal("not in this test"); }
  Result<std::string> Fence(const std::vector<std::string>&) override {
    return Internal("not in this test");
  }
  Status Unfence() override { return Internal("not in this test"); }
  Status Repoint(const ReplicationSource&, bool) override { return Internal("not in this test"); }
  Status WaitApplied(const Position&, int) override { return Internal("not in this test"); }
  bool CanRejoinLive() const override { return false; }

 private:
  Script* s_;
};

class SchemaWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Runtime rt;
    Cluster c;
    c.name = "app";
    c.monitor_user = "m";
    c.schema_watch_interval_ms = 100;
    Server p;
    p.host = "127.0.0.1";
    p.port = 3306;
    p.role = ServerRole::kPrimary;
    c.servers.push_back(p);
    rt.clusters.push_back(c);
    topology_.SetConfig(rt);
    watch_ = std::make_unique<SchemaWatch>(
        &topology_, "app",
        [this](std::string_view kind, std::string_view, std::string_view server,
               const std::string& msg) {
          std::lock_guard<std::mutex> lock(mu_);
          events_.push_back(std::string(kind) + " " + std::string(server) + " " + msg);
        },
        [this](const NodeOptions&, const std::string&) {
          return std::make_unique<FakeNode>(&script_);
        });
    watch_->Start();
  }
  void TearDown() override { watch_->Stop(); }

  void WaitRounds(uint64_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (watch_->Counters().rounds < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_GE(watch_->Counters().rounds, n);
  }
  std::vector<std::string> Events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

  RuntimeHolder holder_;
  Topology topology_{&holder_};
  Script script_;
  std::mutex mu_;
  std::vector<std::string> events_;
  std::unique_ptr<SchemaWatch> watch_;
};

TEST_F(SchemaWatchTest, RaisesOnChangeOnly) {
  WaitRounds(4);
  EXPECT_TRUE(Events().empty());  // the first round is the baseline; nothing changed since
  EXPECT_EQ(static_cast<uint64_t>(script_.queries.load()), watch_->Counters().rounds);
  auto schemas = watch_->Schemas();
  ASSERT_EQ(schemas.size(), 1u);
  EXPECT_EQ(schemas[0].tables, 1);
  EXPECT_EQ(schemas[0].columns, 2);
  EXPECT_EQ(schemas[0].changed_unix_ms, 0);
  std::string before = schemas[0].fingerprint;
  {
    std::lock_guard<std::mutex> lock(script_.mu);
    script_.rows.push_back({"column", "app", "t", "c", "int(11)"});
  }
  uint64_t r = watch_->Counters().rounds;
  WaitRounds(r + 2);
  ASSERT_EQ(Events().size(), 1u);
  EXPECT_EQ(Events()[0], "SCHEMA_CHANGED 127.0.0.1:3306 schema app: column added: t.c (int(11))");
  schemas = watch_->Schemas();
  EXPECT_NE(schemas[0].fingerprint, before);
  EXPECT_EQ(schemas[0].last_diff, "column added: t.c (int(11))");
  EXPECT_GT(schemas[0].changed_unix_ms, 0);
  EXPECT_EQ(watch_->Counters().changes, 1u);
  WaitRounds(watch_->Counters().rounds + 3);
  EXPECT_EQ(Events().size(), 1u);
}

TEST_F(SchemaWatchTest, SlowRoundSkipsTheRoundsThatFellDue) {
  WaitRounds(1);
  EXPECT_EQ(watch_->Counters().skipped, 0u);
  {
    std::lock_guard<std::mutex> lock(script_.mu);
    script_.delay_ms = 450;  // 4 intervals of 100 ms fall due while it runs
  }
  uint64_t r = watch_->Counters().rounds;
  WaitRounds(r + 2);
  SchemaWatchCounters c = watch_->Counters();
  EXPECT_GE(c.skipped, 4u);
  // One query per round: a skipped round runs nothing.
  EXPECT_EQ(static_cast<uint64_t>(script_.queries.load()), c.rounds + c.errors);
}

}  // namespace
}  // namespace sluice::health
