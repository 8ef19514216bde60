#include "proxy/mysql/backend.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "protocol/mysql/auth.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/login_token.h"
#include "protocol/mysql/messages.h"
#include "protocol/mysql/sha2_rsa.h"
#include "protocol/mysql/wire.h"
#include "proxy/mysql/packet_io.h"
#include "proxy/worker.h"

namespace sluice::mysqlproxy {

namespace {
// The backend stops reading ahead once this much of a response waits to be forwarded;
// with the client-side bound this keeps a slow reader from growing sluice's memory.
constexpr size_t kBackendReadHighWater = 256 * 1024;
}  // namespace

MysqlBackend::MysqlBackend(Worker* w, PoolKey key, BackendLogin login, Owner* owner)
    : BackendConn(w, std::move(key), owner, false, login.schema), login_(std::move(login)) {
  stmts_.set_capacity(login_.max_prepared);
  worker_->mysql_state().AddBackend(this);
}

MysqlBackend::~MysqlBackend() {
  worker_->mysql_state().RemoveBackend(this);
}

void MysqlBackend::WriteClose(uint32_t id) {
  std::string close{static_cast<char>(mysql::COM_STMT_CLOSE)};
  mysql::Writer(&close).U32(id);
  uint8_t seq = 0;
  WritePacket(output(), &seq, close);
  WriteNow();
}

void MysqlBackend::FlushCloses() {
  for (uint32_t id : pending_closes_) WriteClose(id);
  pending_closes_.clear();
}

MysqlBackend* MysqlBackend::Connect(Worker* w, PoolKey key, const BackendLogin& login,
                                    Owner* owner) {
  auto* b = new MysqlBackend(w, std::move(key), login, owner);
  b->socket_.Connect(w->base(), w->dialer(), ConnectAddress(login.host, login.address, login.port),
                     login.connect_timeout_ms, kBackendReadHighWater);
  return b;
}

void MysqlBackend::AllowPacket(size_t wire_len) {
  socket_.SetReadHighWater(std::max(kBackendReadHighWater, wire_len));
}

void MysqlBackend::OnSocketConnected() {
  phase_ = Phase::kHandshake;
  // The greeting may have been read before this event ran (same loop turn).
  if (evbuffer_get_length(input()) > 0) HandleLoginPacket();
}

void MysqlBackend::OnSocketFailed(const std::string& why) {
  reset_by_server_ = why == std::strerror(ECONNRESET);
  Fail(Unavailable(fmt::format("backend {}: {}", server(), why)));
}

void MysqlBackend::Fail(Status st) {
  phase_ = Phase::kFailed;
  FailTo(st);
}

void MysqlBackend::OnSocketReadable() {
  if (phase_ == Phase::kReady) {
    if (owner_) {
      owner_->OnBackendReadable(this);
    } else {
      // An idle connection has nothing to say; the server is closing it (wait_timeout,
      // shutdown): drop it now rather than hand it to a session.
      Fail(Unavailable("unexpected data on an idle backend connection"));
    }
    return;
  }
  // The server speaks first: its greeting can be read in the loop turn that also reports
  // the connect, before the CONNECTED event; it waits in the buffer for that event.
  if (phase_ == Phase::kConnecting) return;
  HandleLoginPacket();
}

void MysqlBackend::HandleLoginPacket() {
  mysql::PacketView pkt;
  size_t wire = 0;
  while (phase_ != Phase::kReady && phase_ != Phase::kFailed && PeekPacket(input(), &pkt, &wire)) {
    Status st;
    if (phase_ == Phase::kHandshake) {
      if (!pkt.payload.empty() && pkt.payload[0] == 0xFF) {
        auto err = mysql::DecodeErr(pkt.payload, mysql::CLIENT_PROTOCOL_41);
        st = Unavailable(fmt::format("backend {} refused the connection: {}", server(),
                                     err.ok() ? err->message : "malformed error"));
      } else {
        auto hs = mysql::DecodeInitialHandshake(pkt.payload);
        st = hs.ok()
                 ? OnGreeting(*hs)
                 : ProtocolError(fmt::format("backend {}: {}", server(), hs.status().message()));
      }
    } else {
      st = HandleAuthPacket(pkt.payload, pkt.seq);
    }
    // (OnGreeting drained its packet itself before the TLS filter took the buffers.)
    if (phase_ != Phase::kTls) evbuffer_drain(input(), wire);
    if (!st.ok()) {
      Fail(st);
      return;
    }
  }
  if (phase_ == Phase::kReady) {
    state_.schema = login_.schema;
    LoginDone(thread_id_);
  }
}

Status MysqlBackend::OnGreeting(const mysql::InitialHandshake& hs) {
  greeting_.version = hs.server_version;
  greeting_.capabilities = hs.capabilities;
  greeting_.status_flags = hs.status_flags;
  greeting_.charset = hs.charset;
  thread_id_ = hs.connection_id;
  scramble_ = hs.auth_plugin_data;
  auth_plugin_ = hs.auth_plugin_name.empty() ? mysql::kNativePasswordPlugin : hs.auth_plugin_name;
  caps_ = login_.caps & hs.capabilities;
  // TLS only as backend_tls says (below), and a schema only when one is set.
  caps_ &= ~uint64_t{mysql::CLIENT_SSL | mysql::CLIENT_COMPRESS};
  if (login_.schema.empty()) caps_ &= ~uint64_t{mysql::CLIENT_CONNECT_WITH_DB};
  const BackendTlsTarget& tls = login_.tls;
  const bool offered = hs.capabilities & mysql::CLIENT_SSL;
  if (tls.required() && (!offered || !tls.on())) {
    std::string why = !offered ? "the server does not offer TLS" : "no TLS context for the cluster";
    log::Warn("backend {}: refused: {} and backend_tls = {}", server(), why,
              BackendTlsModeName(tls.mode));
    return Unavailable(fmt::format("backend {}: SSL connection error: {} (backend_tls = {})",
                                   server(), why, BackendTlsModeName(tls.mode)));
  }
  if (!tls.on() || !offered) {
    SendHandshakeResponse(1);
    phase_ = Phase::kAuth;
    return Status::Ok();
  }
  // SSLRequest: the response's 32-byte head with CLIENT_SSL (docs/protocol-notes.md), then
  // the handshake over TLS, then the whole response (sequence 2).
  caps_ |= mysql::CLIENT_SSL;
  mysql::PacketView pkt;
  size_t wire = 0;
  PeekPacket(input(), &pkt, &wire);
  evbuffer_drain(input(), wire);
  if (evbuffer_get_length(input()) != 0)
    return ProtocolError(
        fmt::format("backend {}: data after the greeting, before TLS (refused)", server()));
  uint8_t seq = 1;
  WritePacket(
      output(), &seq,
      mysql::EncodeSslRequest(caps_, 1 << 24,
                              login_.charset ? login_.charset : mysql::kCharsetUtf8mb4GeneralCi));
  phase_ = Phase::kTls;
  SSL* ssl = NewBackendSsl(tls, login_.host);
  if (!ssl || !socket_.StartTls(ssl))
    return Internal(fmt::format("backend {}: cannot start TLS", server()));
  return Status::Ok();
}

void MysqlBackend::OnSocketTlsReady() {
  if (phase_ != Phase::kTls) return;
  SendHandshakeResponse(2);
  phase_ = Phase::kAuth;
}

void MysqlBackend::SendHandshakeResponse(uint8_t seq) {
  mysql::HandshakeResponse r;
  r.capabilities = caps_;
  r.max_packet_size = 1 << 24;
  r.charset = login_.charset ? login_.charset : mysql::kCharsetUtf8mb4GeneralCi;
  r.user = login_.user;
  r.database = login_.schema;
  r.auth_plugin_name = auth_plugin_;
  r.auth_response = mysql::TokenFor(auth_plugin_, login_.password, scramble_);
  WritePacket(output(), &seq, mysql::EncodeHandshakeResponse(r));
}

Status MysqlBackend::HandleAuthPacket(std::span<const uint8_t> p, uint8_t seq) {
  if (p.empty()) return ProtocolError(fmt::format("backend {}: empty auth packet", server()));
  switch (p[0]) {
    case 0x00:  // OK
      phase_ = Phase::kReady;
      return Status::Ok();
    case 0xFF: {
      auto err = mysql::DecodeErr(p, caps_);
      return Unavailable(fmt::format("backend {} refused login for '{}': {}", server(), login_.user,
                                     err.ok() ? err->message : "malformed error"));
    }
    case 0xFE: {  // auth switch: another plugin, another scramble
      auto sw = mysql::DecodeAuthSwitchRequest(p);
      if (!sw.ok())
        return ProtocolError(fmt::format("backend {}: {}", server(), sw.status().message()));
      auth_plugin_ = sw->plugin_name;
      scramble_ = sw->plugin_data;
      std::string token = mysql::TokenFor(auth_plugin_, login_.password, scramble_);
      if (token.empty() && !login_.password.empty() && auth_plugin_ != "mysql_clear_password")
        return Unavailable(
            fmt::format("backend {} asks for auth plugin '{}', which sluice does not speak",
                        server(), auth_plugin_));
      uint8_t next = seq + 1;
      WritePacket(output(), &next, token);
      return Status::Ok();
    }
    case 0x01: {  // caching_sha2_password: 0x03 fast auth OK (an OK follows), 0x04 full auth
      uint8_t next = seq + 1;
      if (awaiting_rsa_key_) {
        // AuthMoreData with the server's public key (PEM): send the encrypted password.
        awaiting_rsa_key_ = false;
        std::string_view pem(reinterpret_cast<const char*>(p.data()) + 1, p.size() - 1);
        auto enc = mysql::Sha2RsaEncryptPassword(login_.password, mysql::AsBytes(scramble_), pem);
        if (!enc.ok())
          return Unavailable(fmt::format("backend {}: {}", server(), enc.status().message()));
        WritePacket(output(), &next, *enc);
        return Status::Ok();
      }
      if (p.size() >= 2 && p[1] == mysql::kCachingSha2FastAuthOk) return Status::Ok();
      if (p.size() >= 2 && p[1] == mysql::kCachingSha2PerformFullAuth) {
        // The server's cache misses the user (after a restart, FLUSH PRIVILEGES). Over TLS
        // the password goes as it is, NUL-terminated, as the protocol allows on a secure
        // connection; over plain TCP RSA-encrypted under the server's key, asked for here.
        if (socket_.tls()) {
          WritePacket(output(), &next, std::string(login_.password) + '\0');
          return Status::Ok();
        }
        awaiting_rsa_key_ = true;
        WritePacket(output(), &next, std::string(1, char{mysql::kCachingSha2RequestPublicKey}));
        return Status::Ok();
      }
      return ProtocolError(
          fmt::format("backend {}: unexpected caching_sha2_password data", server()));
    }
    default:
      return ProtocolError(
          fmt::format("backend {}: unexpected auth packet 0x{:02x}", server(), p[0]));
  }
}

}  // namespace sluice::mysqlproxy
