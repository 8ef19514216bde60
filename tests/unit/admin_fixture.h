// What the config and admin unit tests share: a small valid config to append to, a config's
// parse error as one string, and an AdminService opened on a config with its runtime published.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "admin/admin_service.h"
#include "admin/config_file.h"
#include "admin/event_log.h"
#include "admin/stats_collector.h"
#include "routing/runtime.h"

namespace sluice::testfix {

// One MySQL cluster with one server, 11 lines: text appended to it starts on line 12.
inline constexpr const char* kOneClusterConfig = R"([admin]
password = "pw"
[[cluster]]
name = "c"
protocol = "mysql"
listen = "127.0.0.1:6033"
monitor_user = "m"
  [[cluster.server]]
  host = "127.0.0.1"
  port = 3306
  role = "primary"
)";

// The error message ParseConfig gives TEXT (read as "t.toml"), or "ok" when it parses.
inline std::string ConfigError(const std::string& text) {
  Result<Runtime> r = ParseConfig(text, "t.toml");
  return r.ok() ? "ok" : r.status().message();
}
// The same for kOneClusterConfig followed by EXTRA.
inline std::string ConfigErrorWith(const std::string& extra) {
  return ConfigError(std::string(kOneClusterConfig) + extra);
}

// An admin statement that must succeed (its result), or fail (its message).
inline AdminResult ExpectOk(AdminService* svc, const std::string& sql) {
  auto r = svc->Execute(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().message();
  return r.ok() ? *r : AdminResult{};
}
inline std::string ExpectErr(AdminService* svc, const std::string& sql) {
  auto r = svc->Execute(sql);
  EXPECT_FALSE(r.ok()) << sql;
  return r.ok() ? "" : r.status().message();
}

// An AdminService on a config, its startup runtime published as version 1, stats attached.
class AdminServiceTest : public ::testing::Test {
 protected:
  // DATA_DIR: where the disk store lives ("" keeps the config's).
  void OpenAdmin(const char* config, const std::string& data_dir = "") {
    auto cfg = ParseConfig(config, "t.toml");
    ASSERT_TRUE(cfg.ok()) << cfg.status().message();
    if (!data_dir.empty()) cfg->admin.data_dir = data_dir;
    svc_.reset();
    auto s = AdminService::Open(*cfg, &events_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    svc_ = std::move(s).value();
    auto rt = svc_->StartupRuntime();
    ASSERT_TRUE(rt.ok()) << rt.status().message();
    rt->version = 1;
    holder_.Publish(std::make_shared<const Runtime>(*rt));
    svc_->Attach(&holder_, &stats_);
  }
  AdminResult Ok(const std::string& sql) { return ExpectOk(svc_.get(), sql); }
  std::string Err(const std::string& sql) { return ExpectErr(svc_.get(), sql); }
  bool EventLogged(const std::string& kind) const {
    for (const Event& e : events_.Snapshot())
      if (e.kind == kind) return true;
    return false;
  }

  EventLog events_;
  RuntimeHolder holder_;
  StatsMailbox mailbox_;
  StatsCollector stats_{{&mailbox_}};
  std::unique_ptr<AdminService> svc_;
};

}  // namespace sluice::testfix
