// AdminServer: the admin port. Speaks the MySQL protocol (handshake, mysql_native_password,
// COM_QUERY with text result sets) over blocking sockets: one accept thread, one thread per
// operator connection (at most kMaxConnections), statements executed by an AdminService.
#pragma once

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "admin/admin_service.h"
#include "common/status.h"
#include "routing/runtime.h"

namespace sluice {

class AdminServer {
 public:
  static constexpr int kMaxConnections = 16;

  AdminServer(AdminSettings settings, AdminService* service)
      : settings_(std::move(settings)), service_(service) {}
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
  };
  void AcceptLoop();
  void Serve(int fd, std::string peer);
  void Reap(bool all);

  AdminSettings settings_;
  AdminService* service_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;
  std::mutex mu_;
  std::list<std::unique_ptr<Conn>> conns_;
  std::atomic<uint32_t> next_conn_id_{1};
};

}  // namespace sluice
