#include "proxy/mysql/session.h"

#include "common/log.h"
#include "common/stats.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/handshake.h"
#include "protocol/mysql/messages.h"
#include "protocol/mysql/statement.h"
#include "protocol/mysql/wire.h"
#include "proxy/mysql/packet_io.h"
#include "proxy/net_address.h"
#include "proxy/shared.h"
#include "proxy/worker.h"
#include "routing/digest.h"

namespace sluice {

void StartMysqlSession(Worker* w, size_t cluster_index, evutil_socket_t fd) {
  StartSession<mysqlproxy::MysqlSession>(w, cluster_index, fd);
}

namespace mysqlproxy {
namespace {

// Bounds (DESIGN.md: every buffer has one).
constexpr size_t kMaxCommandBytes = 64u << 20;  // one client command, all packets
// Capability bits that change what a backend sends back; pooled connections are keyed on
// them so a client never gets a response shaped for another client's flags.
constexpr uint64_t kCapsThatShapeResponses =
    mysql::CLIENT_FOUND_ROWS | mysql::CLIENT_MULTI_STATEMENTS | mysql::CLIENT_MULTI_RESULTS |
    mysql::CLIENT_PS_MULTI_RESULTS | mysql::CLIENT_SESSION_TRACK | mysql::CLIENT_DEPRECATE_EOF |
    mysql::CLIENT_LONG_FLAG | mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_SECURE_CONNECTION |
    mysql::CLIENT_PLUGIN_AUTH | mysql::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
    mysql::CLIENT_TRANSACTIONS | mysql::MARIADB_CLIENT_EXTENDED_METADATA;

// Errors only the proxy sends, from MariaDB include/mysqld_error.h.
constexpr mysql::ErrorInfo ER_UNKNOWN_STMT_HANDLER{
    1243, "HY000", "Unknown prepared statement handler ({}) given to {}"};
// ProxySQL answers a query rule's rejection with 1148 too; drivers show the message as is.
constexpr mysql::ErrorInfo ER_NOT_ALLOWED_COMMAND{
    1148, "42000", "The used command is not allowed with this MariaDB version"};

}  // namespace

MysqlSession::MysqlSession(Worker* w, size_t cluster_index, bufferevent* client,
                           std::string client_addr)
    : SessionCore(w, cluster_index, client, client_addr, 0),
      login_(std::make_unique<MysqlClientLogin>(static_cast<MysqlClientLogin::Callbacks*>(this),
                                                conn_id(), OfferedCaps(), client_addr)) {
  login_->set_preauth_bytes(preauth_bytes());
}

MysqlSession::~MysqlSession() {
  ReleaseInFlight();
}

MysqlSession::InFlight& MysqlSession::cur() {
  if (!cur_) {
    cur_ =
        worker_->blocks().New<InFlight>(static_cast<ResultForwarder::Callbacks*>(this), &client_);
    // The payload comes with the command (ProcessClientInput takes a spare for it).
    worker_->mysql_state().TakeSpare(&cur_->cmd.digest);
  }
  return *cur_;
}

void MysqlSession::ReleaseInFlight() {
  if (!cur_) return;
  worker_->mysql_state().GiveSpare(&cur_->cmd.payload);
  worker_->mysql_state().GiveSpare(&cur_->cmd.digest);
  worker_->blocks().Delete(cur_);
  cur_ = nullptr;
}

void MysqlSession::Start() {
  client_.Enable();
  if (ClientsAtLimit()) {
    // MySQL answers an over-limit connection with ER_CON_COUNT_ERROR before the handshake.
    worker_->stats().client_connections_refused++;
    SendErr(mysql::ER_CON_COUNT_ERROR, mysql::ER_CON_COUNT_ERROR.message, 0);
    Close();
    return;
  }
  phase_ = Phase::kLogin;
  Greet();
}

// ---- client events -------------------------------------------------------------------

void MysqlSession::OnClientReadable() {
  switch (phase_) {
    case Phase::kLogin:
      if (!greeted_ || !login_) break;  // the greeting waits for the server's (session_greeting.cc)
      login_->OnClientData(client_.input(), client_.output(), client_.tls(),
                           tls_context() != nullptr);
      break;
    case Phase::kIdle:
      ProcessClientInput();
      break;
    case Phase::kForwarding:
      // LOAD DATA LOCAL: the file's packets (and the closing empty one) go to the server.
      if (infile_ && backend_) evbuffer_add_buffer(backend_->output(), client_.input());
      break;
    default:
      break;  // a command is in flight; its successor waits in the buffer
  }
  EndLoginIfDone();
  FlushWrites();
}

void MysqlSession::OnClientDrained() {
  // The client caught up: read the backend again (backpressure released).
  if (backend_ && phase_ == Phase::kForwarding) {
    backend_->ResumeRead();
    ForwardResponse();
  }
  FlushWrites();
}

// ---- commands ------------------------------------------------------------------------

bool MysqlSession::TakeClientCommand(std::string* payload, size_t* consumed, bool* too_big,
                                     uint8_t* next_seq) {
  evbuffer* in = client_.input();
  size_t avail = evbuffer_get_length(in);
  *too_big = false;
  // A payload of exactly 0xFFFFFF bytes continues in the next packet (MySQL framing: a
  // command of 16 MiB or more is split in packets of 0xFFFFFF bytes and a shorter last one).
  // The command's end is found from the packet headers alone and the payload copied once
  // it is all here: a command arriving over many reads costs one copy, not one per read.
  uint8_t hdr[4];
  auto length_at = [in, &hdr](size_t offset) {
    evbuffer_ptr pos;
    evbuffer_ptr_set(in, &pos, offset, EVBUFFER_PTR_SET);
    evbuffer_copyout_from(in, &pos, hdr, 4);
    return hdr[0] | (hdr[1] << 8) | (size_t{hdr[2]} << 16);
  };
  size_t offset = 0;
  size_t total = 0;
  for (;;) {
    if (avail < offset + 4) return false;
    size_t len = length_at(offset);
    if (total + len > kMaxCommandBytes) {
      // The client sent this packet (hdr[3]) and waits for the answer after it, as after
      // a whole command: an ERR with sequence id 1 is "Packet sequence number wrong".
      *too_big = true;
      *next_seq = static_cast<uint8_t>(hdr[3] + 1);
      return false;
    }
    if (avail < offset + 4 + len) return false;  // wait for the rest (bounded above)
    total += len;
    offset += 4 + len;
    if (len < 0xFFFFFF) break;
  }
  payload->resize(total);
  for (size_t at = 0, copied = 0; copied < total;) {
    size_t len = length_at(at);
    evbuffer_ptr pos;
    evbuffer_ptr_set(in, &pos, at + 4, EVBUFFER_PTR_SET);
    evbuffer_copyout_from(in, &pos, payload->data() + copied, len);
    copied += len;
    at += 4 + len;
  }
  *consumed = offset;
  return true;
}

void MysqlSession::ProcessClientInput() {
  while (phase_ == Phase::kIdle) {
    // The previous command is over: its payload's room takes the next one (no allocation
    // per statement; the payload returns to the command in Dispatch).
    // An idle session borrows no state until a whole command is there.
    std::string payload;
    if (cur_)
      payload = std::move(cur_->cmd.payload);
    else
      worker_->mysql_state().TakeSpare(&payload);
    payload.clear();
    size_t consumed = 0;
    bool too_big = false;
    uint8_t next_seq = 1;
    if (!TakeClientCommand(&payload, &consumed, &too_big, &next_seq)) {
      if (cur_)
        cur_->cmd.payload = std::move(payload);
      else
        worker_->mysql_state().GiveSpare(&payload);
      if (too_big) {
        SendErr(mysql::ER_NET_PACKET_TOO_LARGE, mysql::ER_NET_PACKET_TOO_LARGE.message, next_seq);
        Close();
      }
      return;
    }
    evbuffer_drain(client_.input(), consumed);
    if (payload.empty()) {
      CountProtocolError();
      SendErr(mysql::ER_UNKNOWN_COM_ERROR, "Malformed packet", 1);
      Close();
      return;
    }
    Dispatch(std::move(payload));
  }
}

void MysqlSession::Dispatch(std::string payload) {
  uint8_t code = static_cast<uint8_t>(payload[0]);
  // sluice's own answer follows the command's last packet: a command of 16 MiB or more
  // came in several.
  seq_ = static_cast<uint8_t>(payload.size() / 0xFFFFFF + 1);
  if (HandleLocally(code, payload)) return;
  if (code == mysql::COM_QUERY || code == mysql::COM_STMT_PREPARE) MapConnectionId(&payload);
  if (code == mysql::COM_CHANGE_USER) {
    HandleChangeUser(payload);
    return;
  }
  switch (mysql::PolicyOf(code)) {
    case mysql::CommandPolicy::kForward:
      break;
    case mysql::CommandPolicy::kKill:
      KillCommand(payload);  // session_kill.cc
      return;
    case mysql::CommandPolicy::kRefuse:
      SendErr(mysql::ER_UNKNOWN_COM_ERROR, mysql::ER_UNKNOWN_COM_ERROR.message, 1);
      return;
  }
  std::string digest = std::move(cur().cmd.digest);  // its room is reused too
  digest.clear();
  cur().cmd = Command{};
  cur().cmd.digest = std::move(digest);
  cur().forwarder.Begin();
  lease_.NewStatement();
  cur().cmd.code = code;
  cur().cmd.start_us = MonotonicUs();
  std::string_view body(payload.data() + 1, payload.size() - 1);
  switch (code) {
    case mysql::COM_QUERY:
      cur().cmd.info = ClassifyStatement(body, routing::Dialect::kMysql);
      if (cur().cmd.info.command == "KILL") {
        KillStatement(body);
        return;
      }
      routing::Digest(body, routing::Dialect::kMysql, &cur().cmd.digest);
      cur().cmd.digest_hash = routing::DigestHash(cur().cmd.digest);
      break;
    case mysql::COM_INIT_DB:
      cur().cmd.info.is_read = true;
      break;
    case mysql::COM_STMT_PREPARE:
      // Prepare on the writer unless the session is pinned; executes route on their own.
      // A prepare changes no data: it does not move the read-your-writes position.
      cur().cmd.info = StatementInfo{};
      cur().cmd.info.writes = false;
      last_prepared_id_ = 0;  // until its PrepareOk
      break;
    case mysql::COM_STMT_EXECUTE:
    case mysql::COM_STMT_SEND_LONG_DATA:
    case mysql::COM_STMT_FETCH:
    case mysql::COM_STMT_RESET: {
      auto id = CommandStatementId(&payload);
      auto it = id ? stmts_.find(*id) : stmts_.end();
      if (it == stmts_.end()) {
        if (code == mysql::COM_STMT_SEND_LONG_DATA) return;  // no response is ever sent
        SendErr(ER_UNKNOWN_STMT_HANDLER,
                fmt::format(fmt::runtime(ER_UNKNOWN_STMT_HANDLER.message), id ? *id : 0,
                            "mysqld_stmt_execute"),
                1);
        return;
      }
      cur().cmd.client_stmt_id = *id;
      cur().cmd.stmt = &it->second;
      cur().cmd.info = it->second.info;
      // Drivers send parameter types on the first execute only: keep them for re-executes
      // on backend connections that have not seen them.
      if (code == mysql::COM_STMT_EXECUTE && it->second.param_types.empty()) {
        if (auto types = mysql::ExtractParamTypes(mysql::AsBytes(payload), it->second.num_params))
          it->second.param_types = std::move(*types);
      }
      break;
    }
    default:
      // COM_FIELD_LIST, COM_STATISTICS, COM_PROCESS_INFO …: any backend answers them.
      cur().cmd.info.is_read = true;
      break;
  }
  cur().cmd.payload = std::move(payload);
  cur().framing.set_runs(!shadow());  // a mirrored command's rows are checksummed one by one
  if (shadow()) {
    std::string_view text = cur().cmd.digest;
    if (cur().cmd.stmt) text = cur().cmd.stmt->digest;
    cur().src_sum.Begin(mirror::HasOrderBy(text));
  }
  StartCommand();
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
      // No response. The backend copies are closed once no client of this worker uses the
      // text (session_stmts.cc).
      std::string close = payload;
      if (auto id = CommandStatementId(&close)) {
        if (stmts_.count(*id)) MirrorLocal(close, *id, false);
        DropStatement(*id);
        if (*id == pins_.cursor_stmt) pins_.cursor_stmt = 0;
      }
      return true;
    }
    case mysql::COM_SET_OPTION:
      // The backend connections always run with multi-statements on; record nothing.
      {
        uint8_t seq = 1;
        WritePacket(client_.output(), &seq, mysql::EncodeEof(mysql::EofPacket{0, SessionStatus()}));
      }
      return true;
    case mysql::COM_RESET_CONNECTION:
      // Session pooling: the server resets the connection the client has (temporary
      // tables, user variables, everything sluice does not track).
      if (!pins_.pinned() && !pins_.in_txn && !(session_mode_ && backend_)) {
        ResetSessionState();
        MirrorLocal(payload, 0, true);
        status_ = default_status_;
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
  DropAllStatements();
}

void MysqlSession::StartCommand() {
  phase_ = Phase::kAcquiring;
  if (lost_state_ && !cur().cmd.internal_check) {
    // The client believes it is inside a transaction that died with its server: say so
    // once, rather than run its next statement outside of it.
    lost_state_ = false;
    FailCommand(mysql::ER_NET_READ_ERROR,
                "sluice: the server that ran this transaction was taken offline; the "
                "transaction was rolled back");
    return;
  }
  if (backend_ && !session_mode_ && !pins_.pinned() && !pins_.in_txn && pins_.hold_previous) {
    // Kept after an insert for a LAST_INSERT_ID() that did not come: back to the pool.
    pins_.hold_previous = false;
    if (!(cur().cmd.info.pins & routing::kPinPreviousConnection)) ReleaseBackend(true);
  }
  if (backend_) {  // pinned or in a transaction: the session keeps its connection
    OnBackendAcquired(backend_);
    return;
  }
  RouteAndAcquire();
}

void MysqlSession::RouteAndAcquire() {
  RouteRequest req;
  req.info = &cur().cmd.info;
  StatementInfo as_write;
  // Session pooling: the client's one connection is the writer's, for reads and writes.
  if (cur().cmd.info.is_read && (AutocommitOff() || session_mode_)) {
    // With autocommit off the first read opens a transaction that later writes join: it
    // must start on the writer.
    as_write = cur().cmd.info;
    as_write.is_read = as_write.read_only_txn = false;
    req.info = &as_write;
  }
  if (cur().cmd.code == mysql::COM_QUERY)
    req.text = std::string_view(cur().cmd.payload).substr(1);
  else if (cur().cmd.stmt)
    req.text = cur().cmd.stmt->text;
  req.user = user_;
  req.schema = want_.schema;
  req.client_addr = client_addr_;
  req.last_write_ms = last_write_ms_;
  PrepareCausal(cur().cmd.causal_failed, &req);
  RouteResult route = lease_.Route(req);
  if (route.hold) return;  // RetryHeld() routes it again
  cur().causal_check = route.causal_check && NeedsCausalCheck(route.server);
  if (route.reject) {
    FailCommand(ER_NOT_ALLOWED_COMMAND, route.message);
    return;
  }
  if (route.server < 0) {
    FailCommand(mysql::ER_UNKNOWN_ERROR, route.message);
    return;
  }
  const User* u = ClusterUser(user_);
  if (!u) {
    FailCommand(mysql::ER_ACCESS_DENIED_ERROR, "sluice: user no longer exists");
    return;
  }
  StartQueryClock();  // query_timeout_ms covers the wait for a connection too
  lease_.Acquire(route.server,
                 PoolKey{worker_->ServerName(cluster_index_, static_cast<size_t>(route.server)),
                         u->backend_user.empty() ? u->name : u->backend_user,
                         (caps_ & kCapsThatShapeResponses) | (uint64_t{charset_} << 56)});
}

void MysqlSession::OnLeaseConnection(PooledConn* c) {
  OnBackendAcquired(static_cast<MysqlBackend*>(c));
}

void MysqlSession::OnLeaseRefused(LeaseRefusal why, const std::string& server) {
  FailCommand(mysql::ER_CON_COUNT_ERROR, RefusalMessage(why, server));
  FlushWrites();
}

// Opens a connection for key in the slot reserved for it, with the current snapshot's view
// of the server and the user (either may have changed while the session waited).
void MysqlSession::OnLeaseSlot(const PoolKey& key) {
  const Cluster& cluster = this->cluster();
  const Server* srv = CurrentServer(key.server);
  const User* u = ClusterUser(user_);
  if (!srv || !u) {
    lease_.Release(key.server);
    RetryOrFail(Unavailable(fmt::format("{} left the cluster's configuration", key.server)));
    return;
  }
  BackendLogin login;
  SetTarget(&login, *srv, *u, cluster.connect_timeout_ms);
  SetTargetTls(&login, *worker_, cluster, cluster_index_);
  // Compression is between the client and sluice only (proxy/mysql/compression.h).
  login.caps = (caps_ & ~mysql::CLIENT_COMPRESS) | mysql::CLIENT_PROTOCOL_41 |
               mysql::CLIENT_SECURE_CONNECTION | mysql::CLIENT_PLUGIN_AUTH |
               mysql::CLIENT_CONNECT_WITH_DB;
  login.charset = charset_;
  connecting_ = MysqlBackend::Connect(worker_, key, login, this);
}

void MysqlSession::OnBackendReady(MysqlBackend* b) {
  connecting_ = nullptr;
  OnBackendAcquired(b);
}

void MysqlSession::OnBackendAcquired(MysqlBackend* b) {
  lease_.EndHold();
  backend_ = b;
  b->SetOwner(this);
  b->ResumeRead();
  lease_.Started();
  StartQueryClock();  // query_timeout_ms covers the state sync and the command
  b->FlushCloses();   // statements other sessions stopped using while it was busy
  // Plan the state sync: schema, SET NAMES, variables; then missing prepared statements.
  cur().sync_steps = PlanSync(want_, b->state());
  PlanCausalSteps(b);
  cur().sync_index = 0;
  phase_ = Phase::kSyncing;
  RunNextSyncStep();
  FlushWrites();
}

void MysqlSession::ReleaseBackend(bool reusable) {
  if (!backend_) return;
  lease_.Finished();
  MysqlBackend* b = backend_;
  backend_ = nullptr;
  b->SetOwner(nullptr);
  if (reusable && b->ready() && evbuffer_get_length(b->input()) == 0) {
    b->FlushCloses();
    worker_->pools().PutIdle(b);
  } else {
    std::string server = b->server();
    b->Destroy();
    lease_.Release(server);
  }
}

void MysqlSession::ForgetPinnedState() {
  pins_ = MysqlPins{};
}

void MysqlSession::FailCommand(const mysql::ErrorInfo& e, const std::string& message) {
  StopQueryClock();
  lease_.EndHold();
  worker_->Unhold(this);
  if (ShadowSession* sh = shadow(); sh && phase_ == Phase::kForwarding && !cur().cmd.internal_check)
    sh->Cut(mirror::CutReason::kOther,
            "the source's answer to a statement was lost: the shadow cannot know whether it ran");
  if (backend_) ReleaseBackend(false);
  if (mysql::CommandExpectsResponse(cur().cmd.code) || cur().cmd.internal_check)
    SendErr(e, message, seq_);
  if (cur().cmd.internal_check) {
    Close();
    return;
  }
  phase_ = Phase::kIdle;
  ProcessClientInput();
}

// ---- output helpers --------------------------------------------------------------------

void MysqlSession::SendErr(const mysql::ErrorInfo& e, std::string_view message, uint8_t seq) {
  WritePacket(client_.output(), &seq, mysql::MakeErr(e.code, e.sql_state, message));
}

void MysqlSession::SendOk(uint8_t seq, uint64_t affected) {
  mysql::OkPacket ok;
  ok.affected_rows = affected;
  ok.status_flags = SessionStatus();
  WritePacket(client_.output(), &seq, mysql::EncodeOk(ok, caps_));
}

void MysqlSession::Drain() {
  draining_ = true;
  // Idle outside a transaction, or not yet logged in: nothing is lost by closing now.
  // Otherwise the session closes when its statement (or transaction) is over.
  bool idle = phase_ == Phase::kIdle && !pins_.in_txn;
  if (idle || phase_ == Phase::kLogin) Close();
}

void MysqlSession::Abort() {
  Close();
}

void MysqlSession::RetryHeld(bool timed_out) {
  if (phase_ != Phase::kAcquiring) return;
  if (timed_out) {
    // 1290, as a read-only server refuses a write (MaxScale's error_on_write too): what
    // failover-aware clients retry on (docs/operations.md, "Write holds").
    FailCommand(mysql::ER_OPTION_PREVENTS_STATEMENT, lease_.HoldTimedOut() + "; not executed");
    FlushWrites();
    return;
  }
  RouteAndAcquire();
  FlushWrites();
}

void MysqlSession::Close() {
  if (phase_ == Phase::kClosed) return;
  probe_.reset();
  CancelLeaseWait();
  if (connecting_) {
    // Its login goes on without us; when done it joins the pool (or frees its slot).
    connecting_->SetOwner(nullptr);
    connecting_ = nullptr;
  }
  DropAllStatements();
  if (backend_) {
    // Mid-statement or mid-transaction the connection's state is unknown: do not reuse it.
    ReleaseBackend(phase_ == Phase::kIdle && !pins_.in_txn && !pins_.pinned());
  }
  phase_ = Phase::kClosed;
  if (!in_forward_) ReleaseInFlight();
  FinishClose();
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
