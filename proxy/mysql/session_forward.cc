// MysqlSession, part three: the response's way back (whole packets in batches, under
// backpressure), the end of a command, what it left on the connection (pins, schema,
// variables), its statistics; and a backend that fails (route again before any byte, or
// an error in place of the rest).
#include "common/clock.h"
#include "common/log.h"
#include "common/stats.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/statement.h"
#include "protocol/mysql/wire.h"
#include "proxy/mysql/packet_io.h"
#include "proxy/mysql/session.h"
#include "proxy/worker.h"

namespace sluice::mysqlproxy {
namespace {

// Pin reasons that leave state on the connection (routing/classifier.h); the others are
// hints (UNLOCK TABLES, LAST_INSERT_ID's previous connection, PostgreSQL cursors).
constexpr uint32_t kStatePins =
    routing::kPinLockTables | routing::kPinUserLock | routing::kPinTempTable |
    routing::kPinUserVariable | routing::kPinFoundRows | routing::kPinPrepare |
    routing::kPinSqlLogBin | routing::kPinHandler | routing::kPinLoadData;

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

}  // namespace

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

void MysqlSession::ForwardResponse() {
  // The forwarder is on the stack until Forward returns: cur_ is not given back before.
  in_forward_ = true;
  ResultForwarder::Outcome outcome = cur().forwarder.Forward(backend_->input());
  in_forward_ = false;
  switch (outcome) {
    case ResultForwarder::Outcome::kEnded:
      FinishCommand();
      return;
    case ResultForwarder::Outcome::kMalformed:  // MysqlFraming reads every length
    case ResultForwarder::Outcome::kWaiting:
    case ResultForwarder::Outcome::kBackpressure:
    case ResultForwarder::Outcome::kStopped:
      return;
  }
}

ResultForwarder::Verdict MysqlSession::OnFrame(const Frame& f, ResultFraming::Step step,
                                               std::span<const uint8_t> bytes) {
  std::span<const uint8_t> payload = bytes.subspan(f.header);
  if (step != ResultFraming::Step::kBad && shadow()) cur().src_sum.Note(cur().tracker, payload);
  if (step == ResultFraming::Step::kBad) return ResultForwarder::Verdict::kTake;
  // PREPARE_OK carries the backend's statement id: the client gets sluice's own.
  if (cur().cmd.code == mysql::COM_STMT_PREPARE && cur().forwarder.frames() == 0 &&
      !payload.empty() && payload[0] == mysql::kOkHeader)
    return ResultForwarder::Verdict::kTake;
  if (step == ResultFraming::Step::kHandOver) {
    // The client streams the file next; its packets go straight to the backend.
    infile_ = true;
    evbuffer_add_buffer(backend_->output(), client_.input());
  }
  return ResultForwarder::Verdict::kPass;
}

ResultForwarder::Next MysqlSession::TakeFrame(const Frame& f, ResultFraming::Step step,
                                              std::span<const uint8_t> bytes) {
  if (step == ResultFraming::Step::kBad) {
    OnBackendError(backend_, ProtocolError("malformed response from the backend"));
    return ResultForwarder::Next::kGone;
  }
  std::string payload(reinterpret_cast<const char*>(bytes.data() + f.header),
                      bytes.size() - f.header);
  evbuffer_drain(backend_->input(), bytes.size());
  ApplyPrepareOk(&payload);
  uint8_t s = f.seq;
  WritePacket(client_.output(), &s, payload);
  return step == ResultFraming::Step::kEnd ? ResultForwarder::Next::kEnd
                                           : ResultForwarder::Next::kGoOn;
}

void MysqlSession::FinishCommand() {
  StopQueryClock();
  MirrorCommand(infile_);
  infile_ = false;
  if (cur().cmd.code == mysql::COM_STMT_EXECUTE) pins_.long_data = false;
  RecordStats(cur().tracker.ended_in_error());
  NoteStatementEffects(cur().tracker);
  lease_.Finished();
  if (session_mode_) bound_ = true;
  bool keep = session_mode_ || pins_.pinned() || pins_.in_txn || pins_.hold_previous;
  if (!keep) ReleaseBackend(true);
  phase_ = Phase::kIdle;
  if (draining_ && !pins_.in_txn) {
    Close();
    return;
  }
  if (pins_.in_txn) StartIdleInTransactionClock();
  ProcessClientInput();
}

void MysqlSession::NoteStatementEffects(const mysql::ResponseTracker& t) {
  if (t.has_status_flags()) {
    pins_.in_txn = t.in_transaction();
    NoteStatusFlags(t.status_flags());
  }
  if (t.ended_in_error()) return;
  if (cur().cmd.info.writes && !cur().cmd.info.is_read) {
    last_write_ms_ = MonotonicMs();
    NoteWritePosition(t);
  }
  // Connection state the client created pins the backend until it is undone.
  uint32_t pins = cur().cmd.info.pins & kStatePins;
  if (cur().cmd.info.pins & routing::kPinUnlockTables)
    pins_.reasons &= ~uint32_t{routing::kPinLockTables};
  pins_.reasons |= pins;
  if (cur().cmd.code == mysql::COM_STMT_EXECUTE && cur().tracker.cursor_opened())
    pins_.cursor_stmt = cur().cmd.client_stmt_id;  // COM_STMT_FETCH must find the cursor here
  if (cur().cmd.code == mysql::COM_STMT_FETCH && cur().tracker.has_status_flags() &&
      (cur().tracker.status_flags() & mysql::SERVER_STATUS_LAST_ROW_SENT))
    pins_.cursor_stmt = 0;
  if (cur().cmd.code == mysql::COM_STMT_RESET && cur().cmd.client_stmt_id == pins_.cursor_stmt)
    pins_.cursor_stmt = 0;
  // LAST_INSERT_ID() reads the connection that ran the insert: keep it for one statement.
  pins_.hold_previous = cur().tracker.last_insert_id() > 0;
  if (cur().cmd.code == mysql::COM_INIT_DB) {
    want_.schema = cur().cmd.payload.substr(1);
    backend_->state().schema = want_.schema;
  }
  if (!cur().cmd.info.use_schema.empty()) {
    want_.schema = cur().cmd.info.use_schema;
    backend_->state().schema = want_.schema;
  }
  for (const auto& [name, value] : cur().cmd.info.session_vars) {
    std::string n = NormaliseVarName(name);
    if (n.empty()) continue;
    want_.Set(n, value);
  }
  if (!cur().cmd.info.session_vars.empty()) backend_->state().vars = want_.vars;
  if (cur().cmd.code == mysql::COM_RESET_CONNECTION) {
    backend_->stmts().Clear();  // the server dropped them: nothing to close
    ResetSessionState();
    backend_->state() = SessionState{};
    backend_->state().schema = want_.schema;
    pins_.reasons = 0;
    pins_.long_data = false;
    pins_.cursor_stmt = 0;
  }
}

// The acknowledged write's GTID, from the OK packet's session state (last_gtid): none when
// the write logged nothing; unknown when the connection does not report it.
void MysqlSession::NoteWritePosition(const mysql::ResponseTracker& t) {
  if (cluster().consistency == Consistency::kEventual) return;
  if (!backend_->tracks_gtid) {
    causal().NoteUnknownWrite(causal_board());
    return;
  }
  auto gtid = routing::TrackedSystemVariable(t.session_state_changes(), "last_gtid");
  if (!gtid || gtid->empty()) return;
  routing::CausalPosition p;
  if (p.MergeGtids(*gtid))
    causal().NoteWrite(p, causal_board());
  else
    causal().NoteUnknownWrite(causal_board());
}

void MysqlSession::RecordStats(bool error) {
  if (cur().cmd.internal_check || lease_.server_index() < 0) return;
  if (!backend_) return;
  StatementRecord r = NewRecord(backend_->server(), backend_->host(), backend_->port(), user_,
                                want_.schema, cur().cmd.start_us);
  r.command = cur().cmd.info.command.empty() ? CommandName(cur().cmd.code) : cur().cmd.info.command;
  if (cur().cmd.code == mysql::COM_QUERY) {
    r.digest_text = cur().cmd.digest;
    r.digest_hash = cur().cmd.digest_hash;
  } else if (cur().cmd.code == mysql::COM_STMT_EXECUTE) {
    if (const ClientStmt* cs = cur().cmd.stmt) {
      r.digest_text = cs->digest;
      r.digest_hash = cs->digest_hash;
    }
  }
  r.rows_sent = cur().tracker.rows();
  r.rows_affected = cur().tracker.affected_rows();
  r.error = error;
  RecordStatement(&worker_->stats(), r);
}

void MysqlSession::OnBackendError(MysqlBackend* b, const Status& st) {
  if (session_mode_ && bound_ && b == backend_) {
    LoseSessionBackend(b, st);
    return;
  }
  if (b == connecting_) connecting_ = nullptr;
  std::string server = b->server();
  if (b == backend_) {
    lease_.Finished();
    backend_ = nullptr;
  }
  bool transport = b->transport_failed();
  b->SetOwner(nullptr);
  b->Destroy();
  lease_.Release(server);
  lease_.MarkFailed(server);
  if (phase_ == Phase::kIdle) {
    // A pinned connection died between statements: the session's state is gone with it.
    lost_state_ = pins_.in_txn || pins_.pinned();
    ForgetPinnedState();
    return;
  }
  log::Warn("session of {}: {}", user_, st.message());
  if (transport && HoldForPrimary(server, st)) return;
  RetryOrFail(st);
}

// The primary refused the connection (or reset it) before any byte of the command was sent,
// and the monitor has not said so yet: the command waits for the new primary as in a
// failover hold (BackendLease::HoldAfterConnectFailure) rather than failing at once. A
// command that may have reached the server (sent), or whose session state lived on the
// lost connection, is not held: RetryOrFail's rules apply to it.
bool MysqlSession::HoldForPrimary(const std::string& server, const Status& st) {
  bool sent = phase_ == Phase::kForwarding;
  if (sent || ResponseStarted() || cur().cmd.internal_check || pins_.in_txn || pins_.pinned() ||
      session_mode_)
    return false;
  if (!lease_.HoldAfterConnectFailure(server, st.message())) return false;
  phase_ = Phase::kAcquiring;  // RetryHeld() routes it again
  return true;
}

// Before any response byte reached the client, a statement that is not in a transaction
// can run elsewhere: the client never knows the first server died.
//
// A statement is routed again only when it provably never ran: the connection failed
// before the client's command was written to it (connect, login, state sync), or it is a
// read outside a transaction. A write that was sent may have run: running it again could
// apply it twice (issue #13), so the client gets ER_QUERY_INTERRUPTED instead, a server
// error that drivers report without reconnecting and re-sending.
void MysqlSession::RetryOrFail(const Status& st) {
  bool had_state = pins_.in_txn || pins_.pinned();
  bool sent = phase_ == Phase::kForwarding;
  bool may_retry = !sent || cur().cmd.info.is_read;  // had_state covers a transaction
  if (!ResponseStarted() && !had_state && phase_ != Phase::kIdle && may_retry && lease_.Retry()) {
    RouteAndAcquire();
    return;
  }
  ForgetPinnedState();
  if (sent && !ResponseStarted() && !may_retry && !had_state) {
    FailCommand(mysql::ER_QUERY_INTERRUPTED,
                fmt::format("sluice: the server connection was lost while the statement ran "
                            "({}); it may have been applied and is not run again",
                            st.message()));
    return;
  }
  if (ResponseStarted()) {
    // Whole packets of the result went out: an ERR in place of the next one is what a
    // server sends when a statement dies mid-stream; the session stays usable.
    seq_ = NextSeqAfterResponse();
  }
  FailCommand(mysql::ER_NET_READ_ERROR,
              fmt::format("{} ({})", mysql::CR_SERVER_LOST.message, st.message()));
}

// query_timeout_ms: the server did not finish the command in time (hung, or the statement
// runs too long). The connection is discarded (the server rolls back what it ran of a
// transaction when it notices) and the client gets MariaDB's own max_statement_time error.
// idle_in_transaction_timeout_ms: the client sat in a transaction; it is closed, as
// MariaDB's idle_transaction_timeout does.
void MysqlSession::OnStatementTimeout(TimeoutReason why) {
  if (why == TimeoutReason::kIdleInTransaction) {
    if (phase_ == Phase::kIdle && pins_.in_txn) Close();
    return;
  }
  if (phase_ == Phase::kAcquiring) {
    // Still waiting for a connection (a new one to a hung server does not finish its
    // login): nothing was sent; a login in progress goes on to the pool.
    CancelLeaseWait();
    if (connecting_) connecting_->SetOwner(nullptr);
    connecting_ = nullptr;
    FailCommand(mysql::ER_STATEMENT_TIMEOUT,
                fmt::format("{}: sluice query_timeout_ms ({} ms); no server connection in time",
                            mysql::ER_STATEMENT_TIMEOUT.message, cluster().query_timeout_ms));
    FlushWrites();
    return;
  }
  if (phase_ != Phase::kSyncing && phase_ != Phase::kForwarding) return;
  bool had_state = pins_.in_txn || pins_.pinned();
  if (backend_) lease_.MarkFailed(backend_->server());
  // As after a deadlock: the error says the transaction is gone, the next statement runs
  // outside of it.
  ForgetPinnedState();
  if (ResponseStarted()) seq_ = NextSeqAfterResponse();
  FailCommand(mysql::ER_STATEMENT_TIMEOUT,
              fmt::format("{}: sluice query_timeout_ms ({} ms); the server connection was closed{}",
                          mysql::ER_STATEMENT_TIMEOUT.message, cluster().query_timeout_ms,
                          had_state ? " and its transaction rolled back" : ""));
  FlushWrites();
}

void MysqlSession::OnServerGone(const std::string& server) {
  if (!backend_ || backend_->server() != server) return;
  if (session_mode_ && bound_) {
    LoseSessionBackend(backend_,
                       Unavailable(fmt::format("server {} was set OFFLINE_HARD", server)));
    return;
  }
  if (phase_ == Phase::kIdle) {
    lost_state_ = pins_.in_txn || pins_.pinned();
    ReleaseBackend(false);
    ForgetPinnedState();
    return;
  }
  OnBackendError(backend_, Unavailable(fmt::format("server {} was set OFFLINE_HARD", server)));
}

}  // namespace sluice::mysqlproxy
