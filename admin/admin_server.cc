#include "admin/admin_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "admin/admin_conn.h"
#include "admin/admin_errors.h"
#include "admin/admin_pg_listener.h"
#include "admin/sql_split.h"
#include "common/clock.h"
#include "common/log.h"
#include "protocol/mysql/auth.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/handshake.h"
#include "protocol/mysql/login_token.h"
#include "protocol/mysql/messages.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/resultset.h"
#include "protocol/mysql/wire.h"

namespace sluice {
namespace {

// No CLIENT_DEPRECATE_EOF, no CLIENT_SSL: the admin port is loopback or a Unix socket.
// CLIENT_MULTI_STATEMENTS is offered; a client that does not ask for it gets one statement
// per query, as MariaDB does.
constexpr uint64_t kAdminCaps = mysql::CLIENT_LONG_PASSWORD | mysql::CLIENT_LONG_FLAG |
                                mysql::CLIENT_CONNECT_WITH_DB | mysql::CLIENT_PROTOCOL_41 |
                                mysql::CLIENT_TRANSACTIONS | mysql::CLIENT_SECURE_CONNECTION |
                                mysql::CLIENT_PLUGIN_AUTH | mysql::CLIENT_CONNECT_ATTRS |
                                mysql::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
                                mysql::CLIENT_MULTI_STATEMENTS | mysql::CLIENT_MULTI_RESULTS;
// Admin statements are small; a bigger packet is a mistake or an attack.
constexpr size_t kMaxAdminPacket = 1 << 20;
constexpr int kPollMs = 200;  // the accept loop's
// From MariaDB include/mysqld_error.h.
constexpr uint16_t ER_CON_COUNT_ERROR = 1040;
constexpr uint16_t ER_UNKNOWN_COM_ERROR = 1047;
constexpr uint16_t ER_HOST_IS_BLOCKED = 1129;
constexpr uint16_t ER_PARSE_ERROR = 1064;

// One packet; false on EOF, error or a packet over kMaxAdminPacket.
bool ReadPacket(int fd, uint8_t* seq, std::string* payload, int64_t deadline_ms = 0) {
  unsigned char h[4];
  if (!AdminReadAll(fd, reinterpret_cast<char*>(h), 4, deadline_ms)) return false;
  size_t len = h[0] | (h[1] << 8) | (h[2] << 16);
  if (len >= kMaxAdminPacket) return false;
  *seq = h[3];
  payload->resize(len);
  return len == 0 || AdminReadAll(fd, payload->data(), len, deadline_ms);
}

bool Send(int fd, uint8_t seq, const std::string& payload) {
  std::string out;
  mysql::AppendPacket(&out, &seq, payload);
  return AdminWriteAll(fd, out);
}

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (std::isspace(static_cast<unsigned char>(s[b])))) ++b;
  while (e > b && (std::isspace(static_cast<unsigned char>(s[e - 1])) || s[e - 1] == ';')) --e;
  return std::string(s.substr(b, e - b));
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Statements MySQL clients send on their own (`select @@version_comment limit 1`, SET NAMES,
// SHOW DATABASES): answered here, not by SQLite.
bool ClientHousekeeping(const std::string& sql, AdminResult* out) {
  std::string u = Upper(sql);
  if (u.rfind("SET ", 0) == 0) return true;  // an OK: the admin port has no session variables
  if (u == "SHOW DATABASES") {
    out->has_rows = true;
    out->columns = {"Database"};
    out->rows = {{"main"}, {"disk"}};
    return true;
  }
  if (u.rfind("SELECT @@", 0) != 0 || u.find(" FROM ") != std::string::npos) return false;
  std::string list = sql.substr(7);
  size_t limit = Upper(list).find(" LIMIT ");
  if (limit != std::string::npos) list.resize(limit);
  out->has_rows = true;
  SqlRow row;
  size_t start = 0;
  while (start < list.size()) {
    size_t comma = list.find(',', start);
    std::string var =
        Trim(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    out->columns.push_back(var);
    std::string name = Upper(var);
    if (name == "@@VERSION_COMMENT")
      row.emplace_back("sluice admin");
    else if (name == "@@VERSION")
      row.emplace_back("10.11.0-sluice-admin");
    else if (name == "@@MAX_ALLOWED_PACKET")
      row.emplace_back(std::to_string(kMaxAdminPacket));
    else
      row.emplace_back(std::nullopt);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  out->rows.push_back(std::move(row));
  return true;
}

// Appends R's packets from *SEQ on (advanced past them). MORE: another result follows (a
// multi-statement query): SERVER_MORE_RESULTS_EXIST is set.
void AppendResult(std::string* out, const AdminResult& r, uint8_t* seq, bool more) {
  uint16_t status =
      mysql::SERVER_STATUS_AUTOCOMMIT | (more ? mysql::SERVER_MORE_RESULTS_EXISTS : 0);
  if (!r.has_rows) {
    mysql::AppendPacket(out, seq, mysql::MakeOk(r.affected_rows, 0, status, 0, kAdminCaps));
    return;
  }
  std::vector<mysql::ColumnDefinition> cols;
  for (const std::string& c : r.columns) {
    mysql::ColumnDefinition d;
    d.name = c;
    cols.push_back(std::move(d));
  }
  mysql::AppendTextResultSet(out, seq, cols, r.rows, kAdminCaps, status);
}

}  // namespace

Status AdminServer::Start() {
  bool unix_socket = !settings_.listen_path.empty();
  if (!unix_socket && settings_.password.empty()) {
    return InvalidArgument("admin: refusing to listen on TCP without admin.password");
  }
  if (unix_socket) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (settings_.listen_path.size() >= sizeof a.sun_path)
      return InvalidArgument("admin.listen: socket path too long");
    std::strcpy(a.sun_path, settings_.listen_path.c_str());
    ::unlink(settings_.listen_path.c_str());
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      return Unavailable(
          fmt::format("admin: cannot bind {}: {}", settings_.listen_path, std::strerror(errno)));
    }
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(settings_.listen_port);
    if (::inet_pton(AF_INET, settings_.listen_host.c_str(), &a.sin_addr) != 1) {
      return InvalidArgument(
          fmt::format("admin.listen: {} is not an IPv4 address", settings_.listen_host));
    }
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      return Unavailable(fmt::format("admin: cannot bind {}:{}: {}", settings_.listen_host,
                                     settings_.listen_port, std::strerror(errno)));
    }
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  if (::listen(listen_fd_, 16) != 0)
    return Unavailable(fmt::format("admin: listen: {}", std::strerror(errno)));
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  log::Info(
      "admin{}: listening on {}", protocol_ == AdminProtocol::kMysql ? "" : " (pgsql)",
      unix_socket ? settings_.listen_path : fmt::format("{}:{}", settings_.listen_host, port_));
  return Status::Ok();
}

void AdminServer::Stop() {
  if (stopping_.exchange(true)) return;
  if (accept_thread_.joinable()) accept_thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : conns_)
      if (!c->done) ::shutdown(c->fd, SHUT_RDWR);
  }
  Reap(true);
}

void AdminServer::Reap(bool all) {
  std::list<std::unique_ptr<Conn>> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (all || (*it)->done) {
        finished.push_back(std::move(*it));
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : finished) c->thread.join();
}

void AdminServer::AcceptLoop() {
  log::SetThreadName("admin");
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    int n = ::poll(&p, 1, kPollMs);
    Reap(false);
    if (n <= 0) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EINTR || err == EAGAIN || err == ECONNABORTED) continue;
      // Out of file descriptors (EMFILE, ENFILE) or kernel memory: the connection stays in
      // the backlog and poll() says readable at once, so rest instead of spinning, and say
      // so once per interval with the count (as the workers' listeners do).
      uint64_t count = 0;
      if (accept_error_log_.Tick(MonotonicMs(), &count))
        log::Warn(
            "admin: accept() failed: {}; not accepting for {} ms ({} back-off(s) since the "
            "last message)",
            std::strerror(err), kAcceptBackoffMs, count);
      ::poll(nullptr, 0, kAcceptBackoffMs);
      continue;
    }
    std::string peer = "localhost";
    if (ss.ss_family == AF_INET) {
      char buf[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
      peer = buf;
    }
    int64_t accepted_ms = MonotonicMs();
    std::lock_guard<std::mutex> lock(mu_);
    // At the bound of connections still logging in, the oldest of them makes room: a real
    // login takes milliseconds, so idle or slow sockets cannot keep an operator out (and
    // logged-in operators are not counted here at all).
    Conn* oldest = nullptr;
    size_t logging_in = 0;
    for (const auto& c : conns_) {
      if (c->done || c->authenticated || c->evicted) continue;
      ++logging_in;
      if (!oldest || c->accepted_ms < oldest->accepted_ms) oldest = c.get();
    }
    if (logging_in >= static_cast<size_t>(kMaxUnauthenticated) && oldest) {
      oldest->evicted = true;
      ::shutdown(oldest->fd, SHUT_RDWR);  // its thread's read ends; it closes and exits
    }
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->accepted_ms = accepted_ms;
    Conn* raw = c.get();
    c->thread = std::thread([this, raw, peer, accepted_ms] {
      Serve(raw, peer, accepted_ms);
      {
        // Done before the descriptor is closed, under the lock: the accept loop never shuts
        // down a number that was closed and handed to a newer connection.
        std::lock_guard<std::mutex> done_lock(mu_);
        raw->done = true;
      }
      ::close(raw->fd);
    });
    conns_.push_back(std::move(c));
  }
}

// admin.password is the plaintext or its stored verifier "*<hex SHA1(SHA1(pw))>": the one
// token check of the proxy's logins decides (protocol/mysql/login_token.h).
bool AdminServer::PasswordMatches(const std::string& token, const std::string& scramble) const {
  return mysql::VerifyClientToken(mysql::kNativePasswordPlugin, token, scramble,
                                  settings_.password);
}

bool AdminServer::AdmitOperator(Conn* conn) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t logged_in = 0;
  for (const auto& c : conns_)
    if (!c->done && c->authenticated) ++logged_in;
  if (conn->evicted) return false;
  if (logged_in >= static_cast<size_t>(kMaxConnections)) return false;
  conn->authenticated = true;
  return true;
}

void AdminServer::Serve(Conn* conn, std::string peer, int64_t accepted_ms) {
  if (protocol_ == AdminProtocol::kMysql) return ServeMysql(conn, std::move(peer), accepted_ms);
  log::SetThreadName("admin-pg-conn");
  AdminConnection c;
  c.fd = conn->fd;
  c.id = next_conn_id_++;
  c.peer = std::move(peer);
  c.login_deadline_ms = accepted_ms + settings_.login_timeout_ms;
  c.settings = &settings_;
  c.service = service_;
  c.throttle = throttle_;
  c.admit = [this, conn] { return AdmitOperator(conn); };
  c.stopping = &stopping_;
  ServePgAdmin(c);
}

void AdminServer::ServeMysql(Conn* conn, std::string peer, int64_t accepted_ms) {
  log::SetThreadName("admin-conn");
  int fd = conn->fd;
  // The whole login, from accept to OK, has login_timeout_ms.
  int64_t deadline = accepted_ms + settings_.login_timeout_ms;
  mysql::Scramble sc = mysql::GenerateScramble();
  std::string scramble(sc.begin(), sc.end());
  mysql::InitialHandshake hs;
  hs.server_version = "10.11.0-sluice-admin";
  hs.connection_id = next_conn_id_++;
  hs.auth_plugin_data = scramble;
  hs.capabilities = kAdminCaps;
  hs.charset = 33;
  hs.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT;
  hs.auth_plugin_name = mysql::kNativePasswordPlugin;
  if (!Send(fd, 0, mysql::EncodeInitialHandshake(hs))) return;
  uint8_t seq = 0;
  std::string payload;
  if (!ReadPacket(fd, &seq, &payload, deadline)) {
    if (MonotonicMs() >= deadline)
      log::Info("admin: {}: no login within {} ms, closed", peer, settings_.login_timeout_ms);
    return;
  }
  auto resp = mysql::DecodeHandshakeResponse(mysql::AsBytes(payload));
  if (!resp.ok()) {
    (void)Send(fd, seq + 1, mysql::MakeErr(mysql::ER_HANDSHAKE_ERROR));
    return;
  }
  std::string token = resp->auth_response;
  if (!resp->auth_plugin_name.empty() && resp->auth_plugin_name != mysql::kNativePasswordPlugin) {
    // e.g. caching_sha2_password from a MySQL 8 client: ask for the plugin sluice verifies.
    mysql::AuthSwitchRequest sw{mysql::kNativePasswordPlugin, scramble + '\0'};
    if (!Send(fd, seq + 1, mysql::EncodeAuthSwitchRequest(sw))) return;
    if (!ReadPacket(fd, &seq, &token, deadline)) return;
  }
  if (int64_t wait = throttle_->LockedForMs(peer, MonotonicMs()); wait > 0) {
    // Wrong passwords from this address: it may try again when the window ends (the password
    // is not even checked, so guessing gains nothing meanwhile).
    (void)Send(fd, seq + 1,
               mysql::MakeErr(ER_HOST_IS_BLOCKED, "HY000",
                              fmt::format("Host '{}' is blocked for {} ms after repeated wrong "
                                          "passwords on the admin port",
                                          peer, wait)));
    return;
  }
  bool ok = resp->user == settings_.user && PasswordMatches(token, scramble);
  if (!ok) {
    std::string msg = fmt::format(fmt::runtime(mysql::ER_ACCESS_DENIED_ERROR.message), resp->user,
                                  peer, token.empty() ? "NO" : "YES");
    int64_t lockout = throttle_->Failure(peer, MonotonicMs());
    if (lockout > 0)
      log::Warn("admin: {}; {} is locked out for {} ms", msg, peer, lockout);
    else
      log::Warn("admin: {}", msg);
    (void)Send(fd, seq + 1,
               mysql::MakeErr(mysql::ER_ACCESS_DENIED_ERROR.code,
                              mysql::ER_ACCESS_DENIED_ERROR.sql_state, msg));
    return;
  }
  throttle_->Success(peer);
  if (!AdmitOperator(conn)) {
    (void)Send(fd, seq + 1, mysql::MakeErr(ER_CON_COUNT_ERROR, "08004", "Too many connections"));
    return;
  }
  bool multi = (resp->capabilities & mysql::CLIENT_MULTI_STATEMENTS) != 0;
  if (!Send(fd, seq + 1, mysql::MakeOk(0, 0, mysql::SERVER_STATUS_AUTOCOMMIT, 0, kAdminCaps)))
    return;
  while (!stopping_) {
    if (!ReadPacket(fd, &seq, &payload) || payload.empty()) return;
    uint8_t cmd = static_cast<uint8_t>(payload[0]);
    std::string reply;
    if (cmd == mysql::COM_QUIT) return;
    if (cmd == mysql::COM_PING || cmd == mysql::COM_INIT_DB) {
      reply = mysql::MakeOk(0, 0, mysql::SERVER_STATUS_AUTOCOMMIT, 0, kAdminCaps);
      if (!Send(fd, seq + 1, reply)) return;
      continue;
    }
    if (cmd != mysql::COM_QUERY) {
      if (!Send(fd, seq + 1, mysql::MakeErr(ER_UNKNOWN_COM_ERROR, "08S01", "Unknown command")))
        return;
      continue;
    }
    std::vector<std::string> statements = SplitStatements(std::string_view(payload).substr(1));
    if (statements.empty()) statements.emplace_back();
    if (statements.size() > 1 && !multi) {
      // As MariaDB without CLIENT_MULTI_STATEMENTS: a syntax error at the second statement,
      // and nothing of the text runs.
      std::string near = statements[1].substr(0, 80);
      if (!Send(fd, seq + 1,
                mysql::MakeErr(ER_PARSE_ERROR, "42000",
                               fmt::format("You have an error in your SQL syntax; the admin port "
                                           "runs one statement per query unless the client "
                                           "sets CLIENT_MULTI_STATEMENTS, near '{}' at line 1",
                                           near))))
        return;
      continue;
    }
    // One result per statement; all but the last say that more follow. The first error
    // ends the query, as in MariaDB.
    uint8_t out_seq = seq + 1;
    std::string out;
    for (size_t i = 0; i < statements.size(); ++i) {
      std::string sql = Trim(statements[i]);
      bool more = i + 1 < statements.size();
      AdminResult local;
      if (ClientHousekeeping(sql, &local)) {
        AppendResult(&out, local, &out_seq, more);
        continue;
      }
      auto r = service_->Execute(sql);
      if (!r.ok()) {
        AdminWireError e = AdminErrorFor(sql, r.status());
        mysql::AppendPacket(&out, &out_seq,
                            mysql::MakeErr(e.mysql_code, e.mysql_state, r.status().message()));
        break;
      }
      AppendResult(&out, *r, &out_seq, more);
    }
    if (!AdminWriteAll(fd, out)) return;
  }
}

}  // namespace sluice
