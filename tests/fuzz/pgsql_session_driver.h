// The PostgreSQL session fed from fuzz bytes: the unit fixtures' worker on in-memory pairs
// (tests/unit/session_harness.h), a scripted backend, and the client's bytes from the input.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tests/fuzz/session_driver.h"
#include "tests/unit/pgsql_session_fixture.h"

namespace sluice::fuzz {

// Flags byte: bit 0 the driver logs in (SCRAM with the right password), so the ops start
// after authentication; otherwise the client's first bytes are its own startup (SSLRequest,
// CancelRequest, StartupMessage, a password: pre-auth states). Bit 1: log in as "md5user"
// (MD5) instead of SCRAM; bit 2: an application_name in the startup.
class PgSessionDriver final : public SessionDriver {
 public:
  explicit PgSessionDriver(uint8_t flags) : SessionDriver(Protocol::kPostgres, flags) {}

 private:
  struct Backend {
    bool started = false;
    bool skip_to_sync = false;  // after an error in an extended-protocol batch
    char status = 'I';
    std::string in;
  };

  void StartSession() override {
    auto* s = new pgproxy::PgSession(&h_.worker(), 0, h_.NewClient(), "10.9.9.9");
    s->Start();
    if (flags_ & 1) DriverLogin();
  }

  std::string Command(uint8_t op, FuzzInput* in) override {
    // The type: one of the frontend messages by the op's high bits, or any byte.
    static constexpr char kTypes[] = "QPBDESCHXFdcfp";
    uint8_t t = op >> 3;
    char type = t < sizeof kTypes - 1 ? kTypes[t] : static_cast<char>(in->Byte());
    return pgproxy::Typed(type, in->Chunk());
  }

  // The next authentication request the client got, or nothing.
  std::optional<pgproxy::Msg> TakeAuth() {
    for (pgproxy::Msg& m : pgproxy::TakeMessages(&client_out_))
      if (m.type == 'R') return m;
    return std::nullopt;
  }

  void DriverLogin() {
    bool md5 = flags_ & 2;
    pgsql::StartupMessage m;
    m.params = {{"user", md5 ? "md5user" : "app"}, {"database", "db"}};
    if (flags_ & 4) m.params.emplace_back("application_name", "fuzz");
    std::string out;
    pgsql::AppendStartupMessage(&out, m);
    h_.client().Write(out);
    Pump();
    auto req = TakeAuth();
    if (!req || req->body.size() < 4) return;
    out.clear();
    if (md5) {
      if (req->body.size() < 8) return;
      std::array<uint8_t, 4> salt;
      memcpy(salt.data(), req->body.data() + 4, 4);
      pgsql::AppendPasswordMessage(&out, pgsql::Md5Password("md5user", "app_pw", salt));
      h_.client().Write(out);
      Pump();
      return;
    }
    auto scram = pgsql::ScramClientSession::FromPassword("app_pw");
    auto first = scram.ClientFirst();
    if (!first.ok()) return;
    pgsql::AppendSaslInitialResponse(&out, pgsql::kScramSha256, *first);
    h_.client().Write(out);
    Pump();
    auto cont = TakeAuth();
    if (!cont || cont->body.size() < 4) return;
    auto fin = scram.ClientFinal(cont->body.substr(4));
    if (!fin.ok()) return;
    out.clear();
    pgsql::AppendSaslResponse(&out, *fin);
    h_.client().Write(out);
    Pump();
  }

  void Serve() override {
    while (backends_.size() < h_.dialed()) backends_.emplace_back();
    for (size_t i = 0; i < backends_.size(); ++i) {
      Peer& peer = h_.server(i);
      if (!peer.bev) continue;
      Backend& b = backends_[i];
      b.in += peer.TakeAll();
      if (!b.started && !Startup(&peer, &b)) continue;
      for (pgproxy::Msg& m : pgproxy::TakeMessages(&b.in)) {
        if (!Answer(&peer, &b, m)) break;
      }
    }
  }

  // The untyped first message: SSLRequest ('N'), CancelRequest (closed), or the startup
  // (AuthenticationOk, settings, key, ReadyForQuery). False while it is incomplete.
  bool Startup(Peer* peer, Backend* b) {
    if (b->in.size() < 8) return false;
    uint32_t len, code;
    memcpy(&len, b->in.data(), 4);
    memcpy(&code, b->in.data() + 4, 4);
    len = ntohl(len);
    code = ntohl(code);
    if (len < 8 || b->in.size() < len) return false;
    b->in.erase(0, len);
    if (code == 80877103) {  // SSLRequest
      peer->Write("N");
      return false;
    }
    if (code == 80877102) {  // CancelRequest
      peer->Close();
      return false;
    }
    b->started = true;
    std::string out;
    pgsql::AppendAuthenticationOk(&out);
    pgsql::AppendParameterStatus(&out, "server_version", "16.0");
    pgsql::AppendParameterStatus(&out, "client_encoding", "UTF8");
    pgsql::AppendParameterStatus(&out, "application_name", "");  // as the driver's login sends
    pgsql::AppendBackendKeyData(&out, pgsql::BackendKeyData{500, 7});
    out += pgproxy::Ready();
    peer->Write(out);
    return true;
  }

  static void Error(std::string* out) {
    pgsql::AppendErrorResponse(out, pgsql::ErrorSpec{"ERROR", "42P01", "no such table", "", ""});
  }
  static void Row(std::string* out) {
    pgsql::FieldDescription f;
    f.name = "c";
    f.type_oid = 25;
    f.type_size = -1;
    pgsql::AppendRowDescription(out, std::span<const pgsql::FieldDescription>(&f, 1));
  }
  static void Data(std::string* out) {
    std::optional<std::string_view> v = "1";
    pgsql::AppendDataRow(out, std::span<const std::optional<std::string_view>>(&v, 1));
  }

  // Answers one message as PostgreSQL would; false when the backend closed.
  bool Answer(Peer* peer, Backend* b, const pgproxy::Msg& m) {
    std::string out;
    if (m.type == 'X') {
      peer->Close();
      return false;
    }
    seen_.push_back(std::string(1, m.type) + m.body);
    if (b->skip_to_sync && m.type != 'S') return true;
    switch (m.type) {
      case 'Q': {
        uint8_t a = NextAnswer();
        switch (a % 8) {
          case 0:
            out = pgproxy::Complete("SELECT 1");
            break;
          case 1:
            out = pgproxy::Complete("BEGIN"), b->status = 'T';
            break;
          case 2:
            Error(&out);
            if (b->status == 'T') b->status = 'E';
            break;
          case 3:
            Row(&out);
            Data(&out);
            out += pgproxy::Complete("SELECT 1");
            break;
          case 4:
            return true;  // silence: the query stays in flight
          case 5:
            out = pgproxy::Complete("COMMIT"), b->status = 'I';
            break;
          case 6:
            pgsql::AppendNoticeResponse(&out, pgsql::ErrorSpec{"NOTICE", "00000", "note", "", ""});
            pgsql::AppendEmptyQueryResponse(&out);
            break;
          default:
            pgsql::AppendErrorResponse(
                &out, pgsql::ErrorSpec{"FATAL", "57P01", "terminating connection", "", ""});
            peer->Write(out);
            peer->Close();
            return false;
        }
        out += pgproxy::Ready(b->status);
        break;
      }
      case 'P':
        if (NextAnswer() % 4 == 2) {
          Error(&out);
          b->skip_to_sync = true;
        } else {
          out = pgproxy::Typed('1', "");
        }
        break;
      case 'B':
        out = pgproxy::Typed('2', "");
        break;
      case 'D':
        if (!m.body.empty() && m.body[0] == 'S') out = pgproxy::Typed('t', std::string(2, '\0'));
        if (NextAnswer() % 2)
          Row(&out);
        else
          out += pgproxy::Typed('n', "");
        break;
      case 'E': {
        uint8_t a = NextAnswer();
        if (a % 4 == 1) Data(&out);
        if (a % 4 == 2) {
          Error(&out);
          b->skip_to_sync = true;
        } else if (a % 4 == 3) {
          Data(&out);
          out += pgproxy::Typed('s', "");  // PortalSuspended
        } else {
          out += pgproxy::Complete("SELECT 1");
        }
        break;
      }
      case 'C':
        out = pgproxy::Typed('3', "");
        break;
      case 'S':
        b->skip_to_sync = false;
        out = pgproxy::Ready(b->status);
        break;
      case 'F':
        out = pgproxy::Typed('V', std::string("\xff\xff\xff\xff", 4));
        out += pgproxy::Ready(b->status);
        break;
      default:
        return true;  // Flush, CopyData/Done/Fail, a password: nothing to say
    }
    peer->Write(out);
    return true;
  }

  std::vector<Backend> backends_;
};

inline void RunPgsqlSession(const uint8_t* data, size_t size) {
  if (size == 0) return;
  FuzzInput in(data + 1, size - 1);
  PgSessionDriver d(data[0]);
  d.Run(&in);
}

}  // namespace sluice::fuzz
