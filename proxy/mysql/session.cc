#include "proxy/mysql/session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/stats.h"
#include "protocol/mysql/auth.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/handshake.h"
#include "protocol/mysql/messages.h"
#include "protocol/mysql/statement.h"
#include "protocol/mysql/wire.h"
#include "proxy/lingering_close.h"
#include "proxy/mysql/login.h"
#include "proxy/mysql/packet_io.h"
#include "proxy/shared.h"
#include "proxy/socket_io.h"
#include "proxy/tls.h"
#include "proxy/worker.h"
#include "routing/digest.h"

namespace sluice {

void StartMysqlSession(Worker* w, size_t cluster_index, evutil_socket_t fd) {
  auto* s = new mysqlproxy::MysqlSession(w, cluster_index, fd);
  s->Start();
}

namespace mysqlproxy {
namespace {

// Bounds (DESIGN.md: every buffer has one).
constexpr size_t kMaxCommandBytes = 64u << 20;     // one client command, all packets
constexpr size_t kClientOutHighWater = 1u << 20;   // stop reading the backend above this
constexpr size_t kClientOutLowWater = 256u << 10;  // resume below this
constexpr int kMaxBackendAttempts = 3;             // connect/route retries before any byte
constexpr int kPoolWaitTimeoutMs = 10000;
// Pin reasons that leave state on the connection (routing/classifier.h); the others are
// hints (UNLOCK TABLES, LAST_INSERT_ID's previous connection, PostgreSQL cursors).
constexpr uint32_t kStatePins =
    routing::kPinLockTables | routing::kPinUserLock | routing::kPinTempTable |
    routing::kPinUserVariable | routing::kPinFoundRows | routing::kPinPrepare |
    routing::kPinSqlLogBin | routing::kPinHandler | routing::kPinLoadData;

// The capabilities sluice offers clients. Not offered: CLIENT_SSL (until TLS is set up),
// CLIENT_DEPRECATE_EOF? It is offered: backends are opened with the client's own set, so
// both sides agree. MARIADB_CLIENT_CACHE_METADATA is never offered (PROTOCOL-NOTES.md).
constexpr uint64_t kServerCaps =
    mysql::CLIENT_LONG_PASSWORD | mysql::CLIENT_FOUND_ROWS | mysql::CLIENT_LONG_FLAG |
    mysql::CLIENT_CONNECT_WITH_DB | mysql::CLIENT_NO_SCHEMA | mysql::CLIENT_ODBC |
    mysql::CLIENT_IGNORE_SPACE | mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_INTERACTIVE |
    mysql::CLIENT_IGNORE_SIGPIPE | mysql::CLIENT_TRANSACTIONS | mysql::CLIENT_SECURE_CONNECTION |
    mysql::CLIENT_MULTI_STATEMENTS | mysql::CLIENT_MULTI_RESULTS | mysql::CLIENT_PS_MULTI_RESULTS |
    mysql::CLIENT_PLUGIN_AUTH | mysql::CLIENT_CONNECT_ATTRS |
    mysql::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | mysql::CLIENT_SESSION_TRACK |
    mysql::CLIENT_DEPRECATE_EOF;

// Capability bits that change what a backend sends back; pooled connections are keyed on
// them so a client never gets a response shaped for another client's flags.
constexpr uint64_t kCapsThatShapeResponses =
    mysql::CLIENT_FOUND_ROWS | mysql::CLIENT_MULTI_STATEMENTS | mysql::CLIENT_MULTI_RESULTS |
    mysql::CLIENT_PS_MULTI_RESULTS | mysql::CLIENT_SESSION_TRACK | mysql::CLIENT_DEPRECATE_EOF |
    mysql::CLIENT_LONG_FLAG | mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_SECURE_CONNECTION |
    mysql::CLIENT_PLUGIN_AUTH | mysql::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
    mysql::CLIENT_TRANSACTIONS;

// Errors only the proxy sends, from MariaDB include/mysqld_error.h.
constexpr mysql::ErrorInfo ER_UNKNOWN_STMT_HANDLER{
    1243, "HY000", "Unknown prepared statement handler ({}) given to {}"};
constexpr mysql::ErrorInfo ER_NOT_SUPPORTED_YET{1235, "42000",
                                                "This version of MariaDB doesn't yet support '{}'"};
// ProxySQL answers a query rule's rejection with 1148 too; drivers show the message as is.
constexpr mysql::ErrorInfo ER_NOT_ALLOWED_COMMAND{
    1148, "42000", "The used command is not allowed with this MariaDB version"};

// Names for the per-command statistics of protocol commands that carry no SQL text.
std::string_view CommandName(uint8_t code) {
  switch (code) {
    case mysql::COM_INIT_DB:
      return "COM_INIT_DB";
    case mysql::COM_FIELD_LIST:
      return "COM_FIELD_LIST";
    case mysql::COM_STATISTICS:
      return "COM_STATISTICS";
    case mysql::COM_STMT_PREPARE:
      return "COM_STMT_PREPARE";
    case mysql::COM_STMT_EXECUTE:
      return "COM_STMT_EXECUTE";
    case mysql::COM_STMT_FETCH:
      return "COM_STMT_FETCH";
    case mysql::COM_STMT_RESET:
      return "COM_STMT_RESET";
    case mysql::COM_RESET_CONNECTION:
      return "COM_RESET_CONNECTION";
    case mysql::COM_CHANGE_USER:
      return "COM_CHANGE_USER";
    default:
      return "COM_OTHER";
  }
}

std::string_view AsView(std::span<const uint8_t> s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

std::string PeerAddress(evutil_socket_t fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "unknown";
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  else if (ss.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  return buf;
}

}  // namespace

MysqlSession::MysqlSession(Worker* w, size_t cluster_index, evutil_socket_t fd)
    : worker_(w), cluster_index_(cluster_index) {
  client_addr_ = PeerAddress(fd);
  client_ = bufferevent_socket_new(w->base(), fd, BEV_OPT_CLOSE_ON_FREE);
  UseDirectReads(client_);
  bufferevent_setcb(client_, &MysqlSession::OnClientRead, nullptr, &MysqlSession::OnClientEvent,
                    this);
  worker_->AddSession(this);
}

MysqlSession::~MysqlSession() {
  if (client_) bufferevent_free(client_);
}

void MysqlSession::Start() {
  conn_id_ = worker_->NextConnectionId();
  const RuntimePtr& rt = worker_->runtime().Current();
  const Cluster& cluster = rt->clusters[cluster_index_];
  ClusterCounters& cc = *worker_->shared()->cluster_counters[cluster_index_];
  int64_t n = cc.client_connections.fetch_add(1, std::memory_order_relaxed) + 1;
  counted_ = true;
  bufferevent_enable(client_, EV_READ | EV_WRITE);
  if (n > cluster.max_client_connections) {
    // MySQL answers an over-limit connection with ER_CON_COUNT_ERROR before the handshake.
    SendErr(mysql::ER_CON_COUNT_ERROR, mysql::ER_CON_COUNT_ERROR.message, 0);
    Close();
    return;
  }
  SendInitialHandshake();
}

uint64_t MysqlSession::OfferedCaps() const {
  const RuntimePtr& rt = worker_->runtime().Current();
  uint64_t caps = kServerCaps;
  if (worker_->shared()->tls[cluster_index_]) caps |= mysql::CLIENT_SSL;
  if (rt->clusters[cluster_index_].local_infile) caps |= mysql::CLIENT_LOCAL_FILES;
  return caps;
}

void MysqlSession::SendInitialHandshake() {
  mysql::Scramble sc = mysql::GenerateScramble();
  scramble_.assign(sc.begin(), sc.end());
  mysql::InitialHandshake hs;
  hs.server_version = "10.11.0-MariaDB-sluice";
  hs.connection_id = conn_id_;
  hs.auth_plugin_data = scramble_;
  hs.capabilities = OfferedCaps();
  hs.charset = charset_;
  hs.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT;
  hs.auth_plugin_name = mysql::kNativePasswordPlugin;
  uint8_t seq = 0;
  WritePacket(bufferevent_get_output(client_), &seq, mysql::EncodeInitialHandshake(hs));
  phase_ = Phase::kHandshake;
}

// ---- client events -------------------------------------------------------------------

void MysqlSession::OnClientRead(bufferevent*, void* arg) {
  auto* s = static_cast<MysqlSession*>(arg);
  switch (s->phase_) {
    case Phase::kHandshake:
      s->HandleHandshakeResponse();
      break;
    case Phase::kAuthSwitch:
      s->HandleAuthSwitchResponse();
      break;
    case Phase::kIdle:
      s->ProcessClientInput();
      break;
    case Phase::kForwarding:
      // LOAD DATA LOCAL: the file's packets (and the closing empty one) go to the server.
      if (s->infile_ && s->backend_)
        evbuffer_add_buffer(s->backend_->output(), bufferevent_get_input(s->client_));
      break;
    default:
      break;  // a command is in flight; its successor waits in the buffer
  }
  s->FlushWrites();
}

void MysqlSession::OnClientWrite(bufferevent*, void* arg) {
  auto* s = static_cast<MysqlSession*>(arg);
  // The client caught up: read the backend again (backpressure released).
  bufferevent_setcb(s->client_, &MysqlSession::OnClientRead, nullptr, &MysqlSession::OnClientEvent,
                    s);
  if (s->backend_ && s->phase_ == Phase::kForwarding) {
    s->backend_->ResumeRead();
    s->ForwardResponse();
  }
  s->FlushWrites();
}

void MysqlSession::OnClientEvent(bufferevent*, short what, void* arg) {
  auto* s = static_cast<MysqlSession*>(arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) s->Close();
}

// ---- login ---------------------------------------------------------------------------

void MysqlSession::HandleHandshakeResponse() {
  mysql::PacketView pkt;
  size_t wire = 0;
  if (!PeekPacket(bufferevent_get_input(client_), &pkt, &wire)) {
    if (evbuffer_get_length(bufferevent_get_input(client_)) > 4 + 0xFFFFFF) Close();
    return;
  }
  login_seq_ = pkt.seq;
  if (mysql::IsSslRequest(pkt.payload) && !tls_ && worker_->shared()->tls[cluster_index_]) {
    evbuffer_drain(bufferevent_get_input(client_), wire);
    StartTls();
    return;
  }
  auto resp = mysql::DecodeHandshakeResponse(pkt.payload);
  evbuffer_drain(bufferevent_get_input(client_), wire);
  if (!resp.ok()) {
    SendErr(mysql::ER_HANDSHAKE_ERROR, mysql::ER_HANDSHAKE_ERROR.message, login_seq_ + 1);
    Close();
    return;
  }
  caps_ = resp->capabilities & OfferedCaps();
  BeginAuth(*resp);
}

// The login proper, after a HandshakeResponse or a COM_CHANGE_USER: pick the plugin,
// verify the token, or switch the client to a plugin sluice verifies.
void MysqlSession::BeginAuth(const mysql::HandshakeResponse& resp) {
  if (resp.charset) charset_ = resp.charset;
  user_ = resp.user;
  want_.schema = resp.database;
  std::string plugin =
      resp.auth_plugin_name.empty() ? mysql::kNativePasswordPlugin : resp.auth_plugin_name;
  if (plugin != mysql::kNativePasswordPlugin && plugin != mysql::kCachingSha2Plugin) {
    // A client plugin sluice does not verify: ask for mysql_native_password instead.
    SwitchAuthPlugin(mysql::kNativePasswordPlugin);
    return;
  }
  if (resp.auth_response.empty() && plugin != mysql::kNativePasswordPlugin) {
    // The client's plugin differs from the one sluice announced, so it sent no token; restart
    // the exchange with its plugin and sluice's scramble, as MySQL does.
    SwitchAuthPlugin(plugin);
    return;
  }
  Authenticate(plugin, resp.auth_response);
}

// COM_CHANGE_USER: a new login on the same connection. Everything the old user set is
// dropped; a transaction or pinned state ends with its backend connection.
void MysqlSession::HandleChangeUser(const std::string& payload) {
  auto resp = mysql::DecodeChangeUser(mysql::AsBytes(payload), caps_);
  if (!resp.ok()) {
    worker_->stats().protocol_errors++;
    SendErr(mysql::ER_HANDSHAKE_ERROR, mysql::ER_HANDSHAKE_ERROR.message, 1);
    Close();
    return;
  }
  if (backend_) ReleaseBackend(!in_txn_ && !pinned_);
  stmts_.clear();
  want_ = SessionState{};
  pins_ = 0;
  cursor_stmt_ = 0;
  pinned_ = long_data_ = hold_previous_ = in_txn_ = lost_state_ = false;
  login_seq_ = 0;
  phase_ = Phase::kHandshake;
  BeginAuth(*resp);
}

void MysqlSession::StartTls() {
  bufferevent* tls = AcceptTls(worker_->base(), worker_->shared()->tls[cluster_index_], client_);
  if (!tls) {
    Close();
    return;
  }
  // The TLS bufferevent owns the plain one now; the client's next packet is the full
  // HandshakeResponse with sequence id 2 (PROTOCOL-NOTES.md).
  client_ = tls;
  tls_ = true;
  bufferevent_setcb(client_, &MysqlSession::OnClientRead, nullptr, &MysqlSession::OnClientEvent,
                    this);
  bufferevent_enable(client_, EV_READ | EV_WRITE);
}

void MysqlSession::SwitchAuthPlugin(const std::string& plugin) {
  auth_plugin_ = plugin;
  mysql::AuthSwitchRequest sw{plugin, scramble_};  // the encoder adds the NUL
  uint8_t seq = login_seq_ + 1;
  WritePacket(bufferevent_get_output(client_), &seq, mysql::EncodeAuthSwitchRequest(sw));
  login_seq_ = seq - 1;
  switched_ = true;
  phase_ = Phase::kAuthSwitch;
}

void MysqlSession::Authenticate(const std::string& plugin, std::string_view token) {
  log::Debug("session {}: auth user={} plugin={} token={} bytes tls={}", conn_id_, user_, plugin,
             token.size(), tls_);
  const RuntimePtr& rt = worker_->runtime().Current();
  const User* u = rt->FindUser(user_);
  bool allowed = u && u->cluster == rt->clusters[cluster_index_].name;
  bool ok = allowed && VerifyClientToken(plugin, token, scramble_, u->password);
  bool cached = worker_->sha2_cache().count(user_) > 0;
  if (allowed && (!ok || !cached) && plugin == mysql::kCachingSha2Plugin && tls_) {
    // caching_sha2_password full authentication, as MySQL does on a cache miss: over TLS the
    // client sends its password in clear (PROTOCOL-NOTES.md); afterwards this worker knows
    // the user and takes the fast path. Without TLS, a valid scramble is enough (sluice knows
    // the password) and an invalid one is refused: sluice does not speak RSA.
    uint8_t seq = login_seq_ + 1;
    std::string full{static_cast<char>(mysql::kAuthMoreDataHeader),
                     static_cast<char>(mysql::kCachingSha2PerformFullAuth)};
    WritePacket(bufferevent_get_output(client_), &seq, full);
    login_seq_ = seq - 1;
    full_auth_ = true;
    phase_ = Phase::kAuthSwitch;
    return;
  }
  if (!ok) {
    DenyLogin(!token.empty());
    return;
  }
  if (plugin == mysql::kCachingSha2Plugin) {
    // Fast path: sluice knows the password, so the scramble alone proves the client.
    uint8_t seq = login_seq_ + 1;
    std::string fast{static_cast<char>(mysql::kAuthMoreDataHeader),
                     static_cast<char>(mysql::kCachingSha2FastAuthOk)};
    WritePacket(bufferevent_get_output(client_), &seq, fast);
    login_seq_ = seq - 1;
  }
  FinishLogin();
}

void MysqlSession::DenyLogin(bool used_password) {
  worker_->stats().client_connections_refused++;
  SendErr(mysql::ER_ACCESS_DENIED_ERROR,
          fmt::format(fmt::runtime(mysql::ER_ACCESS_DENIED_ERROR.message), user_, client_addr_,
                      used_password ? "YES" : "NO"),
          login_seq_ + 1);
  Close();
}

void MysqlSession::HandleAuthSwitchResponse() {
  mysql::PacketView pkt;
  size_t wire = 0;
  if (!PeekPacket(bufferevent_get_input(client_), &pkt, &wire)) return;
  login_seq_ = pkt.seq;
  std::string token(AsView(pkt.payload));
  evbuffer_drain(bufferevent_get_input(client_), wire);
  if (!full_auth_) {
    // The answer to an auth switch: a token for the plugin sluice asked for.
    switched_ = false;
    Authenticate(auth_plugin_, token);
    return;
  }
  // caching_sha2 full authentication: the clear password, NUL-terminated, over TLS.
  const RuntimePtr& rt = worker_->runtime().Current();
  const User* u = rt->FindUser(user_);
  std::string_view clear(token);
  if (!clear.empty() && clear.back() == '\0') clear.remove_suffix(1);
  bool ok = u && u->cluster == rt->clusters[cluster_index_].name &&
            clear.size() == u->password.size() &&
            CRYPTO_memcmp(clear.data(), u->password.data(), clear.size()) == 0;
  full_auth_ = false;
  if (!ok) {
    DenyLogin(!clear.empty());
    return;
  }
  worker_->sha2_cache().insert(user_);
  FinishLogin();
}

void MysqlSession::FinishLogin() {
  if (want_.schema.empty()) {
    const RuntimePtr& rt = worker_->runtime().Current();
    if (const User* u = rt->FindUser(user_)) want_.schema = u->default_schema;
  }
  if (want_.schema.empty()) {
    SendOk(login_seq_ + 1);
    phase_ = Phase::kIdle;
    ProcessClientInput();
    return;
  }
  // The schema must exist (ER_BAD_DB_ERROR at connect, as MySQL does): check it on a
  // backend connection, which the schema sync step does anyway.
  cmd_ = Command{};
  cmd_.internal_check = true;
  cmd_.info.is_read = true;
  seq_ = login_seq_ + 1;
  StartCommand();
}

// ---- commands ------------------------------------------------------------------------

bool MysqlSession::TakeClientCommand(std::string* payload, size_t* consumed, bool* too_big) {
  evbuffer* in = bufferevent_get_input(client_);
  size_t offset = 0;
  payload->clear();
  *too_big = false;
  // A payload of 0xFFFFFF bytes continues in the next packet (PROTOCOL-NOTES.md).
  for (;;) {
    size_t avail = evbuffer_get_length(in);
    if (avail < offset + 4) return false;
    uint8_t hdr[4];
    evbuffer_ptr pos;
    evbuffer_ptr_set(in, &pos, offset, EVBUFFER_PTR_SET);
    evbuffer_copyout_from(in, &pos, hdr, 4);
    size_t len = hdr[0] | (hdr[1] << 8) | (size_t{hdr[2]} << 16);
    if (payload->size() + len > kMaxCommandBytes) {
      *too_big = true;
      return false;
    }
    if (avail < offset + 4 + len) {
      // Wait for the rest, but never hold more than one command's bound.
      return false;
    }
    size_t old = payload->size();
    payload->resize(old + len);
    evbuffer_ptr_set(in, &pos, offset + 4, EVBUFFER_PTR_SET);
    evbuffer_copyout_from(in, &pos, payload->data() + old, len);
    offset += 4 + len;
    if (len < 0xFFFFFF) break;
  }
  *consumed = offset;
  return true;
}

void MysqlSession::ProcessClientInput() {
  while (phase_ == Phase::kIdle) {
    std::string payload;
    size_t consumed = 0;
    bool too_big = false;
    if (!TakeClientCommand(&payload, &consumed, &too_big)) {
      if (too_big) {
        SendErr(mysql::ER_NET_PACKET_TOO_LARGE, mysql::ER_NET_PACKET_TOO_LARGE.message, 1);
        Close();
      }
      return;
    }
    evbuffer_drain(bufferevent_get_input(client_), consumed);
    if (payload.empty()) {
      SendErr(mysql::ER_UNKNOWN_COM_ERROR, "Malformed packet", 1);
      Close();
      return;
    }
    Dispatch(std::move(payload));
  }
}

void MysqlSession::Dispatch(std::string payload) {
  uint8_t code = static_cast<uint8_t>(payload[0]);
  seq_ = 1;
  if (HandleLocally(code, payload)) return;
  if (code == mysql::COM_CHANGE_USER) {
    HandleChangeUser(payload);
    return;
  }
  switch (mysql::PolicyOf(code)) {
    case mysql::CommandPolicy::kForward:
      break;
    case mysql::CommandPolicy::kRefuseKill:
      RefuseKill();
      return;
    case mysql::CommandPolicy::kRefuse:
      SendErr(mysql::ER_UNKNOWN_COM_ERROR, mysql::ER_UNKNOWN_COM_ERROR.message, 1);
      return;
  }
  cmd_ = Command{};
  cmd_.code = code;
  cmd_.start_us = MonotonicUs();
  std::string_view body(payload.data() + 1, payload.size() - 1);
  switch (code) {
    case mysql::COM_QUERY:
      cmd_.info = ClassifyStatement(body, routing::Dialect::kMysql);
      if (cmd_.info.command == "KILL") {
        RefuseKill();
        return;
      }
      routing::Digest(body, routing::Dialect::kMysql, &cmd_.digest);
      cmd_.digest_hash = routing::DigestHash(cmd_.digest);
      break;
    case mysql::COM_INIT_DB:
      cmd_.info.is_read = true;
      break;
    case mysql::COM_STMT_PREPARE:
      // Prepare on the writer unless the session is pinned; executes route on their own.
      cmd_.info = StatementInfo{};
      break;
    case mysql::COM_STMT_EXECUTE:
    case mysql::COM_STMT_SEND_LONG_DATA:
    case mysql::COM_STMT_FETCH:
    case mysql::COM_STMT_RESET: {
      auto id = mysql::StatementIdOf(mysql::AsBytes(payload));
      auto it = id ? stmts_.find(*id) : stmts_.end();
      if (it == stmts_.end()) {
        if (code == mysql::COM_STMT_SEND_LONG_DATA) return;  // no response is ever sent
        SendErr(ER_UNKNOWN_STMT_HANDLER,
                fmt::format(fmt::runtime(ER_UNKNOWN_STMT_HANDLER.message), id ? *id : 0,
                            "mysqld_stmt_execute"),
                1);
        return;
      }
      cmd_.client_stmt_id = *id;
      cmd_.info = it->second.info;
      // Drivers send parameter types on the first execute only: keep them for re-executes
      // on backend connections that have not seen them (PROTOCOL-NOTES.md).
      if (code == mysql::COM_STMT_EXECUTE && it->second.param_types.empty()) {
        if (auto types = mysql::ExtractParamTypes(mysql::AsBytes(payload), it->second.num_params))
          it->second.param_types = std::move(*types);
      }
      break;
    }
    default:
      // COM_FIELD_LIST, COM_STATISTICS, COM_PROCESS_INFO …: any backend answers them.
      cmd_.info.is_read = true;
      break;
  }
  cmd_.payload = std::move(payload);
  StartCommand();
}

// KILL (the statement or COM_PROCESS_KILL) names a server thread id; through a pool that id
// belongs to whichever session holds that backend connection, so it is refused until sluice
// maps its own connection ids (mysql::PolicyOf).
void MysqlSession::RefuseKill() {
  SendErr(ER_NOT_SUPPORTED_YET,
          fmt::format(fmt::runtime(ER_NOT_SUPPORTED_YET.message),
                      "KILL through sluice (cancel the statement from its own client)"),
          1);
}

// Commands answered by sluice itself; true when handled.
bool MysqlSession::HandleLocally(uint8_t code, const std::string& payload) {
  switch (code) {
    case mysql::COM_QUIT:
      Close();
      return true;
    case mysql::COM_PING:
      SendOk(1);
      return true;
    case mysql::COM_STMT_CLOSE: {
      // No response. Backend copies stay in their connections' LRU caches; a cursor of
      // this statement is closed when the backend re-executes it.
      if (auto id = mysql::StatementIdOf(mysql::AsBytes(payload))) {
        stmts_.erase(*id);
        if (*id == cursor_stmt_) {
          cursor_stmt_ = 0;
          pinned_ = pins_ != 0 || long_data_;
        }
      }
      return true;
    }
    case mysql::COM_SET_OPTION:
      // The backend connections always run with multi-statements on; record nothing.
      {
        uint8_t seq = 1;
        WritePacket(bufferevent_get_output(client_), &seq,
                    mysql::EncodeEof(mysql::EofPacket{0, mysql::SERVER_STATUS_AUTOCOMMIT}));
      }
      return true;
    case mysql::COM_RESET_CONNECTION:
      if (!pinned_ && !in_txn_) {
        ResetSessionState();
        SendOk(1);
        return true;
      }
      return false;
    default:
      return false;
  }
}

void MysqlSession::ResetSessionState() {
  std::string schema = want_.schema;
  want_ = SessionState{};
  want_.schema = schema;
  stmts_.clear();
}

void MysqlSession::StartCommand() {
  phase_ = Phase::kAcquiring;
  if (lost_state_ && !cmd_.internal_check) {
    // The client believes it is inside a transaction that died with its server: say so
    // once, rather than run its next statement outside of it.
    lost_state_ = false;
    FailCommand(mysql::ER_NET_READ_ERROR,
                "sluice: the server that ran this transaction was taken offline; the "
                "transaction was rolled back");
    return;
  }
  if (backend_ && !pinned_ && !in_txn_ && hold_previous_) {
    // Kept after an insert for a LAST_INSERT_ID() that did not come: back to the pool.
    hold_previous_ = false;
    if (!(cmd_.info.pins & routing::kPinPreviousConnection)) ReleaseBackend(true);
  }
  if (backend_) {  // pinned or in a transaction: the session keeps its connection
    OnBackendAcquired(backend_);
    return;
  }
  RouteAndAcquire();
}

void MysqlSession::RouteAndAcquire() {
  const RuntimePtr& rt = worker_->runtime().Current();
  RouteRequest req;
  req.info = &cmd_.info;
  StatementInfo as_write;
  if (cmd_.info.is_read && AutocommitOff()) {
    // With autocommit off the first read opens a transaction that later writes join: it
    // must start on the writer.
    as_write = cmd_.info;
    as_write.is_read = as_write.read_only_txn = false;
    req.info = &as_write;
  }
  if (cmd_.code == mysql::COM_QUERY)
    req.text = std::string_view(cmd_.payload).substr(1);
  else if (cmd_.client_stmt_id)
    req.text = stmts_[cmd_.client_stmt_id].text;
  req.user = user_;
  req.schema = want_.schema;
  req.client_addr = client_addr_;
  req.last_write_ms = last_write_ms_;
  RouteResult route = worker_->router().Route(*rt, cluster_index_, req);
  if (route.hold) {
    // A failover or switchover is moving the primary: wait for the snapshot that ends it.
    if (hold_deadline_ms_ == 0)
      hold_deadline_ms_ = MonotonicMs() + rt->clusters[cluster_index_].write_hold_timeout_ms;
    worker_->Hold(this, hold_deadline_ms_);
    return;
  }
  hold_deadline_ms_ = 0;
  if (route.reject) {
    RecordRejection(&worker_->stats(), rt->clusters[cluster_index_].name, user_, route.message,
                    req.text);
    FailCommand(ER_NOT_ALLOWED_COMMAND, route.message);
    return;
  }
  if (route.server < 0) {
    FailCommand(mysql::ER_UNKNOWN_ERROR, route.message);
    return;
  }
  AcquireBackend(route.server);
}

void MysqlSession::AcquireBackend(int server_index) {
  const RuntimePtr& rt = worker_->runtime().Current();
  const Cluster& cluster = rt->clusters[cluster_index_];
  const Server& srv = cluster.servers[server_index];
  const User* u = rt->FindUser(user_);
  if (!u) {
    FailCommand(mysql::ER_ACCESS_DENIED_ERROR, "sluice: user no longer exists");
    return;
  }
  backend_server_ = server_index;
  PoolKey key{srv.name(), u->backend_user.empty() ? u->name : u->backend_user,
              (caps_ & kCapsThatShapeResponses) | (uint64_t{charset_} << 56)};
  BackendPools& pools = worker_->pools();
  if (PooledConn* c = pools.TakeIdle(key)) {
    OnBackendAcquired(static_cast<MysqlBackend*>(c));
    return;
  }
  int limit = std::max(1, srv.max_connections / worker_->shared()->worker_count);
  if (pools.TryReserve(key.server, limit)) {
    OpenBackend(key);
    return;
  }
  // At the limit: wait (bounded in count and time) for a connection or a free slot.
  worker_->stats().pool_waits++;
  bool queued = pools.Wait(
      key, limit, kPoolWaitTimeoutMs,
      [this, key](bool ok, PooledConn* c) {
        wait_ticket_ = 0;
        if (!ok) {
          worker_->stats().pool_wait_timeouts++;
          FailCommand(mysql::ER_CON_COUNT_ERROR,
                      fmt::format("sluice: timed out waiting for a connection to {}", key.server));
        } else if (c) {
          OnBackendAcquired(static_cast<MysqlBackend*>(c));
        } else {
          OpenBackend(key);  // a slot was reserved for us
        }
      },
      &wait_ticket_);
  if (!queued)
    FailCommand(mysql::ER_CON_COUNT_ERROR,
                "sluice: too many sessions waiting for a backend connection");
}

// Opens a connection for key in the slot reserved for it, with the current snapshot's view
// of the server and the user (either may have changed while the session waited).
void MysqlSession::OpenBackend(const PoolKey& key) {
  const RuntimePtr& rt = worker_->runtime().Current();
  const Cluster& cluster = rt->clusters[cluster_index_];
  const Server* srv = nullptr;
  for (const Server& s : cluster.servers)
    if (s.name() == key.server) srv = &s;
  const User* u = rt->FindUser(user_);
  if (!srv || !u) {
    worker_->pools().Release(key.server);
    RetryOrFail(Unavailable(fmt::format("{} left the cluster's configuration", key.server)));
    return;
  }
  BackendLogin login;
  login.host = srv->host;
  login.port = srv->port;
  login.user = key.user;
  login.password = u->backend_password.empty() ? u->password : u->backend_password;
  login.caps = caps_ | mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_SECURE_CONNECTION |
               mysql::CLIENT_PLUGIN_AUTH | mysql::CLIENT_CONNECT_WITH_DB;
  login.charset = charset_;
  login.connect_timeout_ms = cluster.connect_timeout_ms;
  connecting_ = MysqlBackend::Connect(worker_, key, login, this);
}

void MysqlSession::OnBackendReady(MysqlBackend* b) {
  connecting_ = nullptr;
  OnBackendAcquired(b);
}

void MysqlSession::OnBackendAcquired(MysqlBackend* b) {
  backend_ = b;
  b->SetOwner(this);
  b->ResumeRead();
  worker_->router().Started(cluster_index_, backend_server_);
  // Plan the state sync: schema, SET NAMES, variables; then missing prepared statements.
  sync_steps_ = PlanSync(want_, b->state());
  sync_index_ = 0;
  phase_ = Phase::kSyncing;
  RunNextSyncStep();
  FlushWrites();
}

void MysqlSession::RunNextSyncStep() {
  sync_prepare_ = false;
  if (sync_index_ < sync_steps_.size()) {
    const SyncStep& step = sync_steps_[sync_index_];
    std::string payload;
    payload.push_back(
        static_cast<char>(step.kind == SyncStep::kInitDb ? mysql::COM_INIT_DB : mysql::COM_QUERY));
    payload += step.text;
    uint8_t seq = 0;
    tracker_.Begin(static_cast<uint8_t>(payload[0]), backend_->caps());
    sync_packets_ = 0;
    WritePacket(backend_->output(), &seq, payload);
    return;
  }
  // A statement to execute must exist on this backend connection: prepare it first.
  if (cmd_.code == mysql::COM_STMT_EXECUTE || cmd_.code == mysql::COM_STMT_SEND_LONG_DATA ||
      cmd_.code == mysql::COM_STMT_RESET || cmd_.code == mysql::COM_STMT_FETCH) {
    const ClientStmt& cs = stmts_[cmd_.client_stmt_id];
    if (!backend_->stmts().Find(cs.text)) {
      sync_prepare_ = true;
      std::string payload;
      payload.push_back(static_cast<char>(mysql::COM_STMT_PREPARE));
      payload += cs.text;
      uint8_t seq = 0;
      tracker_.Begin(mysql::COM_STMT_PREPARE, backend_->caps());
      sync_packets_ = 0;
      WritePacket(backend_->output(), &seq, payload);
      return;
    }
  }
  if (cmd_.internal_check) {
    // The login's schema check passed.
    SendOk(seq_);
    ReleaseBackend(true);
    phase_ = Phase::kIdle;
    ProcessClientInput();
    return;
  }
  SendClientCommand();
}

void MysqlSession::SendClientCommand() {
  phase_ = Phase::kForwarding;
  std::string payload;
  const std::string* out = &cmd_.payload;
  if (cmd_.client_stmt_id) {
    ClientStmt& cs = stmts_[cmd_.client_stmt_id];
    BackendStmt* bs = backend_->stmts().Find(cs.text);
    if (cmd_.code == mysql::COM_STMT_EXECUTE) {
      bool send_types = !bs->types_sent;
      payload = RewriteExecute(cmd_.payload, bs->id, send_types);
      if (send_types && !cs.param_types.empty()) bs->types_sent = true;
    } else {
      payload = cmd_.payload;
      mysql::RewriteStatementId(&payload, bs->id);
    }
    out = &payload;
  }
  uint8_t seq = 0;
  if (mysql::CommandExpectsResponse(cmd_.code)) {
    tracker_.Begin(cmd_.code, backend_->caps());
  }
  WritePacket(backend_->output(), &seq, *out);
  if (!mysql::CommandExpectsResponse(cmd_.code)) {
    // COM_STMT_SEND_LONG_DATA: no response. It pins until the EXECUTE that uses it.
    long_data_ = true;
    pinned_ = true;
    phase_ = Phase::kIdle;
    ProcessClientInput();
  }
}

std::string MysqlSession::RewriteExecute(const std::string& payload, uint32_t backend_id,
                                         bool send_types) {
  const ClientStmt& cs = stmts_[cmd_.client_stmt_id];
  std::string out;
  if (send_types && !cs.param_types.empty() && cs.num_params > 0) {
    auto built =
        mysql::BuildExecuteWithTypes(mysql::AsBytes(payload), cs.num_params, cs.param_types);
    out = built.ok() ? std::move(built).value() : payload;
  } else
    out = payload;
  mysql::RewriteStatementId(&out, backend_id);
  return out;
}

// ---- backend responses ---------------------------------------------------------------

void MysqlSession::OnBackendReadable(MysqlBackend* b) {
  if (b != backend_) return;
  if (phase_ == Phase::kSyncing)
    HandleSyncResponse();
  else if (phase_ == Phase::kForwarding)
    ForwardResponse();
  else
    OnBackendError(b, ProtocolError("unexpected data from the backend"));
  FlushWrites();
}

void MysqlSession::HandleSyncResponse() {
  mysql::PacketView pkt;
  size_t wire = 0;
  while (phase_ == Phase::kSyncing && PeekPacket(backend_->input(), &pkt, &wire)) {
    bool first = sync_packets_++ == 0;
    if (sync_prepare_ && first && !pkt.payload.empty() && pkt.payload[0] == mysql::kOkHeader) {
      auto ok = mysql::DecodePrepareOk(pkt.payload);
      if (ok.ok()) {
        const ClientStmt& cs = stmts_[cmd_.client_stmt_id];
        CloseBackendStmt(backend_->stmts().Insert(cs.text, BackendStmt{ok->statement_id, false}));
      }
    }
    auto r = tracker_.Feed(pkt);
    evbuffer_drain(backend_->input(), wire);
    if (r == mysql::TrackStatus::kError) {
      OnBackendError(backend_, ProtocolError("malformed response to a sync command"));
      return;
    }
    if (r != mysql::TrackStatus::kDone) continue;
    if (tracker_.ended_in_error()) {
      // The backend refused the sync (e.g. unknown schema): the client gets that error.
      const mysql::ErrPacket& e = tracker_.error();
      SyncStep failed = sync_index_ < sync_steps_.size() ? sync_steps_[sync_index_] : SyncStep{};
      if (failed.kind == SyncStep::kInitDb) want_.schema = backend_->state().schema;
      ReleaseBackend(true);
      FailCommand(mysql::ErrorInfo{e.code, e.sql_state.c_str(), ""}, e.message);
      return;
    }
    if (!sync_prepare_) {
      const SyncStep& st = sync_steps_[sync_index_];
      if (st.kind == SyncStep::kInitDb)
        backend_->state().schema = st.text;
      else
        backend_->state().vars = want_.vars;
      ++sync_index_;
    }
    RunNextSyncStep();
    return;
  }
}

void MysqlSession::ForwardResponse() {
  evbuffer* in = backend_->input();
  evbuffer* out = bufferevent_get_output(client_);
  mysql::PacketView pkt;
  size_t wire = 0;
  size_t batch = 0;  // bytes of whole packets that go to the client unchanged
  bool done = false;
  while (!done && evbuffer_get_length(out) < kClientOutHighWater) {
    // Peek the packet after the ones already accepted into this batch.
    size_t avail = evbuffer_get_length(in);
    if (avail < batch + 4) break;
    uint8_t hdr[4];
    evbuffer_ptr pos;
    evbuffer_ptr_set(in, &pos, batch, EVBUFFER_PTR_SET);
    evbuffer_copyout_from(in, &pos, hdr, 4);
    size_t len = hdr[0] | (hdr[1] << 8) | (size_t{hdr[2]} << 16);
    if (avail < batch + 4 + len) {
      // Make room for the whole packet: a row over the read-ahead bound would never
      // complete otherwise. The client-side bound still limits what sluice holds.
      backend_->AllowPacket(4 + len);
      break;
    }
    backend_->AllowPacket(0);
    const uint8_t* p = evbuffer_pullup(in, static_cast<ev_ssize_t>(batch + 4 + len));
    pkt.seq = hdr[3];
    cmd_.last_seq = hdr[3];
    pkt.payload = {p + batch + 4, len};
    wire = 4 + len;
    bool first = !cmd_.response_started;
    cmd_.response_started = true;
    auto r = tracker_.Feed(pkt);
    if (r == mysql::TrackStatus::kError) {
      // The packets before this one are whole and valid: the client gets them, then an ERR.
      evbuffer_remove_buffer(in, out, batch);
      cmd_.last_seq = static_cast<uint8_t>(hdr[3] - 1);
      OnBackendError(backend_, ProtocolError("malformed response from the backend"));
      return;
    }
    if (cmd_.code == mysql::COM_STMT_PREPARE && first && len > 0 &&
        p[batch + 4] == mysql::kOkHeader) {
      // PREPARE_OK carries the backend's statement id: the client gets sluice's own.
      evbuffer_remove_buffer(in, out, batch);
      std::string first(reinterpret_cast<const char*>(p + batch), wire);
      // (p is stale after the remove; `first` holds a copy of the packet.)
      evbuffer_drain(in, wire);
      std::string payload = first.substr(4);
      ApplyPrepareOk(&payload);
      uint8_t s = static_cast<uint8_t>(first[3]);
      WritePacket(out, &s, payload);
      batch = 0;
      if (r == mysql::TrackStatus::kDone) done = true;
      continue;
    }
    batch += wire;
    if (r == mysql::TrackStatus::kDone) done = true;
    if (r == mysql::TrackStatus::kLocalInfileRequest) {
      // The client streams the file next; its packets go straight to the backend.
      evbuffer_remove_buffer(in, out, batch);
      batch = 0;
      phase_ = Phase::kForwarding;
      infile_ = true;
      evbuffer_add_buffer(backend_->output(), bufferevent_get_input(client_));
      break;
    }
  }
  if (batch) evbuffer_remove_buffer(in, out, batch);
  if (done) {
    FinishCommand();
    return;
  }
  if (evbuffer_get_length(out) >= kClientOutHighWater) {
    // Backpressure: the client reads slowly; stop reading its backend until it catches up.
    backend_->PauseRead();
    bufferevent_setwatermark(client_, EV_WRITE, kClientOutLowWater, 0);
    bufferevent_setcb(client_, &MysqlSession::OnClientRead, &MysqlSession::OnClientWrite,
                      &MysqlSession::OnClientEvent, this);
  }
}

void MysqlSession::ApplyPrepareOk(std::string* payload) {
  auto ok = mysql::DecodePrepareOk(mysql::AsBytes(*payload));
  if (!ok.ok()) return;
  uint32_t client_id = next_stmt_id_++;
  ClientStmt cs;
  cs.text = cmd_.payload.substr(1);
  cs.num_params = ok->num_params;
  cs.num_columns = ok->num_columns;
  cs.info = ClassifyStatement(cs.text, routing::Dialect::kMysql);
  routing::Digest(cs.text, routing::Dialect::kMysql, &cs.digest);
  cs.digest_hash = routing::DigestHash(cs.digest);
  // The connection may hold this text already (another client prepared it here) and the
  // cache may be full: the displaced statements are closed, or the server keeps them
  // until max_prepared_stmt_count refuses every client.
  const BackendStmt* had = backend_->stmts().Find(cs.text);
  uint32_t replaced = had ? had->id : 0;
  uint32_t evicted = backend_->stmts().Insert(cs.text, BackendStmt{ok->statement_id, false});
  CloseBackendStmt(replaced);
  CloseBackendStmt(evicted);
  stmts_[client_id] = std::move(cs);
  mysql::RewriteStatementId(payload, client_id);
}

void MysqlSession::RecordStats(bool error) {
  if (cmd_.internal_check || backend_server_ < 0) return;
  if (!backend_) return;
  const RuntimePtr& rt = worker_->runtime().Current();
  const Cluster& cluster = rt->clusters[cluster_index_];
  StatementRecord r;
  r.cluster = cluster.name;
  r.server = backend_->server();
  r.hostgroup = cluster.HostgroupOf(backend_->host(), backend_->port());
  r.user = user_;
  r.schema = want_.schema;
  r.command = cmd_.info.command.empty() ? CommandName(cmd_.code) : cmd_.info.command;
  if (cmd_.code == mysql::COM_QUERY) {
    r.digest_text = cmd_.digest;
    r.digest_hash = cmd_.digest_hash;
  } else if (cmd_.code == mysql::COM_STMT_EXECUTE) {
    auto it = stmts_.find(cmd_.client_stmt_id);
    if (it != stmts_.end()) {
      r.digest_text = it->second.digest;
      r.digest_hash = it->second.digest_hash;
    }
  }
  int64_t now = MonotonicUs();
  r.latency_us = now > cmd_.start_us ? static_cast<uint64_t>(now - cmd_.start_us) : 0;
  r.rows_sent = tracker_.rows();
  r.rows_affected = tracker_.affected_rows();
  r.error = error;
  RecordStatement(&worker_->stats(), r);
}

// COM_STMT_CLOSE for a statement of the current backend connection (0: nothing). It has no
// response, so it can follow the command in flight.
void MysqlSession::CloseBackendStmt(uint32_t backend_id) {
  if (backend_id == 0) return;
  std::string close{static_cast<char>(mysql::COM_STMT_CLOSE)};
  close.append(4, '\0');
  mysql::RewriteStatementId(&close, backend_id);
  uint8_t seq = 0;
  WritePacket(backend_->output(), &seq, close);
}

void MysqlSession::FinishCommand() {
  infile_ = false;
  if (cmd_.code == mysql::COM_STMT_EXECUTE) long_data_ = false;
  RecordStats(tracker_.ended_in_error());
  NoteStatementEffects(tracker_);
  worker_->router().Finished(cluster_index_, backend_server_);
  bool keep = pinned_ || in_txn_ || hold_previous_;
  if (!keep) ReleaseBackend(true);
  phase_ = Phase::kIdle;
  if (draining_ && !in_txn_) {
    Close();
    return;
  }
  ProcessClientInput();
}

void MysqlSession::NoteStatementEffects(const mysql::ResponseTracker& t) {
  if (t.has_status_flags()) in_txn_ = t.in_transaction();
  if (t.ended_in_error()) return;
  if (!cmd_.info.is_read) last_write_ms_ = MonotonicMs();
  // Connection state the client created pins the backend until it is undone.
  uint32_t pins = cmd_.info.pins & kStatePins;
  if (cmd_.info.pins & routing::kPinUnlockTables) pins_ &= ~uint32_t{routing::kPinLockTables};
  pins_ |= pins;
  if (cmd_.code == mysql::COM_STMT_EXECUTE && tracker_.cursor_opened())
    cursor_stmt_ = cmd_.client_stmt_id;  // COM_STMT_FETCH must find the cursor here
  if (cmd_.code == mysql::COM_STMT_FETCH && tracker_.has_status_flags() &&
      (tracker_.status_flags() & mysql::SERVER_STATUS_LAST_ROW_SENT))
    cursor_stmt_ = 0;
  if (cmd_.code == mysql::COM_STMT_RESET && cmd_.client_stmt_id == cursor_stmt_) cursor_stmt_ = 0;
  pinned_ = pins_ != 0 || long_data_ || cursor_stmt_ != 0;
  // LAST_INSERT_ID() reads the connection that ran the insert: keep it for one statement.
  hold_previous_ = tracker_.last_insert_id() > 0;
  if (cmd_.code == mysql::COM_INIT_DB) {
    want_.schema = cmd_.payload.substr(1);
    backend_->state().schema = want_.schema;
  }
  if (!cmd_.info.use_schema.empty()) {
    want_.schema = cmd_.info.use_schema;
    backend_->state().schema = want_.schema;
  }
  for (const auto& [name, value] : cmd_.info.session_vars) {
    std::string n = NormaliseVarName(name);
    if (n.empty()) continue;
    want_.Set(n, value);
  }
  if (!cmd_.info.session_vars.empty()) backend_->state().vars = want_.vars;
  if (cmd_.code == mysql::COM_RESET_CONNECTION) {
    ResetSessionState();
    backend_->state() = SessionState{};
    backend_->state().schema = want_.schema;
    backend_->stmts().Clear();
    pins_ = 0;
    pinned_ = false;
  }
}

void MysqlSession::ReleaseBackend(bool reusable) {
  if (!backend_) return;
  MysqlBackend* b = backend_;
  backend_ = nullptr;
  b->SetOwner(nullptr);
  if (reusable && b->ready() && evbuffer_get_length(b->input()) == 0) {
    worker_->pools().PutIdle(b);
  } else {
    std::string server = b->server();
    b->Destroy();
    worker_->pools().Release(server);
  }
}

void MysqlSession::OnBackendError(MysqlBackend* b, const Status& st) {
  if (b == connecting_) connecting_ = nullptr;
  std::string server = b->server();
  if (b == backend_) backend_ = nullptr;
  b->SetOwner(nullptr);
  b->Destroy();
  worker_->pools().Release(server);
  worker_->router().MarkFailed(cluster_index_, server);
  if (phase_ == Phase::kIdle) {
    // A pinned connection died between statements: the session's state is gone with it.
    lost_state_ = in_txn_ || pinned_;
    pinned_ = false;
    pins_ = 0;
    long_data_ = false;
    cursor_stmt_ = 0;
    in_txn_ = false;
    return;
  }
  log::Warn("session {}: {}", conn_id_, st.message());
  RetryOrFail(st);
}

// Before any response byte reached the client, a statement that is not in a transaction
// can run elsewhere: the client never knows the first server died.
void MysqlSession::RetryOrFail(const Status& st) {
  bool had_state = in_txn_ || pinned_;
  if (!cmd_.response_started && !had_state && ++cmd_.attempts < kMaxBackendAttempts &&
      phase_ != Phase::kIdle) {
    RouteAndAcquire();
    return;
  }
  in_txn_ = false;
  pinned_ = false;
  pins_ = 0;
  long_data_ = false;
  cursor_stmt_ = 0;
  if (cmd_.response_started) {
    // Whole packets of the result went out: an ERR in place of the next one is what a
    // server sends when a statement dies mid-stream; the session stays usable.
    seq_ = static_cast<uint8_t>(cmd_.last_seq + 1);
  }
  FailCommand(mysql::ER_NET_READ_ERROR,
              fmt::format("{} ({})", mysql::CR_SERVER_LOST.message, st.message()));
}

void MysqlSession::FailCommand(const mysql::ErrorInfo& e, const std::string& message) {
  if (backend_) ReleaseBackend(false);
  if (mysql::CommandExpectsResponse(cmd_.code) || cmd_.internal_check) SendErr(e, message, seq_);
  if (cmd_.internal_check) {
    Close();
    return;
  }
  phase_ = Phase::kIdle;
  ProcessClientInput();
}

// ---- output helpers --------------------------------------------------------------------

// Called once at the end of every callback: each connection gets one write per loop turn.
void MysqlSession::FlushWrites() {
  EagerWrite(client_);
  if (backend_) backend_->WriteNow();
}

void MysqlSession::SendErr(const mysql::ErrorInfo& e, std::string_view message, uint8_t seq) {
  WritePacket(bufferevent_get_output(client_), &seq, mysql::MakeErr(e.code, e.sql_state, message));
}

void MysqlSession::SendOk(uint8_t seq, uint64_t affected) {
  mysql::OkPacket ok;
  ok.affected_rows = affected;
  ok.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT | (in_txn_ ? mysql::SERVER_STATUS_IN_TRANS : 0);
  WritePacket(bufferevent_get_output(client_), &seq, mysql::EncodeOk(ok, caps_));
}

void MysqlSession::Drain() {
  draining_ = true;
  // Idle outside a transaction, or not yet logged in: nothing is lost by closing now.
  // Otherwise the session closes when its statement (or transaction) is over.
  bool idle = phase_ == Phase::kIdle && !in_txn_;
  if (idle || phase_ == Phase::kHandshake || phase_ == Phase::kAuthSwitch) Close();
}

void MysqlSession::Abort() {
  Close();
}

void MysqlSession::RetryHeld(bool timed_out) {
  if (phase_ != Phase::kAcquiring) return;
  if (timed_out) {
    hold_deadline_ms_ = 0;
    FailCommand(mysql::ER_UNKNOWN_ERROR,
                "sluice: timed out waiting for the cluster's new primary (failover or switchover)");
    return;
  }
  RouteAndAcquire();
  FlushWrites();
}

void MysqlSession::OnServerGone(const std::string& server) {
  if (!backend_ || backend_->server() != server) return;
  if (phase_ == Phase::kIdle) {
    lost_state_ = in_txn_ || pinned_;
    ReleaseBackend(false);
    in_txn_ = false;
    pinned_ = false;
    pins_ = 0;
    long_data_ = false;
    cursor_stmt_ = 0;
    return;
  }
  OnBackendError(backend_, Unavailable(fmt::format("server {} was set OFFLINE_HARD", server)));
}

void MysqlSession::Close() {
  if (phase_ == Phase::kClosed) return;
  if (wait_ticket_) worker_->pools().Cancel(wait_ticket_);
  if (connecting_) {
    // Its login goes on without us; when done it joins the pool (or frees its slot).
    connecting_->SetOwner(nullptr);
    connecting_ = nullptr;
  }
  if (backend_) {
    // Mid-statement or mid-transaction the connection's state is unknown: do not reuse it.
    bool clean = phase_ == Phase::kIdle && !in_txn_ && !pinned_;
    if (phase_ == Phase::kForwarding || phase_ == Phase::kSyncing)
      worker_->router().Finished(cluster_index_, backend_server_);
    ReleaseBackend(clean);
  }
  if (counted_) {
    worker_->shared()->cluster_counters[cluster_index_]->client_connections.fetch_sub(
        1, std::memory_order_relaxed);
    counted_ = false;
  }
  phase_ = Phase::kClosed;
  FreeWhenFlushed(client_);  // the last bytes (an error packet) still leave
  client_ = nullptr;
  worker_->RemoveSession(this);
  // Callers up the stack may still look at phase_: delete from the loop, not here.
  event_base_once(
      worker_->base(), -1, EV_TIMEOUT,
      [](evutil_socket_t, short, void* arg) { delete static_cast<MysqlSession*>(arg); }, this,
      nullptr);
}

bool MysqlSession::InTransaction() const {
  return in_txn_;
}

bool MysqlSession::AutocommitOff() const {
  const std::string* v = want_.Get("autocommit");
  if (!v) return false;
  std::string lower;
  for (char c : *v) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "0" || lower == "off" || lower == "false" || lower == "'off'";
}

}  // namespace mysqlproxy
}  // namespace sluice
