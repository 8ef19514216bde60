#include "admin/admin_pg_listener.h"

#include <openssl/crypto.h>

#include <cctype>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "admin/admin_errors.h"
#include "admin/sql_split.h"
#include "common/clock.h"
#include "common/log.h"
#include "protocol/mysql/auth.h"
#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/message.h"
#include "protocol/pgsql/scram.h"
#include "protocol/pgsql/startup.h"

namespace sluice {
namespace {

// PostgreSQL's MAX_STARTUP_PACKET_LENGTH: a bigger startup packet is refused.
constexpr uint32_t kMaxStartupPacket = 10000;
// Admin statements are small; a bigger message is a mistake or an attack.
constexpr uint32_t kMaxAdminMessage = 1 << 20;
constexpr uint32_t kTextOid = 25;

uint32_t Be32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

void Fatal(int fd, std::string_view sqlstate, std::string_view message) {
  std::string out;
  pgsql::AppendErrorResponse(&out, {"FATAL", sqlstate, message, "", ""});
  if (AdminWriteAll(fd, out)) AdminLinger(fd);
}

// One startup packet (length word included) into *PACKET. 1: read; 0: the peer left or the
// deadline passed; -1: its length is out of bounds.
int ReadStartupPacket(int fd, int64_t deadline_ms, std::string* packet) {
  char h[4];
  if (!AdminReadAll(fd, h, 4, deadline_ms)) return 0;
  uint32_t len = Be32(h);
  if (len < 8 || len > kMaxStartupPacket) return -1;
  packet->assign(h, 4);
  packet->resize(len);
  return AdminReadAll(fd, packet->data() + 4, len - 4, deadline_ms) ? 1 : 0;
}

// One message (type, payload). False when the peer left, the deadline passed or the length
// is out of bounds.
bool ReadMessage(int fd, int64_t deadline_ms, char* type, std::string* payload) {
  char h[5];
  if (!AdminReadAll(fd, h, 5, deadline_ms)) return false;
  uint32_t len = Be32(h + 1);
  if (len < 4 || len > kMaxAdminMessage) return false;
  *type = h[0];
  payload->resize(len - 4);
  return len == 4 || AdminReadAll(fd, payload->data(), len - 4, deadline_ms);
}

// Statements clients send on their own: answered here, not by SQLite (which must never see
// a BEGIN: the admin store's one connection is shared by every operator).
bool ClientHousekeeping(const std::string& sql, AdminResult* out, std::string* tag) {
  std::string w = FirstWord(sql);
  if (w == "BEGIN" || w == "START" || w == "COMMIT" || w == "END" || w == "ROLLBACK" ||
      w == "SET" || w == "RESET" || w == "DISCARD") {
    *tag = w == "START" ? "START TRANSACTION" : w == "END" ? "COMMIT" : w;
    return true;
  }
  std::string u = Upper(sql);
  if (u == "SELECT VERSION()" || u == "SELECT PG_CATALOG.VERSION()") {
    out->has_rows = true;
    out->columns = {"version"};
    out->rows = {{std::string("sluice admin console")}};
    *tag = "SELECT 1";
    return true;
  }
  return false;
}

void AppendResult(std::string* out, const AdminResult& r, const std::string& tag) {
  if (r.has_rows) {
    std::vector<pgsql::FieldDescription> fields;
    for (const std::string& c : r.columns) {
      pgsql::FieldDescription f;
      f.name = c;
      f.type_oid = kTextOid;
      f.type_size = -1;
      fields.push_back(f);
    }
    pgsql::AppendRowDescription(out, fields);
    std::vector<std::optional<std::string_view>> values;
    for (const SqlRow& row : r.rows) {
      values.clear();
      for (const SqlValue& v : row)
        values.push_back(v ? std::optional<std::string_view>(*v) : std::nullopt);
      pgsql::AppendDataRow(out, values);
    }
  }
  pgsql::AppendCommandComplete(out, tag);
}

enum class Login { kOk, kWrongPassword, kGone, kProtocol };

// The password exchange for USER; *ERROR says why when kProtocol.
Login Authenticate(const AdminConnection& c, std::string* error) {
  const std::string& stored = c.settings->password;
  int fd = c.fd;
  std::string out, payload;
  char type = 0;
  if (mysql::LooksLikeNativeVerifier(stored)) {
    // Only SHA1(SHA1(password)) is known: cleartext is the one exchange that can check it.
    pgsql::AppendAuthenticationCleartextPassword(&out);
    if (!AdminWriteAll(fd, out)) return Login::kGone;
    if (!ReadMessage(fd, c.login_deadline_ms, &type, &payload)) return Login::kGone;
    auto pw = pgsql::DecodePasswordMessage(pgsql::AsBytes(payload));
    if (type != 'p' || !pw.ok()) {
      *error = "expected a password message";
      return Login::kProtocol;
    }
    auto want = mysql::ParseNativeVerifier(stored);
    mysql::Sha1Digest got = mysql::DoubleSha1(pw->password);
    bool ok = want && CRYPTO_memcmp(got.data(), want->data(), got.size()) == 0;
    return ok ? Login::kOk : Login::kWrongPassword;
  }
  auto verifier = pgsql::MakeVerifierWithRandomSalt(stored);
  if (!verifier.ok()) {
    *error = verifier.status().message();
    return Login::kProtocol;
  }
  const std::string_view mechanisms[] = {pgsql::kScramSha256};
  pgsql::AppendAuthenticationSasl(&out, mechanisms);
  if (!AdminWriteAll(fd, out)) return Login::kGone;
  if (!ReadMessage(fd, c.login_deadline_ms, &type, &payload)) return Login::kGone;
  auto init = pgsql::DecodeSaslInitialResponse(pgsql::AsBytes(payload));
  if (type != 'p' || !init.ok() || init->mechanism != pgsql::kScramSha256 || !init->data) {
    *error = "expected a SASLInitialResponse for SCRAM-SHA-256";
    return Login::kProtocol;
  }
  pgsql::ScramServerSession scram(std::move(verifier).value());
  auto first = scram.ServerFirst(pgsql::AsStringView(*init->data));
  if (!first.ok()) {
    *error = first.status().message();
    return Login::kProtocol;
  }
  out.clear();
  pgsql::AppendAuthenticationSaslContinue(&out, *first);
  if (!AdminWriteAll(fd, out)) return Login::kGone;
  if (!ReadMessage(fd, c.login_deadline_ms, &type, &payload)) return Login::kGone;
  if (type != 'p') {
    *error = "expected a SASLResponse";
    return Login::kProtocol;
  }
  auto final_msg = scram.ServerFinal(payload);
  if (!final_msg.ok()) {
    if (final_msg.status().code() == StatusCode::kPermissionDenied) return Login::kWrongPassword;
    *error = final_msg.status().message();
    return Login::kProtocol;
  }
  out.clear();
  pgsql::AppendAuthenticationSaslFinal(&out, *final_msg);
  return AdminWriteAll(fd, out) ? Login::kOk : Login::kGone;
}

// Startup and login; true when the connection is a logged-in operator's.
bool Startup(const AdminConnection& c) {
  int fd = c.fd;
  std::string packet;
  pgsql::StartupMessage startup;
  for (int round = 0;; ++round) {
    int got = ReadStartupPacket(fd, c.login_deadline_ms, &packet);
    if (got == 0) {
      if (MonotonicMs() >= c.login_deadline_ms)
        log::Info("admin (pgsql): {}: no login within {} ms, closed", c.peer,
                  c.settings->login_timeout_ms);
      return false;
    }
    if (got < 0) {
      Fatal(fd, pgsql::sqlstate::kProtocolViolation, "invalid length of startup packet");
      return false;
    }
    size_t consumed = 0;
    pgsql::StartupResult r = pgsql::DecodeStartup(pgsql::AsBytes(packet), &consumed);
    if (r.kind == pgsql::StartupKind::kSslRequest || r.kind == pgsql::StartupKind::kGssEncRequest) {
      // No TLS on the admin console (loopback); the client goes on in the clear or leaves.
      if (round >= 2 || !AdminWriteAll(fd, "N")) return false;
      continue;
    }
    if (r.kind == pgsql::StartupKind::kCancel) return false;  // no query to cancel here
    if (r.kind != pgsql::StartupKind::kStartup || consumed != packet.size()) {
      std::string why = r.kind == pgsql::StartupKind::kError ? r.error : "invalid startup packet";
      log::Info("admin (pgsql): {}: {}", c.peer, why);
      Fatal(fd, pgsql::sqlstate::kProtocolViolation, why);
      return false;
    }
    startup = std::move(r.startup);
    break;
  }
  std::string user(startup.Get("user"));
  if (user.empty()) {
    Fatal(fd, "28000", "no PostgreSQL user name specified in startup packet");
    return false;
  }
  std::string db(startup.Has("database") && !startup.Get("database").empty()
                     ? startup.Get("database")
                     : startup.Get("user"));
  if (!IsAdminPgDatabase(db)) {
    Fatal(fd, "3D000",
          fmt::format("database \"{}\" does not exist (the admin console's are \"sluice\" and "
                      "\"pgbouncer\")",
                      db));
    return false;
  }
  if (startup.minor > 0 || !startup.ProtocolOptions().empty()) {
    std::string out;
    pgsql::AppendNegotiateProtocolVersion(&out, 0, startup.ProtocolOptions());
    if (!AdminWriteAll(fd, out)) return false;
  }
  if (int64_t wait = c.throttle->LockedForMs(c.peer, MonotonicMs()); wait > 0) {
    // Wrong passwords from this address: no password is even asked for until the window ends.
    Fatal(fd, "28000",
          fmt::format("host \"{}\" is blocked for {} ms after repeated wrong passwords on the "
                      "admin port",
                      c.peer, wait));
    return false;
  }
  std::string error;
  Login login = Authenticate(c, &error);
  if (login == Login::kGone) return false;
  if (login == Login::kProtocol) {
    log::Info("admin (pgsql): {}: {}", c.peer, error);
    Fatal(fd, pgsql::sqlstate::kProtocolViolation, error);
    return false;
  }
  if (login == Login::kWrongPassword || user != c.settings->user) {
    std::string msg = fmt::format("password authentication failed for user \"{}\"", user);
    int64_t lockout = c.throttle->Failure(c.peer, MonotonicMs());
    if (lockout > 0)
      log::Warn("admin (pgsql): {} from {}; {} is locked out for {} ms", msg, c.peer, c.peer,
                lockout);
    else
      log::Warn("admin (pgsql): {} from {}", msg, c.peer);
    Fatal(fd, "28P01", msg);
    return false;
  }
  c.throttle->Success(c.peer);
  if (!c.admit()) {
    Fatal(fd, "53300", "sorry, too many clients already");
    return false;
  }
  std::string out;
  pgsql::AppendAuthenticationOk(&out);
  for (const auto& [name, value] :
       {std::pair<const char*, const char*>{"server_version", "16.0 (sluice admin console)"},
        {"server_encoding", "UTF8"},
        {"client_encoding", "UTF8"},
        {"DateStyle", "ISO, MDY"},
        {"integer_datetimes", "on"},
        {"standard_conforming_strings", "on"},
        {"application_name", ""}})
    pgsql::AppendParameterStatus(&out, name, value);
  pgsql::AppendBackendKeyData(&out, {static_cast<int32_t>(c.id), 0});
  pgsql::AppendReadyForQuery(&out, pgsql::kTxIdle);
  return AdminWriteAll(fd, out);
}

// One simple Query: every statement in turn; the first error ends it.
void RunQuery(const AdminConnection& c, std::string_view text, std::string* out) {
  std::vector<std::string> statements = SplitStatements(text);
  bool any = false;
  for (const std::string& sql : statements) {
    any = true;
    AdminResult local;
    std::string tag;
    if (ClientHousekeeping(sql, &local, &tag)) {
      AppendResult(out, local, tag);
      continue;
    }
    auto r = c.service->Execute(sql);
    if (!r.ok()) {
      AdminWireError e = AdminErrorFor(sql, r.status());
      pgsql::AppendErrorResponse(out, {"ERROR", e.pg_state, r.status().message(), "", ""});
      return;
    }
    AppendResult(out, *r, AdminCommandTag(sql, *r));
  }
  if (!any) pgsql::AppendEmptyQueryResponse(out);
}

}  // namespace

bool IsAdminPgDatabase(std::string_view db) {
  return db == "sluice" || db == "pgbouncer";
}

std::string AdminCommandTag(std::string_view statement, const AdminResult& r) {
  if (r.has_rows) return fmt::format("SELECT {}", r.rows.size());
  std::string w = FirstWord(statement);
  if (w == "INSERT") return fmt::format("INSERT 0 {}", r.affected_rows);
  if (w == "UPDATE" || w == "DELETE") return fmt::format("{} {}", w, r.affected_rows);
  return w.empty() ? std::string("OK") : w;
}

void ServePgAdmin(const AdminConnection& c) {
  if (!Startup(c)) return;
  int fd = c.fd;
  std::string payload;
  bool skip_to_sync = false;  // after an error in an extended-protocol batch
  while (!c.stopping->load()) {
    char type = 0;
    if (!ReadMessage(c.fd, 0, &type, &payload)) return;
    std::string out;
    switch (type) {
      case pgsql::frontend::kTerminate:
        return;
      case pgsql::frontend::kQuery: {
        skip_to_sync = false;
        auto q = pgsql::DecodeQuery(pgsql::AsBytes(payload));
        if (!q.ok())
          pgsql::AppendErrorResponse(
              &out, {"ERROR", pgsql::sqlstate::kProtocolViolation, q.status().message(), "", ""});
        else
          RunQuery(c, q->sql, &out);
        pgsql::AppendReadyForQuery(&out, pgsql::kTxIdle);
        break;
      }
      case pgsql::frontend::kSync:
        skip_to_sync = false;
        pgsql::AppendReadyForQuery(&out, pgsql::kTxIdle);
        break;
      case pgsql::frontend::kFlush:
        break;
      default:
        // Parse/Bind/Execute/…: the admin console speaks the simple query protocol only;
        // one error per batch, then the rest of it is skipped until its Sync.
        if (!skip_to_sync)
          pgsql::AppendErrorResponse(
              &out, {"ERROR", "0A000",
                     fmt::format("the sluice admin console takes simple Query messages only, "
                                 "not '{}'",
                                 type),
                     "", ""});
        skip_to_sync = true;
        break;
    }
    if (!out.empty() && !AdminWriteAll(fd, out)) return;
  }
}

}  // namespace sluice
