#include "proxy/pgsql/session.h"

#include <strings.h>

#include <cctype>

#include "common/clock.h"
#include "common/log.h"
#include "common/stats.h"
#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/message.h"
#include "proxy/pgsql/login_params.h"
#include "proxy/shared.h"
#include "proxy/worker.h"
#include "routing/digest.h"

namespace sluice {

void StartPgsqlSession(Worker* w, size_t cluster_index, evutil_socket_t fd) {
  StartSession<pgproxy::PgSession>(w, cluster_index, fd);
}

namespace pgproxy {
namespace {

// Classify() remembers the last statement up to this size (see PgSession::routed_text_).
constexpr size_t kMaxRememberedText = 512;

namespace fe = pgsql::frontend;
namespace be = pgsql::backend;
namespace state = pgsql::sqlstate;

// Bounds (DESIGN.md: every buffer has one).
constexpr uint32_t kMaxClientMessage = 64u << 20;  // one client message
constexpr size_t kClientReadHighWater = 1u << 20;  // client input read ahead
constexpr size_t kBackendOutHighWater = 1u << 20;  // stop reading the client above this
constexpr size_t kBackendOutLowWater = 256u << 10;

// Whether a statement may move a sequence of its connection (a serial default, nextval,
// setval), after which currval()/lastval() must read that connection.
bool MovesASequence(const StatementInfo& info, std::string_view text) {
  if (info.command == "INSERT" || info.command == "COPY" || info.command == "MERGE") return true;
  if (info.is_read) return false;
  for (size_t i = 0; i + 6 < text.size(); ++i) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    if ((c == 'n' || c == 's') && (strncasecmp(text.data() + i, "nextval", 7) == 0 ||
                                   strncasecmp(text.data() + i, "setval", 6) == 0))
      return true;
  }
  return false;
}

// The messages a logged-in client may send. Anything else (an unknown type, or a
// PasswordMessage after the login) is what PostgreSQL answers with FATAL 08P01
// "invalid frontend message type" and a close.
bool IsSessionMessage(char type) {
  switch (type) {
    case fe::kQuery:
    case fe::kParse:
    case fe::kBind:
    case fe::kDescribe:
    case fe::kExecute:
    case fe::kClose:
    case fe::kSync:
    case fe::kFlush:
    case fe::kFunctionCall:
    case fe::kTerminate:
    case fe::kCopyData:
    case fe::kCopyDone:
    case fe::kCopyFail:
      return true;
    default:
      return false;
  }
}

uint64_t DatabaseVariant(std::string_view db) {
  return std::hash<std::string_view>()(db);
}

}  // namespace

PgSession::PgSession(Worker* w, size_t cluster_index, bufferevent* client, std::string client_addr)
    : SessionCore(w, cluster_index, client, std::move(client_addr), kClientReadHighWater) {
  startup_->set_preauth_bytes(preauth_bytes());
}

PgSession::~PgSession() {
  ReleaseInFlight();
}

PgSession::InFlight& PgSession::cur() {
  if (!cur_)
    cur_ =
        worker_->blocks().New<InFlight>(static_cast<ResultForwarder::Callbacks*>(this), &client_);
  return *cur_;
}

void PgSession::ReleaseInFlight() {
  worker_->blocks().Delete(cur_);
  cur_ = nullptr;
}

void PgSession::Start() {
  client_.Enable();  // over max_client_connections: refused after the StartupMessage, as
                     // PostgreSQL does (OverClientLimit), or once authenticated
}

// ---- client events ----------------------------------------------------------------

void PgSession::OnClientReadable() {
  if (phase_ == Phase::kStartup) {
    startup_->OnClientData(client_.input(), client_.output(), client_.tls());
    ReleaseStartup();  // no PgStartup frame is on the stack here
  } else if (logged_in()) {
    ProcessClientInput();
  }
  FlushWrites();
}

void PgSession::OnClientDrained() {
  // The client caught up: read its backend again.
  if (backend_ && phase_ != Phase::kSyncing) {
    backend_->ResumeRead();
    ForwardResponse();
  }
  FlushWrites();
}

// ---- batches -------------------------------------------------------------------------

void PgSession::ProcessClientInput() {
  evbuffer* in = client_.input();
  while (phase_ == Phase::kReady || phase_ == Phase::kSkipping) {
    MsgHeader h;
    std::span<const uint8_t> p;
    PeekResult r = PeekMessage(in, &h, &p, kMaxClientMessage);
    if (r == PeekResult::kBad) {
      CountProtocolError();
      FailLogin(state::kProtocolViolation, "invalid message length");
      return;
    }
    if (r == PeekResult::kNeedMore) {
      // Let one message larger than the read-ahead bound in, and no more.
      MsgHeader hh;
      if (PeekHeader(in, &hh, kMaxClientMessage) == PeekResult::kOk &&
          hh.total() > kClientReadHighWater)
        client_.AllowRead(hh.total());
      return;
    }
    if (h.type == fe::kTerminate) {
      evbuffer_drain(in, h.total());
      Close();
      return;
    }
    if (!IsSessionMessage(h.type)) {
      CountProtocolError();
      FailLogin(state::kProtocolViolation,
                fmt::format("invalid frontend message type {}", static_cast<int>(h.type)));
      return;
    }
    if (phase_ == Phase::kSkipping) {
      // A failed batch: the server would ignore everything up to Sync; so does sluice.
      char t = h.type;
      evbuffer_drain(in, h.total());
      if (t == fe::kSync || t == fe::kQuery) {
        phase_ = Phase::kReady;
        std::string out;
        pgsql::AppendReadyForQuery(&out, txn_status_);
        AppendTo(client_.output(), out);
      }
      continue;
    }
    // A batch starts: on no backend, or on the one kept after a write for currval().
    if (!backend_ || (hold_previous_ && outstanding_ == 0)) {
      switch (h.type) {
        case fe::kSync: {  // nothing pending: the answer is known
          evbuffer_drain(in, h.total());
          std::string out;
          pgsql::AppendReadyForQuery(&out, txn_status_);
          AppendTo(client_.output(), out);
          continue;
        }
        case fe::kFlush:
        case fe::kCopyData:
        case fe::kCopyDone:
        case fe::kCopyFail:  // stray copy messages after a failed COPY: the server drops them
          evbuffer_drain(in, h.total());
          continue;
        default:
          if (!StartBatch(h.type, p)) return;
          continue;
      }
    }
    if (evbuffer_get_length(backend_->output()) > kBackendOutHighWater) {
      // The server reads slowly (COPY FROM STDIN): stop reading the client until it drains.
      client_.PauseRead();
      backend_->WatchWrites(kBackendOutLowWater);
      return;
    }
    ForwardClientMessage(h.type, p, h.total());
  }
}

// Routes the batch that starts with this message and asks for a backend. False when the
// batch failed (the error is sent and its messages are being skipped) or waits; true when
// the loop goes on (skipping, or on the connection kept for it).
bool PgSession::StartBatch(char type, std::span<const uint8_t> payload) {
  StatementInfo info;
  std::string_view text;
  if (type == fe::kQuery) {
    auto q = pgsql::DecodeQuery(payload);
    if (!q.ok()) {
      FailLogin(state::kProtocolViolation, q.status().message());
      return false;
    }
    text = q->sql;
    info = Classify(text);
  } else if (type == fe::kParse) {
    auto parse = pgsql::DecodeParse(payload);
    if (!parse.ok()) {
      FailLogin(state::kProtocolViolation, parse.status().message());
      return false;
    }
    text = parse->query;
    info = Classify(text);
  } else if (type == fe::kBind) {
    auto bind = pgsql::DecodeBindNames(payload);
    if (bind.ok() && !bind->statement.empty()) {
      if (const ClientStmt* cs = extended_.Find(bind->statement)) {
        info = cs->info;
        text = cs->text;
      }
    }
  }
  if (backend_) {
    // Kept after a write: currval()/lastval() read it; anything else routes afresh.
    hold_previous_ = false;
    if (info.pins & routing::kPinPreviousConnection) return true;
    ReleaseBackend(true);
  }
  if (!transaction_mode_) info = StatementInfo{};  // session mode: the writer, for life
  RouteRequest req;
  req.info = &info;
  req.text = text;
  req.user = user_;
  req.schema = database_;
  req.client_addr = client_addr_;
  req.last_write_ms = last_write_ms_;
  PrepareCausal(causal_failed_, &req);
  causal_failed_ = false;
  causal_check_ = false;
  // A batch routed again after its server failed keeps its retry budget (kMaxBackendAttempts).
  if (!rerouting_) lease_.NewStatement();
  rerouting_ = false;
  RouteResult route = lease_.Route(req);
  if (route.hold) {
    phase_ = Phase::kAcquiring;  // RetryHeld routes it again
    return false;
  }
  if (route.reject || route.server < 0) {
    FailBatch(route.reject ? std::string_view("42501") : state::kConnectionFailure, route.message);
    return true;  // the loop goes on skipping the batch
  }
  causal_check_ = route.causal_check && NeedsCausalCheck(route.server);
  phase_ = Phase::kAcquiring;
  StartQueryClock();  // query_timeout_ms covers the wait for a connection too
  Acquire(route.server);
  return false;
}

void PgSession::Acquire(int server_index) {
  const User* u = ClusterUser(user_);
  if (!u) {
    FailLogin(state::kInvalidAuthorizationSpecification, "sluice: the user no longer exists");
    return;
  }
  PoolKey key{worker_->ServerName(cluster_index_, static_cast<size_t>(server_index)),
              u->backend_user.empty() ? u->name : u->backend_user, DatabaseVariant(database_)};
  lease_.Acquire(server_index, key);
}

void PgSession::OnLeaseConnection(PooledConn* c) {
  OnBackendAcquired(static_cast<PgBackend*>(c));
}

// A new connection's login is put together here, when one is opened, not per batch: the
// session keeps no copy of it between batches.
void PgSession::OnLeaseSlot(const PoolKey& key) {
  const Server* srv = CurrentServer(key.server);
  const User* u = ClusterUser(user_);
  if (!srv || !u) {
    lease_.Release(key.server);
    std::string why = fmt::format("{} left the cluster's configuration", key.server);
    if (phase_ == Phase::kLoginBackend) {
      FailLogin(state::kConnectionFailure, why);
      return;
    }
    phase_ = Phase::kReady;
    FailBatch(state::kConnectionFailure, why);
    ProcessClientInput();
    FlushWrites();
    return;
  }
  PgBackendLogin login;
  SetTarget(&login, *srv, *u, cluster().connect_timeout_ms);
  SetTargetTls(&login, *worker_, cluster(), cluster_index_);
  login.database = database_;
  // A connection this client opens starts with its application_name (pg_stat_activity).
  if (auto it = settings_.startup().find("application_name"); it != settings_.startup().end())
    login.application_name = it->second;
  connecting_ = PgBackend::Connect(worker_, key, login, this);
}

void PgSession::OnLeaseRefused(LeaseRefusal why, const std::string& server) {
  if (phase_ == Phase::kLoginBackend) {
    FailLogin(state::kTooManyConnections, "sluice: timed out waiting for a server connection");
    return;
  }
  phase_ = Phase::kReady;
  FailBatch(state::kTooManyConnections, RefusalMessage(why, server));
  ProcessClientInput();
  FlushWrites();
}

void PgSession::OnBackendReady(PgBackend* b) {
  // A fresh login: its settings answer later logins while the primary is held.
  worker_->pg_login_params().Learn(cluster().name, database_, user_, b->params(), b->param_names());
  OnBackendAcquired(b);
}

void PgSession::OnBackendAcquired(PgBackend* b) {
  lease_.EndHold();
  backend_ = b;
  if (connecting_ == b) connecting_ = nullptr;
  b->SetOwner(this);
  b->ResumeRead();
  lease_.Started();
  login_unchecked_ = false;  // a backend logged in with the client's database and user
  if (phase_ == Phase::kLoginBackend) {
    timer_.Disarm(TimeoutReason::kLoginAnswer);
    FinishLogin();
    return;
  }
  phase_ = Phase::kReady;
  if (!StartParamSync() && !StartCausalCheck()) ProcessClientInput();
  FlushWrites();
}

// ---- client → backend ----------------------------------------------------------------

StatementInfo PgSession::Classify(std::string_view text) {
  if (text == routed_text_) return routed_info_;
  StatementInfo info = ClassifyStatement(text, routing::Dialect::kPostgres);
  // Remembered only when short: an idle session must not keep a large statement's text.
  if (text.size() <= kMaxRememberedText) {
    routed_text_.assign(text);
    routed_info_ = info;
  }
  return info;
}

// The segment's first statement names it in the statistics (cs: a prepared statement whose
// digest is already known).
void PgSession::OnStatement(const StatementInfo& info, std::string_view text, const ClientStmt* cs,
                            bool names_segment) {
  stmt_read_alone_ = info.is_read && !info.multi_statement;
  pending_pg_pins_ |= settings_.OnStatement(info);
  pending_write_ |= info.writes && !info.is_read;
  open_segment_.writes |= info.writes && !info.is_read;
  open_segment_.ends_txn |=
      info.txn == routing::TxnOp::kCommit || info.txn == routing::TxnOp::kRollback;
  pending_sequence_ |= MovesASequence(info, text);
  SegmentStat& s = open_segment_;
  if (!names_segment || s.named) return;
  s.named = true;
  s.start_us = MonotonicUs();
  s.command = info.command;
  if (cs) {
    s.digest = cs->digest;
    s.digest_hash = cs->digest_hash;
  } else if (stmt_parsed_ && !digested_text_.empty() && text == digested_text_) {
    s.digest = digested_;
    s.digest_hash = digested_hash_;
  } else {
    routing::Digest(text, routing::Dialect::kPostgres, &s.digest);
    s.digest_hash = routing::DigestHash(s.digest);
    // A Query's text carries its values and rarely repeats: only a Parse's is remembered.
    if (stmt_parsed_ && text.size() <= kMaxRememberedText) {
      digested_text_.assign(text);
      digested_ = s.digest;
      digested_hash_ = s.digest_hash;
    }
  }
}

void SegmentStat::Reset() {
  command = {};
  digest.clear();
  digest_hash = 0;
  start_us = 0;
  named = false;
  writes = false;
  ends_txn = false;
  mirrored.clear();
  if (mirrored.capacity() > 4096) std::string().swap(mirrored);  // a large one is let go
}

void PgSession::ForwardClientMessage(char type, std::span<const uint8_t> p, size_t total) {
  evbuffer* in = client_.input();
  std::string out;
  bool rewritten = false;
  Status bad;
  bool idle_before = outstanding_ == 0;
  stmt_read_alone_ = false;  // OnStatement says, for the statement of this message
  switch (type) {
    case fe::kQuery: {
      auto q = pgsql::DecodeQuery(p);
      StatementInfo info = q.ok() ? Classify(q->sql) : StatementInfo{};
      if (q.ok()) OnStatement(info, q->sql, nullptr, true);
      ++outstanding_;
      StartQueryClock();  // until its ReadyForQuery (query_timeout_ms)
      break;
    }
    case fe::kSync:
    case fe::kFunctionCall:
      ++outstanding_;
      StartQueryClock();
      break;
    default:
      stmt_parsed_ = type == fe::kParse;
      bad = extended_.Rewrite(type, p, transaction_mode_, send_segment_, &backend_->prepared(),
                              &out, &rewritten);
      stmt_parsed_ = false;
      break;
  }
  if (!bad.ok()) {
    evbuffer_drain(in, total);
    CountProtocolError();
    log::Warn("pgsql session {}: malformed '{}' message: {}", pid_, type, bad.message());
    FailLogin(state::kProtocolViolation, fmt::format("invalid message: {}", bad.message()));
    return;
  }
  // A lone read may run again elsewhere if its connection dies (session_retry.cc).
  NoteRetry(type, p, total, idle_before, stmt_read_alone_);
  if (shadow()) MirrorClientMessage(type, total);
  if (rewritten) {
    evbuffer_drain(in, total);
    AppendTo(backend_->output(), out);
  } else {
    if (!out.empty()) AppendTo(backend_->output(), out);
    evbuffer_remove_buffer(in, backend_->output(), total);
  }
  mid_segment_ = type != fe::kSync && type != fe::kQuery && type != fe::kFunctionCall;
  // A FunctionCall is answered with a ReadyForQuery of its own, as a Query is: it ends a
  // segment, or the answers after it would be taken for the previous segment's.
  if (type == fe::kSync || type == fe::kQuery || type == fe::kFunctionCall) {
    ++send_segment_;
    EndSegment();
  }
}

void PgSession::EndSegment() {
  settings_.EndSegment();
  if (!open_segment_.named) open_segment_.start_us = MonotonicUs();
  sent_segments_.push_back(std::move(open_segment_));
  open_segment_ = std::move(cur().spare_segment);
  open_segment_.Reset();
}

void PgSession::OnBackendWritable(PgBackend* b) {
  if (b != backend_ || !logged_in()) return;
  client_.ResumeRead();
  ProcessClientInput();
  FlushWrites();
}

// ---- releasing, failures, closing -----------------------------------------------------

void PgSession::ReleaseBackend(bool clean) {
  if (!backend_) return;
  PgBackend* b = backend_;
  backend_ = nullptr;
  hold_previous_ = false;
  b->SetOwner(nullptr);
  lease_.Finished();
  extended_.ClearExpects();
  if (cur_) cur_->forwarder.Abandon();
  bool reusable = clean && b->ready() && evbuffer_get_length(b->input()) == 0 &&
                  evbuffer_get_length(b->output()) == 0;
  if (!reusable) {
    std::string server = b->server();
    b->Destroy();
    lease_.Release(server);
    return;
  }
  if (pinned_ || !transaction_mode_) {
    // Session state lives on it (session mode, or a pin): reset before anyone else gets it.
    b->ResetAndPool();
    return;
  }
  worker_->pools().PutIdle(b);
}

void PgSession::ForgetPinnedState() {
  pinned_ = false;
  hold_previous_ = false;
  txn_status_ = pgsql::kTxIdle;
  pending_pg_pins_ = 0;
  pending_write_ = false;
  pending_sequence_ = false;
}

void PgSession::RetryHeld(bool timed_out) {
  if ((phase_ != Phase::kAcquiring && phase_ != Phase::kLoginBackend) || backend_) return;
  if (phase_ == Phase::kLoginBackend) {
    if (timed_out) {
      FailLogin("57P03", lease_.HoldTimedOut());
    } else {
      BeginLoginBackend();
    }
    FlushWrites();
    return;
  }
  phase_ = Phase::kReady;
  if (timed_out) {
    // 25006 read_only_sql_transaction: as a standby refuses a write (docs/operations.md,
    // "Write holds"); a login that waited gets 57P03 above.
    FailBatch("25006", lease_.HoldTimedOut() + "; not executed");
  }
  ProcessClientInput();
  FlushWrites();
}

void PgSession::FailBatch(std::string_view sqlstate, std::string_view message) {
  lease_.EndHold();
  worker_->Unhold(this);
  SendError("ERROR", sqlstate, message);
  phase_ = Phase::kSkipping;
}

void PgSession::FailLogin(std::string_view sqlstate, std::string_view message) {
  SendError("FATAL", sqlstate, message);
  Close();
}

void PgSession::SendError(std::string_view severity, std::string_view sqlstate,
                          std::string_view message) {
  if (!client_.open()) return;
  std::string out;
  pgsql::AppendErrorResponse(&out, pgsql::ErrorSpec{severity, sqlstate, message, "", ""});
  AppendTo(client_.output(), out);
}

void PgSession::Drain() {
  draining_ = true;
  bool idle = logged_in() && (!backend_ || (outstanding_ == 0 && txn_status_ == 'I'));
  if (idle || phase_ == Phase::kStartup) {
    if (logged_in())
      SendError("FATAL", state::kAdminShutdown,
                "terminating connection due to administrator command");
    Close();
  }
}

void PgSession::Abort() {
  Close();
}

void PgSession::Close() {
  if (phase_ == Phase::kClosed) return;
  CancelLeaseWait();
  // A login in progress goes on without us and lands in the pool.
  if (connecting_) connecting_->SetOwner(nullptr);
  connecting_ = nullptr;
  MirrorLost();  // segments sent and not answered: the shadow cannot know what they did
  if (backend_) {
    // Mid-statement or mid-transaction the connection's state is unknown: do not reuse it.
    bool clean = outstanding_ == 0 && txn_status_ == pgsql::kTxIdle && phase_ != Phase::kSyncing &&
                 !(cur_ && cur_->forwarder.mid_frame());
    ReleaseBackend(clean);
  }
  if (has_cancel_key_) worker_->pg_cancel_keys().Unregister(pid_, secret_);
  has_cancel_key_ = false;
  phase_ = Phase::kClosed;
  if (!in_forward_) ReleaseInFlight();
  FinishClose();
}

}  // namespace pgproxy
}  // namespace sluice
