// PgBackend: one connection from sluice to a PostgreSQL server: connect, log in (SCRAM,
// md5 or cleartext), keep its ParameterStatus and BackendKeyData, then carry the protocol
// for whichever session holds it. Its session owns it while busy, the pool while idle.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "protocol/pgsql/scram.h"
#include "proxy/backend_conn.h"
#include "proxy/backend_pool.h"
#include "proxy/pgsql/stmt_names.h"
#include "proxy/session_vars.h"

namespace sluice {

class Worker;

namespace pgproxy {

struct PgBackendLogin : BackendTarget {
  std::string database;
  std::string application_name = "sluice";
};

class PgBackend final : public BackendConn<PgBackend> {
 public:
  static PgBackend* Connect(Worker* w, PoolKey key, const PgBackendLogin& login, Owner* owner);
  bool ready() const { return phase_ == Phase::kReady; }
  const std::string& host() const { return login_.host; }
  // The login ran over TLS.
  bool tls() const { return socket_.tls(); }
  uint16_t port() const { return login_.port; }
  int32_t pid() const { return pid_; }
  uint32_t secret() const { return secret_; }
  // Reported settings (ParameterStatus), names lower-cased; kept current by the session.
  std::map<std::string, std::string>& params() { return params_; }
  // Settings sluice or its clients SET on this connection since login or the last reset:
  // lower-case name -> the statement that did (proxy/pgsql/settings.h).
  SessionVars& applied() { return applied_; }
  // The names sluice has prepared on this connection.
  PreparedLru& prepared() { return prepared_; }
  const std::string& server_error() const { return server_error_; }
  // Original-case names of reported settings, for the client's ParameterStatus.
  const std::map<std::string, std::string>& param_names() const { return param_names_; }

  // Runs DISCARD ALL without an owner, then gives itself back to the pool (or closes).
  void ResetAndPool();

 private:
  enum class Phase { kConnecting, kSslAnswer, kTls, kLogin, kReady, kResetting, kFailed };
  PgBackend(Worker* w, PoolKey key, PgBackendLogin login, Owner* owner);
  ~PgBackend() override;
  // SSLRequest first when backend_tls is on, else the StartupMessage.
  void OnSocketConnected() override;
  void OnSocketTlsReady() override { SendStartup(); }
  void OnSocketReadable() override;
  // The server's one-byte answer to the SSLRequest: 'S' TLS, 'N' none.
  void HandleSslAnswer();
  void OnSocketFailed(const std::string& why) override;
  void SendStartup();
  void HandleLogin();
  Status HandleAuth(std::span<const uint8_t> payload);
  void HandleReset();
  void Fail(Status st);

  PgBackendLogin login_;
  Phase phase_ = Phase::kConnecting;
  int32_t pid_ = 0;
  uint32_t secret_ = 0;
  std::map<std::string, std::string> params_;
  std::map<std::string, std::string> param_names_;
  SessionVars applied_;
  PreparedLru prepared_;
  std::optional<pgsql::ScramClientSession> scram_;
  std::string server_error_;
  bool reset_failed_ = false;
};

std::string Lower(std::string_view s);

}  // namespace pgproxy
}  // namespace sluice
