// GreetingProbe: learns what a MySQL/MariaDB server says in its greeting (version string,
// capabilities, default status flags) without logging in: connect, read the first packet,
// close. A worker's first client of a cluster waits for it, so that the greeting sluice
// sends carries the server's own version before any backend connection exists.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "proxy/backend_socket.h"
#include "proxy/mysql/worker_state.h"

namespace sluice {
class Worker;
struct Server;
}  // namespace sluice

namespace sluice::mysqlproxy {

class GreetingProbe final : private BackendSocket::Callbacks {
 public:
  // Called once, from the loop; the probe's socket is closed by then. The callback may
  // delete the probe.
  using Done = std::function<void(Result<BackendGreeting>)>;
  GreetingProbe(Worker* w, const Server& server, int timeout_ms, Done done);

 private:
  void OnSocketConnected() override {}
  void OnSocketReadable() override;
  void OnSocketFailed(const std::string& why) override;
  void Finish(Result<BackendGreeting> r);

  std::string server_;
  BackendSocket socket_{this};
  Done done_;
  bool finished_ = false;
};

}  // namespace sluice::mysqlproxy
