// MysqlBackend: one connection from sluice to a MySQL/MariaDB server: connect, log in, then
// carry commands for whichever session holds it. Its session owns it while busy, the
// worker's pool while idle.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <cstdint>
#include <string>

#include "common/status.h"
#include "protocol/mysql/handshake.h"
#include "proxy/backend_pool.h"
#include "proxy/backend_socket.h"
#include "proxy/mysql/session_state.h"
#include "proxy/mysql/stmt_cache.h"

namespace sluice {

class Worker;

namespace mysqlproxy {

struct BackendLogin {
  std::string host;     // as configured (statistics name the server by it)
  std::string address;  // Server::address: the numeric address to connect to, or ""
  uint16_t port = 0;
  std::string user;
  std::string password;
  std::string schema;  // sent with CONNECT_WITH_DB; "" for none
  uint64_t caps = 0;   // capabilities wanted; the server's are intersected
  uint8_t charset = 45;
  int connect_timeout_ms = 3000;
  // Per connection, LRU beyond. Bounded so that servers × connections × this stays under
  // the server's max_prepared_stmt_count (16382 by default): 50 × 128 = 6400.
  size_t max_prepared = 128;
};

class MysqlBackend final : public PooledConn, private BackendSocket::Callbacks {
 public:
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual void OnBackendReady(MysqlBackend* b) = 0;
    virtual void OnBackendReadable(MysqlBackend* b) = 0;
    // Login failed, or the connection broke. The owner must Destroy() or forget it.
    virtual void OnBackendError(MysqlBackend* b, const Status& st) = 0;
  };

  static MysqlBackend* Connect(Worker* w, PoolKey key, const BackendLogin& login, Owner* owner);
  void Destroy() override;

  // nullptr while idle in the pool: then any byte or EOF from the server closes it.
  void SetOwner(Owner* owner) { owner_ = owner; }
  const std::string& host() const { return login_.host; }
  uint16_t port() const { return login_.port; }
  // The numeric address connected to.
  const std::string& ip() const { return socket_.ip(); }
  evbuffer* input() const { return socket_.input(); }
  evbuffer* output() const { return socket_.output(); }
  // Sends the output now (proxy/socket_io.h).
  void WriteNow() { socket_.WriteNow(); }
  // Lets the input buffer hold one whole packet of wire_len bytes even when that is above
  // the usual read-ahead bound (0: back to the bound). Sessions forward whole packets only.
  void AllowPacket(size_t wire_len);
  void PauseRead() { socket_.PauseRead(); }
  void ResumeRead() { socket_.ResumeRead(); }
  bool ready() const { return phase_ == Phase::kReady; }
  uint32_t thread_id() const { return thread_id_; }
  uint64_t caps() const { return caps_; }
  const std::string& server_version() const { return server_version_; }
  const std::string& server() const { return key().server; }
  SessionState& state() { return state_; }
  StmtCache& stmts() { return stmts_; }

 private:
  enum class Phase { kConnecting, kHandshake, kAuth, kReady, kFailed };
  MysqlBackend(Worker* w, PoolKey key, BackendLogin login, Owner* owner);
  ~MysqlBackend() override;
  void OnSocketConnected() override;
  void OnSocketReadable() override;
  void OnSocketFailed(const std::string& why) override;
  void HandleLoginPacket();
  void SendHandshakeResponse(const mysql::InitialHandshake& hs);
  Status HandleAuthPacket(std::span<const uint8_t> payload, uint8_t seq);
  void Fail(Status st);

  Worker* worker_;
  BackendLogin login_;
  Owner* owner_;
  BackendSocket socket_{this};
  Phase phase_ = Phase::kConnecting;
  uint64_t caps_ = 0;
  uint32_t thread_id_ = 0;
  std::string server_version_;
  std::string scramble_;
  std::string auth_plugin_;
  SessionState state_;
  StmtCache stmts_;
};

}  // namespace mysqlproxy
}  // namespace sluice
