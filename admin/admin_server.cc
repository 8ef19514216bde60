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

// No CLIENT_DEPRECATE_EOF, no CLIENT_MULTI_STATEMENTS (the mariadb CLI splits on ';' itself),
// no CLIENT_SSL: the admin port is loopback or a Unix socket.
constexpr uint64_t kAdminCaps = mysql::CLIENT_LONG_PASSWORD | mysql::CLIENT_LONG_FLAG |
                                mysql::CLIENT_CONNECT_WITH_DB | mysql::CLIENT_PROTOCOL_41 |
                                mysql::CLIENT_TRANSACTIONS | mysql::CLIENT_SECURE_CONNECTION |
                                mysql::CLIENT_PLUGIN_AUTH | mysql::CLIENT_CONNECT_ATTRS |
                                mysql::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
// Admin statements are small; a bigger packet is a mistake or an attack.
constexpr size_t kMaxAdminPacket = 1 << 20;
constexpr int kPollMs = 200;
// From MariaDB include/mysqld_error.h.
constexpr uint16_t ER_CON_COUNT_ERROR = 1040;
constexpr uint16_t ER_UNKNOWN_COM_ERROR = 1047;
constexpr uint16_t ER_ADMIN_STATEMENT = 1105;  // ER_UNKNOWN_ERROR, what ProxySQL's admin sends

bool WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool ReadAll(int fd, char* buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = ::recv(fd, buf + off, len - off, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// One packet; false on EOF, error or a packet over kMaxAdminPacket.
bool ReadPacket(int fd, uint8_t* seq, std::string* payload) {
  unsigned char h[4];
  if (!ReadAll(fd, reinterpret_cast<char*>(h), 4)) return false;
  size_t len = h[0] | (h[1] << 8) | (h[2] << 16);
  if (len >= kMaxAdminPacket) return false;
  *seq = h[3];
  payload->resize(len);
  return len == 0 || ReadAll(fd, payload->data(), len);
}

bool Send(int fd, uint8_t seq, const std::string& payload) {
  std::string out;
  mysql::AppendPacket(&out, &seq, payload);
  return WriteAll(fd, out);
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

std::string EncodeResult(const AdminResult& r, uint8_t seq) {
  std::string out;
  if (!r.has_rows) {
    mysql::AppendPacket(
        &out, &seq,
        mysql::MakeOk(r.affected_rows, 0, mysql::SERVER_STATUS_AUTOCOMMIT, 0, kAdminCaps));
    return out;
  }
  std::vector<mysql::ColumnDefinition> cols;
  for (const std::string& c : r.columns) {
    mysql::ColumnDefinition d;
    d.name = c;
    cols.push_back(std::move(d));
  }
  mysql::AppendTextResultSet(&out, &seq, cols, r.rows, kAdminCaps, mysql::SERVER_STATUS_AUTOCOMMIT);
  return out;
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
  log::Info("admin: listening on {}", unix_socket
                                          ? settings_.listen_path
                                          : fmt::format("{}:{}", settings_.listen_host, port_));
  return Status::Ok();
}

void AdminServer::Stop() {
  if (stopping_.exchange(true)) return;
  if (accept_thread_.joinable()) accept_thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : conns_) ::shutdown(c->fd, SHUT_RDWR);
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
    if (fd < 0) continue;
    std::string peer = "localhost";
    if (ss.ss_family == AF_INET) {
      char buf[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
      peer = buf;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (conns_.size() >= static_cast<size_t>(kMaxConnections)) {
      (void)Send(fd, 0, mysql::MakeErr(ER_CON_COUNT_ERROR, "08004", "Too many connections"));
      ::close(fd);
      continue;
    }
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    Conn* raw = c.get();
    c->thread = std::thread([this, raw, peer] {
      Serve(raw->fd, peer);
      ::close(raw->fd);
      raw->done = true;
    });
    conns_.push_back(std::move(c));
  }
}

void AdminServer::Serve(int fd, std::string peer) {
  log::SetThreadName("admin-conn");
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
  if (!ReadPacket(fd, &seq, &payload)) return;
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
    if (!ReadPacket(fd, &seq, &token)) return;
  }
  bool ok =
      resp->user == settings_.user &&
      mysql::VerifyClientToken(mysql::kNativePasswordPlugin, token, scramble, settings_.password);
  if (!ok) {
    std::string msg = fmt::format(fmt::runtime(mysql::ER_ACCESS_DENIED_ERROR.message), resp->user,
                                  peer, token.empty() ? "NO" : "YES");
    log::Warn("admin: {}", msg);
    (void)Send(fd, seq + 1,
               mysql::MakeErr(mysql::ER_ACCESS_DENIED_ERROR.code,
                              mysql::ER_ACCESS_DENIED_ERROR.sql_state, msg));
    return;
  }
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
    std::string sql = Trim(std::string_view(payload).substr(1));
    AdminResult local;
    if (ClientHousekeeping(sql, &local)) {
      if (!WriteAll(fd, EncodeResult(local, seq + 1))) return;
      continue;
    }
    auto r = service_->Execute(sql);
    if (!r.ok()) {
      if (!Send(fd, seq + 1, mysql::MakeErr(ER_ADMIN_STATEMENT, "HY000", r.status().message())))
        return;
      continue;
    }
    if (!WriteAll(fd, EncodeResult(*r, seq + 1))) return;
  }
}

}  // namespace sluice
