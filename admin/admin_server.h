// AdminServer: an admin port. Speaks the MySQL protocol (handshake, mysql_native_password,
// COM_QUERY with text result sets) or, for admin.pg_listen, the PostgreSQL protocol
// (admin/admin_pg_listener.h) over blocking sockets: one accept thread, one thread per
// connection (at most kMaxUnauthenticated logging in and kMaxConnections logged in, so idle
// sockets cannot lock the operator out), statements executed by one AdminService.
#pragma once

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "admin/admin_service.h"
#include "admin/login_throttle.h"
#include "common/log_every.h"
#include "common/status.h"
#include "routing/runtime.h"

namespace sluice {

enum class AdminProtocol { kMysql, kPostgresql };

class AdminServer {
 public:
  static constexpr int kMaxConnections = 16;  // logged-in operators
  // Connections that have not logged in yet: a bound of their own (at the bound the oldest
  // is closed for a new one), and each has AdminSettings::login_timeout_ms from accept to
  // finish its login.
  static constexpr int kMaxUnauthenticated = 8;
  // How long the accept thread rests after accept() failed for want of file descriptors.
  static constexpr int kAcceptBackoffMs = 250;

  // THROTTLE: the wrong-password back-off, shared by the ports of one process (null: this
  // server's own). A kPostgresql server listens on admin.pg_listen.
  AdminServer(AdminSettings settings, AdminService* service,
              AdminProtocol protocol = AdminProtocol::kMysql, LoginThrottle* throttle = nullptr)
      : settings_(std::move(settings)),
        service_(service),
        protocol_(protocol),
        throttle_(throttle ? throttle : &own_throttle_) {}
  ~AdminServer() { Stop(); }

  // Binds admin.listen (TCP or a Unix socket path) and starts the accept thread. Refuses a TCP
  // listener without a password.
  Status Start();
  // Closes the listener and every operator connection, and joins their threads.
  void Stop();
  uint16_t port() const { return port_; }

 private:
  struct Conn {
    int fd;
    std::thread thread;
    std::atomic<bool> done{false};
    std::atomic<bool> authenticated{false};
    std::atomic<bool> evicted{false};  // shut down to make room for a newer login
    int64_t accepted_ms = 0;
  };
  void AcceptLoop();
  void Serve(Conn* conn, std::string peer, int64_t accepted_ms);
  void ServeMysql(Conn* conn, std::string peer, int64_t accepted_ms);
  // Counts logged-in connections and takes CONN in unless kMaxConnections are.
  bool AdmitOperator(Conn* conn);
  bool PasswordMatches(const std::string& token, const std::string& scramble) const;
  void Reap(bool all);

  AdminSettings settings_;
  AdminService* service_;
  AdminProtocol protocol_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::list<std::unique_ptr<Conn>> conns_;
  std::atomic<uint32_t> next_conn_id_{1};
  LogEvery accept_error_log_{10000};  // the accept thread's only
  LoginThrottle own_throttle_;
  LoginThrottle* throttle_;
};

}  // namespace sluice
