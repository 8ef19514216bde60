// The mirror report on the admin surface, fed through the report's API (nothing produces
// outcomes yet, issue #15): stats_mirror, stats_mirror_digest (+ _reset), MIRROR REPORT
// with and without TO '<file>.html', the MIRROR_REGRESSION event in stats_events, and the
// Prometheus families.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "admin/config_file.h"
#include "admin/control_plane.h"
#include "admin/metrics_exporter.h"
#include "tests/unit/admin_fixture.h"

namespace sluice {
namespace {

constexpr char kConfig[] = R"([admin]
password = "pw"
[[cluster]]
name = "app"
protocol = "mysql"
listen = "127.0.0.1:6033"
monitor_user = "m"
  [[cluster.server]]
  host = "127.0.0.1"
  port = 3306
  role = "primary"
[[user]]
name = "u"
password = "p"
cluster = "app"
)";

mirror::OutcomePair Pair(uint64_t digest, const char* text, uint64_t src_us, uint64_t sh_us,
                         bool sh_ok = true, uint64_t sh_sum = 1) {
  static uint64_t seq = 0;
  mirror::Outcome a;
  a.mirror = "shadow1";
  a.digest_hash = digest;
  a.digest_text = text;
  a.seq = ++seq;
  a.end_us = static_cast<int64_t>(src_us);
  a.read = true;
  a.rows_returned = 1;
  a.checksum = 1;
  mirror::Outcome b = a;
  b.side = mirror::Side::kShadow;
  b.end_us = static_cast<int64_t>(sh_us);
  b.ok = sh_ok;
  b.checksum = sh_sum;
  if (!sh_ok) b.error = {1054, "42S22", "Unknown column 'k' in 'field list'"};
  return {a, b};
}

class MirrorAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cfg = ParseConfig(kConfig, "t.toml");
    ASSERT_TRUE(cfg.ok()) << cfg.status().message();
    auto cp = ControlPlane::Open(*cfg);
    ASSERT_TRUE(cp.ok()) << cp.status().message();
    cp_ = std::move(cp).value();
    mirror::ReportSettings s;
    s.min_samples = 10;
    cp_->mirror_report().SetSettings("shadow1", s);
    cp_->mirror_report().AddMailbox(&mailbox_);
  }
  // What a worker does once a second, for two seconds: hands its partial over, the control
  // plane takes it (`slower` is judged on the first, confirmed by the second).
  void Feed() {
    for (int second = 0; second < 2; ++second) {
      auto p = std::make_unique<mirror::MirrorPartial>();
      if (second == 0) {
        p->SessionStarted("shadow1");
        p->SessionStarted("shadow1");
        p->SessionCut("shadow1", mirror::CutReason::kQueueFull);
      }
      for (int i = second * 25; i < (second + 1) * 25; ++i) {
        p->Add(Pair(0xA1, "SELECT c FROM sbtest1 WHERE k = ?", 1000, 5000));
        p->Add(Pair(0xB2, "SELECT pad FROM sbtest1 WHERE id = ?", 1000, 1000, i != 3));
        p->Add(Pair(0xC3, "SELECT id FROM sbtest1 WHERE id BETWEEN ? AND ?", 1000, 1000, true,
                    i % 5 ? 1 : 2));
        p->Add(Pair(0xD4, "SELECT 1", 1000, 1100));
      }
      ASSERT_TRUE(mailbox_.Offer(p));
      cp_->mirror_report().Poll();
    }
  }
  AdminResult Ok(const std::string& sql) { return testfix::ExpectOk(cp_->service(), sql); }
  std::string Err(const std::string& sql) { return testfix::ExpectErr(cp_->service(), sql); }

  mirror::PartialMailbox mailbox_;
  std::unique_ptr<ControlPlane> cp_;
};

TEST_F(MirrorAdminTest, StatsTablesFromTheReport) {
  Feed();
  AdminResult m =
      Ok("SELECT mirror, sessions, statements, cuts_queue_full, digests, verdict_ok, "
         "verdict_slower, verdict_new_errors, verdict_different_results FROM stats_mirror");
  EXPECT_EQ(m.rows, (std::vector<SqlRow>{{"shadow1", "2", "200", "1", "4", "1", "1", "1", "1"}}));
  AdminResult d =
      Ok("SELECT digest, verdict, source_executions, shadow_errors, shadow_last_error FROM "
         "stats_mirror_digest ORDER BY ratio_p95 DESC, digest");
  ASSERT_EQ(d.rows.size(), 4u);
  EXPECT_EQ(d.rows[0], (SqlRow{"0x00000000000000A1", "slower", "50", "0", std::nullopt}));
  EXPECT_EQ(d.rows[2], (SqlRow{"0x00000000000000B2", "new errors", "50", "1",
                               "Unknown column 'k' in 'field list'"}));
  EXPECT_EQ(Ok("SELECT verdict FROM stats_mirror_digest WHERE digest='0x00000000000000C3'").rows,
            (std::vector<SqlRow>{{"different results"}}));
  // One MIRROR_REGRESSION per bad digest, through the control plane's event log.
  AdminResult ev = Ok("SELECT cluster, message FROM stats_events WHERE kind='MIRROR_REGRESSION'");
  EXPECT_EQ(ev.rows.size(), 3u);
  // _reset: reads, then zeroes the report.
  EXPECT_EQ(Ok("SELECT count(*) FROM stats_mirror_digest_reset").rows,
            (std::vector<SqlRow>{{"4"}}));
  EXPECT_EQ(Ok("SELECT count(*) FROM stats_mirror_digest").rows, (std::vector<SqlRow>{{"0"}}));
  EXPECT_EQ(Ok("SELECT statements FROM stats_mirror").rows, (std::vector<SqlRow>{{"0"}}));
}

TEST_F(MirrorAdminTest, MirrorReportStatement) {
  Feed();
  AdminResult r = Ok("MIRROR REPORT shadow1");
  ASSERT_TRUE(r.has_rows);
  ASSERT_EQ(r.rows.size(), 4u);
  EXPECT_EQ(r.columns[0], "digest");
  EXPECT_EQ(r.columns[1], "verdict");
  for (size_t i = 0; i < 3; ++i) EXPECT_NE(r.rows[i][1], "ok") << i;  // regressions first
  EXPECT_EQ(r.rows[3][1], "ok");
  EXPECT_EQ(r.rows[3][0], "0x00000000000000D4");
  EXPECT_EQ(Ok("mirror report 'shadow1';").rows.size(), 4u);
  EXPECT_NE(Err("MIRROR REPORT nope").find("no mirror named 'nope'"), std::string::npos);
  EXPECT_NE(Err("MIRROR REPORT").find("expected MIRROR REPORT <name>"), std::string::npos);
  EXPECT_NE(Err("MIRROR REPORT shadow1 TO '/tmp/x.txt'").find("must end in .html"),
            std::string::npos);
  EXPECT_NE(Err("MIRROR REPORT shadow1 TO /tmp/x.html").find("quoted"), std::string::npos);
  EXPECT_NE(Err("MIRROR REPORT shadow1 TO '/nonexistent-dir/x.html'").find("cannot write"),
            std::string::npos);
}

TEST_F(MirrorAdminTest, MirrorReportToHtmlFile) {
  Feed();
  std::filesystem::path file = std::filesystem::temp_directory_path() /
                               ("sluice_mirror_admin." + std::to_string(getpid()) + ".html");
  AdminResult r = Ok("MIRROR REPORT shadow1 TO '" + file.string() + "'");
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_NE(r.rows[0][0]->find("3 regressions"), std::string::npos) << *r.rows[0][0];
  std::ifstream in(file);
  std::stringstream page;
  page << in.rdbuf();
  EXPECT_NE(page.str().find("<h1>Mirror report: shadow1</h1>"), std::string::npos);
  for (const char* d : {"0x00000000000000A1", "0x00000000000000B2", "0x00000000000000C3"})
    EXPECT_NE(page.str().find(d), std::string::npos) << d;
  EXPECT_FALSE(std::filesystem::exists(file.string() + ".tmp"));
  std::filesystem::remove(file);
}

TEST_F(MirrorAdminTest, PrometheusFamiliesPerMirror) {
  Feed();
  cp_->mirror_report().Poll();
  auto fams = BuildMirrorFamilies(cp_->mirror_report().Snapshot());
  std::map<std::string, double> got;
  uint64_t shadow_latency = 0;
  for (const auto& f : fams) {
    for (const auto& m : f.metric) {
      std::string key = f.name;
      for (const auto& l : m.label) {
        EXPECT_NE(l.name, "digest");  // no digest labels
        key += "," + l.name + "=" + l.value;
      }
      got[key] = f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
      if (f.name == "sluice_mirror_latency_seconds" && m.label[1].value == "shadow")
        shadow_latency = m.histogram.sample_count;
    }
  }
  EXPECT_EQ(got["sluice_mirror_digests,mirror=shadow1,verdict=slower"], 1);
  EXPECT_EQ(got["sluice_mirror_digests,mirror=shadow1,verdict=ok"], 1);
  EXPECT_EQ(got["sluice_mirror_digests,mirror=shadow1,verdict=new_errors"], 1);
  EXPECT_EQ(got["sluice_mirror_digests,mirror=shadow1,verdict=different_results"], 1);
  EXPECT_EQ(got["sluice_mirror_outcomes_total,mirror=shadow1,side=source,outcome=ok"], 200);
  EXPECT_EQ(got["sluice_mirror_outcomes_total,mirror=shadow1,side=shadow,outcome=error"], 1);
  EXPECT_EQ(got["sluice_mirror_outcomes_total,mirror=shadow1,side=shadow,outcome=ok"], 199);
  EXPECT_EQ(shadow_latency, 199u);  // the successful executions only, as the report
  // Lifetime: an admin reset does not move the counters backwards.
  Ok("SELECT * FROM stats_mirror_reset");
  double after = 0;
  for (const auto& f : BuildMirrorFamilies(cp_->mirror_report().Snapshot())) {
    for (const auto& m : f.metric) {
      if (f.name == "sluice_mirror_outcomes_total" && m.label[1].value == "source" &&
          m.label[2].value == "ok")
        after = m.counter.value;
    }
  }
  EXPECT_EQ(after, 200);
}

// The per-side histograms and the report agree: an error on one side (a shadow lock wait
// that ends at its 50 s timeout) counts under outcome="error" and in neither latency.
TEST_F(MirrorAdminTest, PrometheusLatencyHistogramsCountSuccessfulExecutionsOnly) {
  auto p = std::make_unique<mirror::MirrorPartial>();
  p->SessionStarted("shadow1");
  for (int i = 0; i < 20; ++i)
    p->Add(Pair(0xE5, "UPDATE t SET v = ? WHERE id = ?", 1000, 2000, /*sh_ok=*/i % 4 != 0));
  mirror::OutcomePair slow_error = Pair(0xE5, "UPDATE t SET v = ? WHERE id = ?", 1000, 50000000);
  slow_error.shadow->ok = false;
  slow_error.shadow->error = {1205, "HY000", "Lock wait timeout exceeded"};
  p->Add(slow_error);
  ASSERT_TRUE(mailbox_.Offer(p));
  cp_->mirror_report().Poll();
  std::map<std::string, double> outcomes;
  std::map<std::string, const prometheus::ClientMetric::Histogram*> latency;
  auto fams = BuildMirrorFamilies(cp_->mirror_report().Snapshot());
  for (const auto& f : fams) {
    for (const auto& m : f.metric) {
      if (f.name == "sluice_mirror_outcomes_total")
        outcomes[m.label[1].value + "," + m.label[2].value] = m.counter.value;
      if (f.name == "sluice_mirror_latency_seconds") latency[m.label[1].value] = &m.histogram;
    }
  }
  EXPECT_EQ(outcomes["shadow,error"], 6);
  EXPECT_EQ(outcomes["shadow,ok"], 15);
  EXPECT_EQ(outcomes["source,ok"], 21);
  ASSERT_TRUE(latency["shadow"] && latency["source"]);
  EXPECT_EQ(latency["shadow"]->sample_count, 15u);
  EXPECT_DOUBLE_EQ(latency["shadow"]->sample_sum, 15 * 0.002);  // not the 50 s error
  EXPECT_EQ(latency["source"]->sample_count, 21u);
  // The report's shadow side: the same executions, errors apart, the same latency count.
  AdminResult d =
      Ok("SELECT shadow_executions, shadow_errors, shadow_p99_us FROM stats_mirror_digest");
  ASSERT_EQ(d.rows.size(), 1u);
  EXPECT_EQ(d.rows[0][0], "21");
  EXPECT_EQ(d.rows[0][1], "6");
  EXPECT_LT(std::stoll(*d.rows[0][2]), 3000);  // p99 of the successful ones: 2 ms
  auto snap = cp_->mirror_report().Snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].shadow_totals.latency.count, 15u);
}

TEST_F(MirrorAdminTest, PrometheusFamiliesPerSourceCluster) {
  Feed();
  Runtime rt;
  MirrorConfig mc;
  mc.name = "shadow1";
  mc.source = "app";
  mc.shadow = "app_shadow";
  rt.mirrors.push_back(mc);
  auto read = [&] {
    std::map<std::string, double> got;
    cp_->mirror_report().Poll();
    for (const auto& f : BuildMirrorFamilies(cp_->mirror_report().Snapshot(), &rt)) {
      for (const auto& m : f.metric) {
        std::string key = f.name;
        for (const auto& l : m.label) key += "," + l.name + "=" + l.value;
        got[key] = m.counter.value;
      }
    }
    return got;
  };
  auto got = read();
  EXPECT_EQ(got["sluice_mirror_statements_total,cluster=app,mirror=shadow1"], 200);
  EXPECT_EQ(got["sluice_mirror_sessions_total,cluster=app,mirror=shadow1"], 2);
  EXPECT_EQ(got["sluice_mirror_sessions_cut_total,cluster=app,mirror=shadow1,reason=queue_full"],
            1);
  EXPECT_EQ(got["sluice_mirror_sessions_cut_total,cluster=app,mirror=shadow1,reason=shadow_down"],
            0);
  EXPECT_EQ(got["sluice_mirror_shadow_errors_total,cluster=app,mirror=shadow1"], 1);
  // Counters: the admin reset does not move them back.
  Ok("SELECT * FROM stats_mirror_reset");
  Feed();
  got = read();
  EXPECT_EQ(got["sluice_mirror_statements_total,cluster=app,mirror=shadow1"], 400);
  EXPECT_EQ(got["sluice_mirror_sessions_cut_total,cluster=app,mirror=shadow1,reason=queue_full"],
            2);
}

}  // namespace
}  // namespace sluice
