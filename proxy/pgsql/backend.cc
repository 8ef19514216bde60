#include "proxy/pgsql/backend.h"

#include <cctype>

#include "common/log.h"
#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/md5.h"
#include "protocol/pgsql/message.h"
#include "protocol/pgsql/startup.h"
#include "proxy/pgsql/wire.h"
#include "proxy/worker.h"

namespace sluice::pgproxy {

namespace {
// The backend stops reading ahead once this much waits to be forwarded; with the client
// side bound this keeps a slow reader from growing sluice's memory.
constexpr size_t kBackendReadHighWater = 256 * 1024;
// Login and reset messages are small; anything bigger is a broken server.
constexpr uint32_t kMaxLoginMessage = 1 << 20;
}  // namespace

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

PgBackend::PgBackend(Worker* w, PoolKey key, PgBackendLogin login, Owner* owner)
    : BackendConn(w, std::move(key), owner, true, login.database), login_(std::move(login)) {}

PgBackend::~PgBackend() = default;

PgBackend* PgBackend::Connect(Worker* w, PoolKey key, const PgBackendLogin& login, Owner* owner) {
  auto* b = new PgBackend(w, std::move(key), login, owner);
  b->socket_.Connect(w->base(), w->dialer(), ConnectAddress(login.host, login.address, login.port),
                     login.connect_timeout_ms, kBackendReadHighWater);
  return b;
}

void PgBackend::OnSocketFailed(const std::string& why) {
  Fail(Unavailable(fmt::format("server {}: {}", server(), why)));
}

void PgBackend::OnSocketConnected() {
  if (!login_.tls.on()) {
    if (login_.tls.required()) {
      Fail(
          Unavailable(fmt::format("server {}: SSL connection error: no TLS context for the "
                                  "cluster (backend_tls = {})",
                                  server(), BackendTlsModeName(login_.tls.mode))));
      return;
    }
    SendStartup();
    return;
  }
  // As libpq with sslmode: SSLRequest, one byte back, then TLS and the StartupMessage
  // inside it (docs/protocol-notes.md).
  phase_ = Phase::kSslAnswer;
  std::string out;
  pgsql::AppendSslRequest(&out);
  AppendTo(output(), out);
  WriteNow();
}

void PgBackend::HandleSslAnswer() {
  if (evbuffer_get_length(input()) == 0) return;
  uint8_t answer = 0;
  evbuffer_remove(input(), &answer, 1);
  if (answer == 'S') {
    // Bytes after the 'S' came before the TLS handshake, unencrypted: whoever sent them is
    // not to be believed (CVE-2021-23222), so the connection goes.
    if (evbuffer_get_length(input()) != 0) {
      Fail(
          ProtocolError(fmt::format("server {}: data after the SSLRequest answer, before TLS "
                                    "(refused)",
                                    server())));
      return;
    }
    phase_ = Phase::kTls;
    SSL* ssl = NewBackendSsl(login_.tls, login_.host);
    if (!ssl || !socket_.StartTls(ssl))
      Fail(Internal(fmt::format("server {}: cannot start TLS", server())));
    return;
  }
  if (answer == 'N') {
    if (login_.tls.required()) {
      log::Warn("server {}: refused: the server does not support TLS and backend_tls = {}",
                server(), BackendTlsModeName(login_.tls.mode));
      Fail(
          Unavailable(fmt::format("server {}: SSL connection error: the server does not "
                                  "support TLS (backend_tls = {})",
                                  server(), BackendTlsModeName(login_.tls.mode))));
      return;
    }
    SendStartup();  // prefer: on in plain
    return;
  }
  Fail(ProtocolError(
      fmt::format("server {}: unexpected answer 0x{:02x} to the SSLRequest", server(), answer)));
}

void PgBackend::SendStartup() {
  phase_ = Phase::kLogin;
  pgsql::StartupMessage m;
  m.params = {{"user", login_.user},
              {"database", login_.database},
              {"application_name", login_.application_name}};
  std::string out;
  pgsql::AppendStartupMessage(&out, m);
  AppendTo(output(), out);
  WriteNow();
}

void PgBackend::Fail(Status st) {
  phase_ = Phase::kFailed;
  FailTo(st);
}

void PgBackend::OnSocketReadable() {
  PgBackend* b = this;
  switch (b->phase_) {
    case Phase::kSslAnswer:
      b->HandleSslAnswer();
      break;
    case Phase::kLogin:
      b->HandleLogin();
      break;
    case Phase::kResetting:
      b->HandleReset();
      break;
    case Phase::kReady:
      if (b->owner_) {
        b->owner_->OnBackendReadable(b);
      } else {
        // An idle connection has nothing to say; the server is going away.
        b->Fail(Unavailable("unexpected data on an idle backend connection"));
      }
      break;
    default:
      break;
  }
}

void PgBackend::HandleLogin() {
  pgproxy::MsgHeader h;
  std::span<const uint8_t> p;
  // Each message is consumed; the loop ends with the buffer or the phase.
  while (phase_ == Phase::kLogin) {
    PeekResult r = PeekMessage(input(), &h, &p, kMaxLoginMessage);
    if (r == PeekResult::kNeedMore) return;
    if (r == PeekResult::kBad) {
      Fail(ProtocolError(fmt::format("server {}: malformed login message", server())));
      return;
    }
    Status st;
    switch (h.type) {
      case pgsql::backend::kAuthenticationRequest:
        st = HandleAuth(p);
        break;
      case pgsql::backend::kParameterStatus: {
        auto ps = pgsql::DecodeParameterStatus(p);
        if (ps.ok()) {
          std::string name = Lower(ps->name);
          params_[name] = std::string(ps->value);
          param_names_[name] = std::string(ps->name);
        }
        break;
      }
      case pgsql::backend::kBackendKeyData: {
        auto k = pgsql::DecodeBackendKeyData(p);
        if (k.ok()) {
          pid_ = k->pid;
          secret_ = k->secret;
        }
        break;
      }
      case pgsql::backend::kErrorResponse: {
        server_error_.assign(reinterpret_cast<const char*>(p.data()), p.size());
        auto e = pgsql::DecodeErrorFields(p);
        st = Unavailable(fmt::format("server {} refused the login: {}", server(),
                                     e.ok() ? std::string(e->message()) : "malformed error"));
        break;
      }
      case pgsql::backend::kReadyForQuery:
        phase_ = Phase::kReady;
        break;
      default:  // NoticeResponse, NegotiateProtocolVersion: nothing to act on
        break;
    }
    evbuffer_drain(input(), h.total());
    if (!st.ok()) {
      Fail(st);
      return;
    }
  }
  if (phase_ == Phase::kReady) {
    LoginDone(static_cast<uint32_t>(pid_));
  }
}

Status PgBackend::HandleAuth(std::span<const uint8_t> payload) {
  auto auth = pgsql::DecodeAuthentication(payload);
  if (!auth.ok()) return auth.status();
  std::string out;
  switch (auth->code) {
    case pgsql::kAuthOk:
      return Status::Ok();
    case pgsql::kAuthCleartextPassword:
      pgsql::AppendPasswordMessage(&out, login_.password);
      break;
    case pgsql::kAuthMd5Password: {
      auto salt = pgsql::DecodeMd5Salt(auth->data);
      if (!salt.ok()) return salt.status();
      pgsql::AppendPasswordMessage(&out, pgsql::Md5Password(login_.user, login_.password, *salt));
      break;
    }
    case pgsql::kAuthSasl: {
      auto mechs = pgsql::DecodeSaslMechanisms(auth->data);
      if (!mechs.ok()) return mechs.status();
      bool has = false;
      for (auto m : *mechs) has |= m == pgsql::kScramSha256;
      if (!has)
        return Unavailable(
            fmt::format("server {} offers no SASL mechanism sluice speaks", server()));
      scram_ = pgsql::ScramClientSession::FromPassword(login_.password);
      auto first = scram_->ClientFirst();
      if (!first.ok()) return first.status();
      pgsql::AppendSaslInitialResponse(&out, pgsql::kScramSha256, *first);
      break;
    }
    case pgsql::kAuthSaslContinue: {
      if (!scram_) return ProtocolError("SASL continue without SASL start");
      auto fin = scram_->ClientFinal(pgsql::AsStringView(auth->data));
      if (!fin.ok()) return fin.status();
      pgsql::AppendSaslResponse(&out, *fin);
      break;
    }
    case pgsql::kAuthSaslFinal: {
      if (!scram_) return ProtocolError("SASL final without SASL start");
      return scram_->VerifyServerFinal(pgsql::AsStringView(auth->data));
    }
    default:
      return Unavailable(
          fmt::format("server {} asks for authentication method {}, which sluice "
                      "does not speak",
                      server(), auth->code));
  }
  AppendTo(output(), out);
  return Status::Ok();
}

void PgBackend::ResetAndPool() {
  owner_ = nullptr;
  phase_ = Phase::kResetting;
  reset_failed_ = false;
  std::string out;
  pgsql::AppendQuery(&out, "DISCARD ALL");
  AppendTo(output(), out);
  ResumeRead();
}

void PgBackend::HandleReset() {
  pgproxy::MsgHeader h;
  std::span<const uint8_t> p;
  while (phase_ == Phase::kResetting) {
    PeekResult r = PeekMessage(input(), &h, &p, kMaxLoginMessage);
    if (r == PeekResult::kNeedMore) return;
    if (r == PeekResult::kBad) {
      Fail(ProtocolError("malformed reply to DISCARD ALL"));
      return;
    }
    char status = 0;
    if (h.type == pgsql::backend::kErrorResponse) reset_failed_ = true;
    if (h.type == pgsql::backend::kParameterStatus) {
      // RESET ALL reports the settings it changed back.
      auto ps = pgsql::DecodeParameterStatus(p);
      if (ps.ok()) params_[Lower(ps->name)] = std::string(ps->value);
    }
    if (h.type == pgsql::backend::kReadyForQuery && !p.empty()) status = static_cast<char>(p[0]);
    evbuffer_drain(input(), h.total());
    if (status == 0) continue;
    if (reset_failed_ || status != pgsql::kTxIdle || evbuffer_get_length(input()) != 0) {
      Fail(Unavailable("DISCARD ALL failed"));
      return;
    }
    phase_ = Phase::kReady;
    applied_.Clear();
    prepared_.Clear();
    worker_->pools().PutIdle(this);
    return;
  }
}

}  // namespace sluice::pgproxy
