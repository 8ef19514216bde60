// MysqlBackend: one connection from sluice to a MySQL/MariaDB server: connect, log in, then
// carry commands for whichever session holds it. Its session owns it while busy, the
// worker's pool while idle.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "protocol/mysql/handshake.h"
#include "proxy/backend_conn.h"
#include "proxy/backend_pool.h"
#include "proxy/mysql/session_state.h"
#include "proxy/mysql/stmt_cache.h"
#include "proxy/mysql/worker_state.h"

namespace sluice {

class Worker;

namespace mysqlproxy {

struct BackendLogin : BackendTarget {
  std::string schema;  // sent with CONNECT_WITH_DB; "" for none
  uint64_t caps = 0;   // capabilities wanted; the server's are intersected
  uint8_t charset = 45;
  // Per connection, LRU beyond. Bounded so that servers × connections × this stays under
  // the server's max_prepared_stmt_count (16382 by default): 50 × 128 = 6400.
  size_t max_prepared = 128;
};

class MysqlBackend final : public BackendConn<MysqlBackend> {
 public:
  static MysqlBackend* Connect(Worker* w, PoolKey key, const BackendLogin& login, Owner* owner);
  const std::string& host() const { return login_.host; }
  // The connection's TLS settings (a KILL connection to the same server reuses them).
  const BackendTlsTarget& tls_target() const { return login_.tls; }
  // The login ran over TLS.
  bool tls() const { return socket_.tls(); }
  uint16_t port() const { return login_.port; }
  // Lets the input buffer hold one whole packet of wire_len bytes even when that is above
  // the usual read-ahead bound (0: back to the bound). Sessions forward whole packets only.
  void AllowPacket(size_t wire_len);
  bool ready() const { return phase_ == Phase::kReady; }
  uint32_t thread_id() const { return thread_id_; }
  uint64_t caps() const { return caps_; }
  const std::string& server_version() const { return greeting_.version; }
  // The server's greeting (version, capabilities, default status flags).
  const BackendGreeting& greeting() const { return greeting_; }
  // A session holds it (false while pooled or logging in for a session that left).
  bool owned() const { return owner_ != nullptr; }
  // The connection failed because the server reset it (an RST rather than a close).
  bool reset_by_server() const { return reset_by_server_; }
  // COM_STMT_CLOSE for the backend statement id: now (WriteClose; no response comes), or
  // when its session is between commands (QueueClose, then FlushCloses).
  void WriteClose(uint32_t id);
  void QueueClose(uint32_t id) { pending_closes_.push_back(id); }
  void FlushCloses();
  SessionState& state() { return state_; }
  StmtCache& stmts() { return stmts_; }
  // Its OK packets carry last_gtid (session_track_system_variables; causal reads).
  bool tracks_gtid = false;

 private:
  enum class Phase { kConnecting, kHandshake, kTls, kAuth, kReady, kFailed };
  MysqlBackend(Worker* w, PoolKey key, BackendLogin login, Owner* owner);
  ~MysqlBackend() override;
  void OnSocketConnected() override;
  void OnSocketReadable() override;
  void OnSocketFailed(const std::string& why) override;
  void OnSocketTlsReady() override;
  void HandleLoginPacket();
  // The greeting read: TLS first (an SSL request, then the handshake), or the response.
  Status OnGreeting(const mysql::InitialHandshake& hs);
  void SendHandshakeResponse(uint8_t seq);
  // The auth response for auth_plugin_ and scramble_: from the password or the proven secret.
  std::string Token() const;
  Status HandleAuthPacket(std::span<const uint8_t> payload, uint8_t seq);
  void Fail(Status st);

  BackendLogin login_;
  Phase phase_ = Phase::kConnecting;
  uint64_t caps_ = 0;
  uint32_t thread_id_ = 0;
  BackendGreeting greeting_;
  std::vector<uint32_t> pending_closes_;
  bool reset_by_server_ = false;
  bool awaiting_rsa_key_ = false;  // caching_sha2 full auth: the public key comes next
  std::string scramble_;
  std::string auth_plugin_;
  SessionState state_;
  StmtCache stmts_;
};

}  // namespace mysqlproxy
}  // namespace sluice
