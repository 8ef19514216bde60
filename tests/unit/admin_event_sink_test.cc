// Tests for admin/event_sink and [[event_sink]]: payload formats, kind matching, the config
// file's and the admin table's errors, LOAD EVENT SINKS, and a sink's bounded queue against
// an endpoint that refuses connections.
#include "admin/event_sink.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "admin/admin_service.h"
#include "admin/config_file.h"
#include "tests/unit/admin_fixture.h"

namespace sluice {
namespace {

// kBase: 11 lines, appended text starts on line 12.
constexpr const char* kBase = testfix::kOneClusterConfig;
constexpr auto Error = &testfix::ConfigErrorWith;

Event Ev(std::string kind, std::string message) {
  return Event{1764589200123, std::move(kind), "app", "127.0.0.1:3306", std::move(message)};
}

TEST(EventSinkFormatTest, JsonCarriesClusterNodeReasonTime) {
  EXPECT_EQ(FormatEvent(Ev("FAILOVER_DONE", "promoted \"b\"\n\x01"), "json"),
            "{\"source\":\"sluice\",\"kind\":\"FAILOVER_DONE\",\"cluster\":\"app\","
            "\"node\":\"127.0.0.1:3306\",\"reason\":\"promoted \\\"b\\\"\\n\\u0001\","
            "\"time\":\"2025-12-01T11:40:00.123Z\",\"time_unix_ms\":1764589200123}");
}

TEST(EventSinkFormatTest, SlackIsOneTextField) {
  EXPECT_EQ(FormatEvent(Ev("SWITCHOVER", "a <b> & c"), "slack"),
            "{\"text\":\"[sluice] *SWITCHOVER* cluster `app` node `127.0.0.1:3306`: "
            "a &lt;b&gt; &amp; c (2025-12-01T11:40:00.123Z)\"}");
  Event no_node = Ev("LOAD", "x");
  no_node.server.clear();
  no_node.cluster.clear();
  EXPECT_EQ(FormatEvent(no_node, "slack"),
            "{\"text\":\"[sluice] *LOAD* cluster `-`: x (2025-12-01T11:40:00.123Z)\"}");
}

TEST(EventSinkFormatTest, KindsMatchExactlyOrByPrefix) {
  EXPECT_TRUE(EventKindMatches({}, "ANY"));
  EXPECT_TRUE(EventKindMatches({"FAILOVER"}, "FAILOVER"));
  EXPECT_FALSE(EventKindMatches({"FAILOVER"}, "FAILOVER_DONE"));
  EXPECT_TRUE(EventKindMatches({"LOAD", "FAILOVER*"}, "FAILOVER_DONE"));
  EXPECT_FALSE(EventKindMatches({"SWITCHOVER*"}, "FAILOVER"));
  EXPECT_TRUE(EventKindMatches({"*"}, "STATE"));
}

TEST(EventSinkConfigTest, ReadsEveryKey) {
  Result<Runtime> r = ParseConfig(std::string(kBase) + R"([[event_sink]]
name = "chat"
url = "https://hooks.example/T1"
kinds = ["FAILOVER*", "SCHEMA_CHANGED"]
format = "slack"
queue_size = 50
timeout_ms = 1500
retry_backoff_ms = 100
retry_max_backoff_ms = 800
)",
                                  "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->event_sinks.size(), 1u);
  const EventSinkConfig& e = r->event_sinks[0];
  EXPECT_EQ(e.name, "chat");
  EXPECT_EQ(e.url, "https://hooks.example/T1");
  EXPECT_EQ(e.kinds, (std::vector<std::string>{"FAILOVER*", "SCHEMA_CHANGED"}));
  EXPECT_EQ(e.format, "slack");
  EXPECT_EQ(e.queue_size, 50);
  EXPECT_EQ(e.timeout_ms, 1500);
  EXPECT_EQ(e.retry_backoff_ms, 100);
  EXPECT_EQ(e.retry_max_backoff_ms, 800);
}

TEST(EventSinkConfigTest, MistakesNameFileLineKey) {
  EXPECT_EQ(Error("[[event_sink]]\nname = \"a\"\n"),
            "t.toml:12: event_sink[0].url: missing required key");
  EXPECT_EQ(Error("[[event_sink]]\nname = \"a\"\nurl = \"ftp://x\"\n"),
            "t.toml:14: event_sink[0].url: expected an http:// or https:// URL, got \"ftp://x\"");
  EXPECT_EQ(Error("[[event_sink]]\nname = \"a\"\nurl = \"http://x\"\nformat = \"xml\"\n"),
            "t.toml:15: event_sink[0].format: expected one of json|slack, got \"xml\"");
  std::string kind =
      Error("[[event_sink]]\nname = \"a\"\nurl = \"http://x\"\nkinds = [\"FAILOVR\"]\n");
  EXPECT_EQ(kind.rfind("t.toml:15: event_sink[0].kinds: unknown event kind \"FAILOVR\"", 0), 0u)
      << kind;
  EXPECT_EQ(Error("[[event_sink]]\nname = \"a\"\nurl = \"http://x\"\nkinds = \"LOAD\"\n"),
            "t.toml:15: event_sink[0].kinds: expected an array of strings such as [\"FAILOVER\"]");
  EXPECT_EQ(Error("[[event_sink]]\nname = \"a\"\nurl = \"http://x\"\nqueue_size = 0\n"),
            "t.toml:15: event_sink[0].queue_size: expected 1..100000, got 0");
  EXPECT_EQ(Error("[[event_sink]]\nname = \"a\"\nurl = \"http://x\"\nretry_backoff_ms = 500\n"
                  "retry_max_backoff_ms = 100\n"),
            "t.toml:16: event_sink[0].retry_max_backoff_ms: expected at least retry_backoff_ms "
            "(500), got 100");
  EXPECT_EQ(Error("[[event_sink]]\nname = \"a\"\nurl = \"http://x\"\n"
                  "[[event_sink]]\nname = \"a\"\nurl = \"http://y\"\n"),
            "t.toml:16: event_sink[1].name: duplicate event sink \"a\" (the first is "
            "event_sink[0])");
  EXPECT_EQ(Error("[[event_sink]]\nname = \"a\"\nurl = \"http://x\"\nretries = 3\n"),
            "t.toml:15: event_sink[0].retries: unknown key");
}

class EventSinkStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cfg = ParseConfig(
        std::string(kBase) + "[[event_sink]]\nname = \"a\"\nurl = \"http://x\"\n", "t.toml");
    ASSERT_TRUE(cfg.ok()) << cfg.status().message();
    auto s = AdminService::Open(*cfg, &events_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    svc_ = std::move(s).value();
    auto rt = svc_->StartupRuntime();
    ASSERT_TRUE(rt.ok()) << rt.status().message();
    holder_.Publish(std::make_shared<const Runtime>(*rt));
    svc_->Attach(&holder_, nullptr);
  }
  std::string Run(const std::string& sql) {
    auto r = svc_->Execute(sql);
    return r.ok() ? "ok" : r.status().message();
  }
  EventLog events_;
  RuntimeHolder holder_;
  std::unique_ptr<AdminService> svc_;
};

TEST_F(EventSinkStoreTest, LoadEventSinksToRuntime) {
  auto rows = svc_->Execute("SELECT name, url, kinds, format, queue_size FROM event_sinks");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->rows.size(), 1u);
  EXPECT_EQ(rows->rows[0], (SqlRow{"a", "http://x", "", "json", "1000"}));
  EXPECT_EQ(Run("INSERT INTO event_sinks (name, url, kinds, format) VALUES "
                "('chat', 'http://127.0.0.1:9/hook', 'FAILOVER*,SWITCHOVER_DONE', 'slack')"),
            "ok");
  EXPECT_EQ(Run("LOAD EVENT SINKS TO RUNTIME"), "ok");
  RuntimePtr rt = holder_.Load();
  ASSERT_EQ(rt->event_sinks.size(), 2u);
  EXPECT_EQ(rt->event_sinks[1].kinds, (std::vector<std::string>{"FAILOVER*", "SWITCHOVER_DONE"}));
  EXPECT_EQ(rt->event_sinks[1].format, "slack");
  auto runtime_rows = svc_->Execute("SELECT name, kinds FROM runtime_event_sinks ORDER BY name");
  ASSERT_TRUE(runtime_rows.ok());
  ASSERT_EQ(runtime_rows->rows.size(), 2u);
  EXPECT_EQ(runtime_rows->rows[1], (SqlRow{"chat", "FAILOVER*,SWITCHOVER_DONE"}));

  EXPECT_EQ(Run("UPDATE event_sinks SET format = 'xml' WHERE name = 'chat'"), "ok");
  EXPECT_EQ(Run("LOAD EVENT SINKS TO RUNTIME"),
            "event_sinks row (name=chat): format: expected one of json|slack, got \"xml\"");
  EXPECT_EQ(Run("UPDATE event_sinks SET format = 'json', timeout_ms = 'soon' WHERE name = 'chat'"),
            "ok");
  EXPECT_EQ(Run("LOAD EVENT SINKS TO RUNTIME"),
            "event_sinks row (name=chat): timeout_ms: expected integer, got \"soon\"");
  EXPECT_EQ(holder_.Load()->event_sinks.size(), 2u);  // the refused LOADs changed nothing
  EXPECT_EQ(holder_.Load()->event_sinks[1].format, "slack");
}

// A port nothing listens on: every POST fails at once and is retried after the backoff.
int ClosedPort() {
  return 9;  // discard: not served on the test machines; a refused connect is what we need
}

TEST(EventSinksTest, DownSinkKeepsItsBoundAndCountsDrops) {
  EventSinkConfig c;
  c.name = "down";
  c.url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/";
  c.queue_size = 2;
  c.timeout_ms = 200;
  c.retry_backoff_ms = 60'000;  // the first event stays in hand for the whole test
  c.retry_max_backoff_ms = 60'000;
  EventSinks sinks;
  sinks.Configure({c});
  sinks.Offer(Ev("LOAD", "0"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (sinks.Stats()[0].failed_attempts == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(sinks.Stats()[0].failed_attempts, 1u);
  auto start = std::chrono::steady_clock::now();
  for (int i = 1; i <= 4; ++i) sinks.Offer(Ev("LOAD", std::to_string(i)));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::milliseconds(50));  // offering never waits for the network
  EventSinkStats s = sinks.Stats()[0];
  EXPECT_EQ(s.queued, 3u);   // the one in hand and the bound of 2
  EXPECT_EQ(s.dropped, 2u);  // 1 and 2 were pushed out by 3 and 4
  EXPECT_EQ(s.sent, 0u);
  EXPECT_FALSE(s.last_error.empty());
  // Kinds the sink does not take are not queued (and not dropped).
  sinks.Configure({});
  EXPECT_TRUE(sinks.Stats().empty());
  c.kinds = {"FAILOVER*"};
  sinks.Configure({c});
  sinks.Offer(Ev("LOAD", "x"));
  EXPECT_EQ(sinks.Stats()[0].queued, 0u);
  EXPECT_EQ(sinks.Stats()[0].dropped, 0u);
}

TEST(EventSinksTest, UnchangedSinkKeepsItsQueueAcrossConfigure) {
  EventSinkConfig c;
  c.name = "keep";
  c.url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/";
  c.retry_backoff_ms = 60'000;
  c.retry_max_backoff_ms = 60'000;
  EventSinks sinks;
  sinks.Configure({c});
  for (int i = 0; i < 3; ++i) sinks.Offer(Ev("LOAD", std::to_string(i)));
  EXPECT_EQ(sinks.Stats()[0].queued, 3u);
  sinks.Configure({c});
  EXPECT_EQ(sinks.Stats()[0].queued, 3u);
}

}  // namespace
}  // namespace sluice
