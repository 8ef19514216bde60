// SluiceProcess: one sluice for the MariaDB harness cluster in a C++ integration test, on
// free loopback ports, stopped by its PID (SIGTERM, then SIGKILL) when destroyed.
#pragma once

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/cluster_env.h"

namespace sluice::testing {

inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

inline bool PortOpen(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// One sluice process for the harness cluster; killed by its PID when destroyed.
class SluiceProcess {
 public:
  // extra_cluster: more keys of the [[cluster]] table (e.g. pool_mode), extra: tables
  // appended at the end (more [[user]]s).
  SluiceProcess(const ClusterEnv& env, int max_client_connections, int server_max_connections,
                int workers, const std::string& extra_cluster = "", const std::string& extra = "") {
    port_ = FreePort();
    int admin = FreePort();
    char tmpl[] = "/tmp/sluice-capi-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::string cfg = fmt::format(
        "[sluice]\nworkers = {}\ndrain_timeout_ms = 1000\n\n[admin]\nlisten = "
        "\"127.0.0.1:{}\"\npassword = \"admin_pw\"\n\n[[cluster]]\nname = \"test\"\nprotocol = "
        "\"mysql\"\nlisten = \"127.0.0.1:{}\"\nmax_client_connections = {}\nmonitor_user = "
        "\"{}\"\nmonitor_password = \"{}\"\n",
        workers, admin, port_, max_client_connections, env.monitor_user, env.monitor_password);
    cfg += extra_cluster;
    std::vector<std::pair<int, std::string>> servers{{env.primary_port, "primary"}};
    for (int p : env.replica_ports) servers.emplace_back(p, "replica");
    for (const auto& [port, role] : servers)
      cfg += fmt::format(
          "\n  [[cluster.server]]\n  host = \"127.0.0.1\"\n  port = {}\n  role = \"{}\"\n  "
          "max_connections = {}\n",
          port, role, server_max_connections);
    cfg += fmt::format(
        "\n[[user]]\nname = \"{}\"\npassword = \"{}\"\ncluster = \"test\"\ndefault_schema = "
        "\"{}\"\n",
        env.app_user, env.app_password, env.database);
    cfg += extra;
    std::string path = dir_ + "/sluice.toml";
    std::ofstream(path) << cfg;
    const char* bin = std::getenv("SLUICE_BINARY");
    std::string log = dir_ + "/sluice.log";
    pid_ = fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log.c_str(), "w", stdout);
      (void)f;
      dup2(STDOUT_FILENO, STDERR_FILENO);
      execl(bin, bin, "--config", path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    started_ = WaitFor(std::chrono::seconds(30), [this] { return PortOpen(port_); });
  }
  ~SluiceProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }
  bool started() const { return started_; }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool started_ = false;
};

// The primary as the cluster's admin user; a failure is the test's (then an unconnected
// handle).
inline MysqlConn PrimaryAsAdmin(const ClusterEnv& env) {
  auto c = ConnectMariaDB(env.primary_port, env.admin_user, env.admin_password, "");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? std::move(*c) : MysqlConn(mysql_init(nullptr));
}

// Runs sql; a failure is the test's (then no rows).
inline Rows QueryOk(MYSQL* m, const std::string& sql) {
  auto r = MysqlQuery(m, sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().message();
  return r.ok() ? *r : Rows{};
}

}  // namespace sluice::testing
