// The mirror's configuration: [[mirror]] in the TOML file (every mistake names FILE:LINE:
// key), the admin table `mirrors` with LOAD/SAVE, and MIRROR START/STOP switching a mirror
// at runtime through the published snapshot (with its events).
#include <gtest/gtest.h>

#include "admin/admin_service.h"
#include "admin/config_file.h"
#include "proxy/shadow_session.h"
#include "tests/unit/admin_fixture.h"

namespace sluice {
namespace {

// Two MySQL clusters (the shadow without listen) and a mirror: 29 lines.
constexpr const char* kBase = R"([admin]
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
[[cluster]]
name = "shadow"
protocol = "mysql"
writer_hostgroup = 10
reader_hostgroup = 11
monitor_user = "m"
  [[cluster.server]]
  host = "127.0.0.1"
  port = 3406
  role = "primary"
[[user]]
name = "u"
password = "p"
cluster = "app"
[[mirror]]
name = "m1"
source = "app"
shadow = "shadow"
)";

std::string Error(const std::string& extra) {
  return testfix::ConfigError(std::string(kBase) + extra);
}

TEST(MirrorConfigTest, ParsesWithDefaultsAndAShadowWithoutListen) {
  auto r = ParseConfig(std::string(kBase) +
                           "exposure = 0.5\nmode = \"reads\"\nenabled = true\n"
                           "queue_bytes = 65536\nqueue_statements = 10\nslower_min_ms = 10\n",
                       "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->mirrors.size(), 1u);
  const MirrorConfig& m = r->mirrors[0];
  EXPECT_EQ(m.name, "m1");
  EXPECT_EQ(m.source, "app");
  EXPECT_EQ(m.shadow, "shadow");
  EXPECT_DOUBLE_EQ(m.exposure, 0.5);
  EXPECT_EQ(m.mode, MirrorMode::kReads);
  EXPECT_TRUE(m.enabled);
  EXPECT_EQ(m.queue_bytes, 65536);
  EXPECT_EQ(m.queue_statements, 10);
  EXPECT_DOUBLE_EQ(m.slower_ratio, 2.0);
  EXPECT_EQ(m.slower_min_ms, 10);
  EXPECT_EQ(r->FindCluster("shadow")->listen_port, 0);
  EXPECT_EQ(r->MirrorOfSource("app"), &r->mirrors[0]);
}

// PostgreSQL mirrors were refused at load ("not built yet").
TEST(MirrorConfigTest, APostgresqlMirrorLoads) {
  std::string pg = kBase;
  for (size_t at; (at = pg.find("protocol = \"mysql\"")) != std::string::npos;)
    pg.replace(at, 18, "protocol = \"postgresql\"");
  auto r = ParseConfig(pg + "enabled = true\n", "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->mirrors.size(), 1u);
  EXPECT_EQ(r->FindCluster("shadow")->protocol, Protocol::kPostgres);
  EXPECT_NE(SampleMirror(*r, "app", 0.5), nullptr);
}

TEST(MirrorConfigTest, MistakesNameFileLineAndKey) {
  EXPECT_EQ(Error("exposure = 1.5\n"), "t.toml:30: mirror[0].exposure: expected 0.0..1.0, got 1.5");
  EXPECT_EQ(Error("mode = \"writes\"\n"),
            "t.toml:30: mirror[0].mode: expected one of all|reads, got \"writes\"");
  EXPECT_EQ(Error("queue_statements = 0\n"),
            "t.toml:30: mirror[0].queue_statements: expected 1..1000000, got 0");
  EXPECT_EQ(Error("slower_min_ms = -1\n"),
            "t.toml:30: mirror[0].slower_min_ms: expected 0..3600000, got -1");
  EXPECT_EQ(Error("exposure = \"all\"\n"),
            "t.toml:30: mirror[0].exposure: expected float, got string");
  EXPECT_EQ(Error("shadw = \"x\"\n"), "t.toml:30: mirror[0].shadw: unknown key");
  EXPECT_EQ(Error("[[mirror]]\nname = \"m2\"\nsource = \"app\"\nshadow = \"shadow\"\n"),
            "t.toml:32: mirror[1].source: cluster \"app\" is already the source of mirror[0]: a "
            "session is mirrored to one shadow");
  EXPECT_EQ(Error("[[mirror]]\nname = \"m1\"\nsource = \"app\"\nshadow = \"shadow\"\n"),
            "t.toml:31: mirror[1].name: duplicate mirror \"m1\" (the first is mirror[0])");
  std::string self = kBase;
  self.replace(self.find("shadow = \"shadow\""), 17, "shadow = \"app\"");
  auto r = ParseConfig(self, "t.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "t.toml:29: mirror[0].shadow: the shadow must be another cluster than the source");
  std::string ghost = kBase;
  ghost.replace(ghost.find("shadow = \"shadow\""), 17, "shadow = \"ghost\"");
  r = ParseConfig(ghost, "t.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "t.toml:29: mirror[0].shadow: no cluster named \"ghost\"");
}

TEST(MirrorConfigTest, SamplingFollowsTheSwitchAndTheExposure) {
  auto r = ParseConfig(std::string(kBase) + "exposure = 0.25\n", "t.toml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(SampleMirror(*r, "app", 0.0), nullptr);  // off
  r->mirrors[0].enabled = true;
  EXPECT_NE(SampleMirror(*r, "app", 0.1), nullptr);
  EXPECT_EQ(SampleMirror(*r, "app", 0.3), nullptr);
  EXPECT_EQ(SampleMirror(*r, "shadow", 0.0), nullptr);  // not a source
  EXPECT_EQ(ShadowServer(*r->FindCluster("shadow"), MirrorMode::kAll), 0);
}

class MirrorAdminSwitchTest : public testfix::AdminServiceTest {
 protected:
  void SetUp() override { OpenAdmin(kBase); }
};

TEST_F(MirrorAdminSwitchTest, TheTableLoadsToRuntimeAndStartStopSwitchTheSnapshot) {
  AdminResult r = Ok("SELECT name, source, shadow, exposure, mode, enabled FROM mirrors");
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0], (SqlRow{"m1", "app", "shadow", "1.0", "all", "0"}));
  Ok("UPDATE mirrors SET exposure = 0.5, mode = 'reads'");
  Ok("LOAD MIRROR TO RUNTIME");
  ASSERT_EQ(holder_.Load()->mirrors.size(), 1u);
  EXPECT_DOUBLE_EQ(holder_.Load()->mirrors[0].exposure, 0.5);
  EXPECT_EQ(holder_.Load()->mirrors[0].mode, MirrorMode::kReads);
  Ok("UPDATE mirrors SET mode = 'some'");
  EXPECT_EQ(Err("LOAD MIRROR TO RUNTIME"),
            "mirrors row (name=m1): mode: expected one of all|reads, got \"some\"");
  Ok("UPDATE mirrors SET mode = 'all', exposure = 2");
  EXPECT_EQ(Err("LOAD MIRROR TO RUNTIME"),
            "mirrors row (name=m1): exposure: expected 0.0..1.0, got 2");
  Ok("UPDATE mirrors SET exposure = 0.5");
  EXPECT_FALSE(holder_.Load()->mirrors[0].enabled);
  r = Ok("MIRROR START m1");
  EXPECT_TRUE(holder_.Load()->mirrors[0].enabled);
  EXPECT_TRUE(EventLogged("MIRROR_START"));
  r = Ok("SELECT enabled FROM runtime_mirrors");
  EXPECT_EQ(r.rows[0][0], "1");
  Ok("MIRROR STOP 'm1'");
  EXPECT_FALSE(holder_.Load()->mirrors[0].enabled);
  EXPECT_TRUE(EventLogged("MIRROR_STOP"));
  EXPECT_EQ(Err("MIRROR START nope"), "MIRROR START: no mirror named 'nope' (see runtime_mirrors)");
}

// stats_mirror.fork_position: where MIRROR START's fork detached the shadow, given to the
// switch as it goes on; empty when START found the shadow independent; kept by MIRROR STOP
// (the shadow's copy still starts there).
TEST_F(MirrorAdminSwitchTest, StatsMirrorShowsTheForkPositionOfTheLastStart) {
  mirror::MirrorReport report;
  report.SetSettings("m1", {});
  svc_->SetMirrorReport(&report);
  std::string next_fork = "0:42";
  AdminService::HealthHooks hooks;
  hooks.mirror_fork =
      [&](const MirrorConfig&,
          const std::function<Status(const std::string&)>& on) -> Result<std::string> {
    SLUICE_RETURN_IF_ERROR(on(next_fork));
    return std::string(next_fork.empty() ? "independent" : "forked at " + next_fork);
  };
  svc_->SetHealthHooks(hooks);
  auto position = [&] { return Ok("SELECT fork_position FROM stats_mirror").rows; };
  EXPECT_EQ(position(), (std::vector<SqlRow>{{""}}));  // never started
  Ok("MIRROR START m1");
  EXPECT_TRUE(holder_.Load()->mirrors[0].enabled);
  EXPECT_EQ(position(), (std::vector<SqlRow>{{"0:42"}}));
  Ok("MIRROR STOP m1");
  EXPECT_EQ(position(), (std::vector<SqlRow>{{"0:42"}}));
  EXPECT_EQ(Ok("SELECT fork_position FROM stats_mirror_reset").rows,
            (std::vector<SqlRow>{{"0:42"}}));  // a reset keeps it: it is no counter
  next_fork = "";  // detached already: the next START finds it independent
  Ok("MIRROR START m1");
  EXPECT_EQ(position(), (std::vector<SqlRow>{{""}}));
  svc_->SetMirrorReport(nullptr);
}

}  // namespace
}  // namespace sluice
