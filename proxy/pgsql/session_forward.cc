// PgSession, part two: the server's side. Settings brought in line before a batch, then
// the response forwarded in runs of whole messages (under backpressure), with the few
// messages sluice reads itself: ParseComplete/CloseComplete of its own, errors, settings,
// and ReadyForQuery, which ends a segment; and a server connection that fails (route the
// batch again, an error the client can go on after, or FATAL).
#include "common/clock.h"
#include "common/log.h"
#include "common/stats.h"
#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/message.h"
#include "proxy/pgsql/session.h"
#include "proxy/worker.h"

namespace sluice::pgproxy {
namespace {

namespace be = pgsql::backend;
namespace state = pgsql::sqlstate;
constexpr uint32_t kMaxBackendMessage = pgsql::kMaxMessageLength;

}  // namespace

// Brings the backend's settings in line with the client's; true while the SETs run.
bool PgSession::StartParamSync() {
  std::string sql = settings_.SyncSql(backend_->applied(), backend_->params());
  if (sql.empty()) {
    if (backend_->applied().vars != settings_.want().vars) backend_->applied() = settings_.want();
    return false;
  }
  std::string out;
  pgsql::AppendQuery(&out, sql);
  AppendTo(backend_->output(), out);
  phase_ = Phase::kSyncing;
  sync_kind_ = SyncKind::kSettings;
  sync_failed_ = false;
  sync_error_.clear();
  return true;
}

void PgSession::HandleSyncResponse() {
  MsgHeader h;
  std::span<const uint8_t> p;
  while (phase_ == Phase::kSyncing && backend_) {
    PeekResult r = PeekMessage(backend_->input(), &h, &p, kMaxBackendMessage);
    if (r == PeekResult::kNeedMore) return;
    if (r == PeekResult::kBad) {
      OnBackendError(backend_, ProtocolError("malformed message from the server"));
      return;
    }
    char status = 0;
    if (h.type == be::kErrorResponse) {
      sync_failed_ = true;
      sync_error_.assign(reinterpret_cast<const char*>(p.data()), p.size());
    } else if (h.type == be::kParameterStatus) {
      auto ps = pgsql::DecodeParameterStatus(p);
      if (ps.ok()) backend_->params()[Lower(ps->name)] = std::string(ps->value);
    } else if (h.type == be::kReadyForQuery && !p.empty()) {
      status = static_cast<char>(p[0]);
    } else if (h.type == be::kDataRow && sync_kind_ != SyncKind::kSettings) {
      auto row = pgsql::DecodeDataRow(p);
      if (row.ok() && !row->values.empty() && row->values[0])
        sync_value_.assign(reinterpret_cast<const char*>(row->values[0]->data()),
                           row->values[0]->size());
    }
    evbuffer_drain(backend_->input(), h.total());
    if (!status) continue;
    phase_ = Phase::kReady;
    if (sync_kind_ != SyncKind::kSettings) {
      EndCausalStep();
      return;
    }
    if (sync_failed_) {
      ReleaseBackend(false);
      auto e = pgsql::DecodeErrorFields(
          {reinterpret_cast<const uint8_t*>(sync_error_.data()), sync_error_.size()});
      std::string_view code = e.ok() && !e->sqlstate().empty() ? e->sqlstate() : "22023";
      std::string message(e.ok() ? e->message() : "SET failed");
      if (login_sync_) {
        // A startup setting the server refuses ends the login, as it would directly.
        login_sync_ = false;
        FailLogin(code, message);
        return;
      }
      FailBatch(code, fmt::format("sluice: cannot apply session settings: {}", message));
    } else {
      backend_->applied() = settings_.want();
      if (login_sync_) {
        login_sync_ = false;
        SendLoginReport();
        return;
      }
      if (StartCausalCheck()) return;
    }
    ProcessClientInput();
    return;
  }
}

// ---- client → backend ----------------------------------------------------------------

// Appends to *out a Parse of cs on the backend unless it has it already. False when the
// backend has it.

void PgSession::OnBackendReadable(PgBackend* b) {
  if (b != backend_) return;
  if (phase_ == Phase::kSyncing)
    HandleSyncResponse();
  else
    ForwardResponse();
  FlushWrites();
}

void PgSession::ForwardResponse() {
  // The forwarder is on the stack until Forward returns: cur_ is not given back before.
  in_forward_ = true;
  ResultForwarder::Outcome outcome = cur().forwarder.Forward(backend_->input());
  in_forward_ = false;
  if (outcome == ResultForwarder::Outcome::kMalformed)
    OnBackendError(backend_, ProtocolError("malformed message from the server"));
}

// Rows and CommandComplete pass unread; a mirrored session's source answer is noted first.
bool PgSession::OnPassing(const Frame& f, size_t offset) {
  return !shadow() || NoteSourceMessage(f, offset);
}

// The few messages sluice reads: ParseComplete/CloseComplete of its own, errors, settings.
ResultForwarder::Verdict PgSession::OnFrame(const Frame& f, ResultFraming::Step,
                                            std::span<const uint8_t> bytes) {
  std::span<const uint8_t> p = bytes.subspan(f.header);
  bool swallow = false;
  switch (static_cast<char>(f.kind)) {
    case be::kParseComplete:
      swallow = extended_.SwallowParseComplete();
      break;
    case be::kCloseComplete:
      swallow = extended_.SwallowCloseComplete();
      break;
    case be::kErrorResponse: {
      segment_error_ = true;
      if (shadow()) cur().src_outcome.Error(p);
      extended_.DropSegment(resp_segment_, &backend_->prepared());
      auto e = pgsql::DecodeErrorFields(p);
      if (e.ok() && (e->severity() == "FATAL" || e->severity() == "PANIC")) {
        // The server is closing this connection: the client gets its error when the close
        // arrives (ForwardServerFatal).
        backend_fatal_.assign(reinterpret_cast<const char*>(p.data()), p.size());
        swallow = true;
      }
      break;
    }
    case be::kParameterStatus: {
      auto ps = pgsql::DecodeParameterStatus(p);
      if (ps.ok()) {
        std::string name = Lower(ps->name);
        backend_->params()[name] = std::string(ps->value);
        // The client changed it or the server did: the client's view follows.
        settings_.OnReported(name, ps->value, &backend_->applied());
      }
      break;
    }
    case be::kReadyForQuery:
      return ResultForwarder::Verdict::kTake;
    default:
      break;
  }
  return swallow ? ResultForwarder::Verdict::kDrop : ResultForwarder::Verdict::kPass;
}

// ReadyForQuery ends a segment; anything else taken is one of sluice's own, dropped.
ResultForwarder::Next PgSession::TakeFrame(const Frame& f, ResultFraming::Step step,
                                           std::span<const uint8_t> bytes) {
  if (step != ResultFraming::Step::kEnd) {
    evbuffer_drain(backend_->input(), bytes.size());
    return ResultForwarder::Next::kGoOn;
  }
  char status = bytes.size() > f.header ? static_cast<char>(bytes[f.header]) : 'I';
  evbuffer_remove_buffer(backend_->input(), client_.output(), bytes.size());
  OnReadyForQuery(status);
  if (!backend_) return ResultForwarder::Next::kGone;
  // Settings brought in line after a RESET: the next bytes are the SET's answer.
  return phase_ == Phase::kSyncing ? ResultForwarder::Next::kPause : ResultForwarder::Next::kGoOn;
}

void PgSession::OnReadyForQuery(char status) {
  txn_status_ = status;
  if (shadow()) MirrorSegment(status);
  RecordSegment();
  extended_.DropSegment(resp_segment_, backend_ ? &backend_->prepared() : nullptr);
  ++resp_segment_;
  if (outstanding_ > 0) --outstanding_;
  uint32_t pins =
      settings_.OnSegmentEnd(segment_error_, status, backend_ ? &backend_->applied() : nullptr);
  if (!segment_error_) pins |= pending_pg_pins_;
  if (pins) PinFor(pins);
  if (!segment_error_ && pending_write_) {
    last_write_ms_ = MonotonicMs();
    // Its position is read once its transaction ended (StartWritePosition).
    if (cluster().consistency != Consistency::kEventual) causal_wrote_ = true;
  }
  // A sequence moved: a currval()/lastval() next must read this connection.
  if (!segment_error_ && pending_sequence_ && transaction_mode_) hold_previous_ = true;
  segment_error_ = false;
  cur().forwarder.Begin();  // the next segment's answer
  ForgetRetry();
  if (outstanding_ > 0) return;
  StopQueryClock();
  if (status != pgsql::kTxIdle) StartIdleInTransactionClock();
  pending_pg_pins_ = 0;
  pending_write_ = false;
  pending_sequence_ = false;
  if (StartWritePosition(status)) return;  // AfterLastResponse once it is read
  AfterLastResponse(status);
}

void PgSession::AfterLastResponse(char status) {
  if (status == pgsql::kTxIdle && !pinned_) {
    if (!hold_previous_) ReleaseBackend(true);
  } else {
    hold_previous_ = false;  // the transaction or the pin keeps the connection anyway
  }
  if (draining_ && status == pgsql::kTxIdle) {
    Close();
    return;
  }
  if (!backend_) {
    ProcessClientInput();
    return;
  }
  // A RESET on the connection the session keeps: back to the client's startup settings.
  if (status == pgsql::kTxIdle && !mid_segment_) StartParamSync();
}

// At a ReadyForQuery from the server: the oldest segment sent is over.
void PgSession::RecordSegment() {
  if (sent_segments_.empty() || !backend_) return;
  SegmentStat s = std::move(sent_segments_.front());
  sent_segments_.pop_front();
  StatementRecord r = NewRecord(backend_->server(), backend_->host(), backend_->port(), user_,
                                database_, s.start_us);
  r.command = s.command.empty() ? std::string_view("OTHER") : s.command;
  r.digest_text = s.digest;
  r.digest_hash = s.digest_hash;
  r.error = segment_error_;
  r.rows_sent = cur().forwarder.TakeRows();  // the DataRows of this segment's answer
  RecordStatement(&worker_->stats(), r);
  cur().spare_segment = std::move(s);  // its buffers serve the next segment
}

// ---- backend → client ----------------------------------------------------------------

void PgSession::OnBackendError(PgBackend* b, const Status& st) {
  std::string server = b->server();
  std::string server_error = b->server_error();
  bool was_attached = b == backend_;
  if (was_attached) MirrorLost();
  // The connection itself failed (refused, timed out, reset) and the server said nothing.
  bool transport = b->transport_failed() && server_error.empty();
  if (connecting_ == b) connecting_ = nullptr;
  if (was_attached) {
    backend_ = nullptr;
    lease_.Finished();
  }
  b->SetOwner(nullptr);
  b->Destroy();
  lease_.Release(server);
  if (server_error.empty()) lease_.MarkFailed(server);
  std::string fatal = std::move(backend_fatal_);
  backend_fatal_.clear();
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kSyncing && sync_kind_ != SyncKind::kSettings && CausalStepLost()) return;
  std::string why = st.message();
  if (!fatal.empty()) {
    auto e =
        pgsql::DecodeErrorFields({reinterpret_cast<const uint8_t*>(fatal.data()), fatal.size()});
    if (e.ok()) why = fmt::format("{} ({})", e->message(), e->sqlstate());
  }
  log::Warn("pgsql session {}: {}", pid_, why);
  // The primary refused a new connection before any byte of the batch (or of the login) was
  // sent, and the monitor has not said so yet: held as in a failover (RetryHeld routes it
  // again) rather than failed; see BackendLease::HoldAfterConnectFailure.
  if (!was_attached && transport && !login_sync_ &&
      (phase_ == Phase::kAcquiring || phase_ == Phase::kLoginBackend) &&
      lease_.HoldAfterConnectFailure(server, st.message()))
    return;
  if (login_unchecked_ && !was_attached && !server_error.empty()) {
    // The login sluice answered itself: the server's refusal of the database or the user
    // (3D000, 28P01 …) is the FATAL that login would have ended with.
    std::string out;
    pgsql::AppendMessage(&out, be::kErrorResponse, std::string_view(server_error));
    AppendTo(client_.output(), out);
    Close();
    return;
  }
  if (phase_ == Phase::kLoginBackend || login_sync_) {
    login_sync_ = false;
    if (!server_error.empty()) {
      // The server's own refusal (3D000 unknown database, 28P01 …) goes to the client.
      std::string out;
      pgsql::AppendMessage(&out, be::kErrorResponse, std::string_view(server_error));
      AppendTo(client_.output(), out);
      Close();
      return;
    }
    FailLogin(state::kConnectionFailure,
              fmt::format("sluice: could not connect to the server: {}", st.message()));
    return;
  }
  if (!was_attached && phase_ == Phase::kAcquiring && lease_.Retry()) {
    // Nothing of the batch went anywhere yet: route it again; the router now avoids the
    // server that failed.
    phase_ = Phase::kReady;
    rerouting_ = true;
    ProcessClientInput();
    return;
  }
  // A lone read whose connection died (a replica killed a moment ago), or ended with a
  // shutdown FATAL, before any byte of its answer: it runs again on another server.
  if (was_attached && transport && RetryLostBatch(fatal)) return;
  if (was_attached && phase_ == Phase::kReady && outstanding_ == 0 && !mid_segment_ &&
      txn_status_ == pgsql::kTxIdle && !pinned_) {
    // An idle connection the session kept after an INSERT (for a currval(), hold_previous_)
    // died, e.g. with the server's 57P01 at a shutdown or a kill -9: nothing of the client's
    // was on it. Before, the client got that FATAL as an unsolicited ERROR and its next
    // statement was skipped (psycopg2: an OperationalError without a message).
    hold_previous_ = false;
    extended_.ClearExpects();
    if (cur_) cur_->forwarder.Abandon();
    ProcessClientInput();
    return;
  }
  bool in_txn = txn_status_ != pgsql::kTxIdle || pinned_;
  bool mid_message = cur_ && cur_->forwarder.mid_frame();
  extended_.ClearExpects();
  if (cur_) cur_->forwarder.Abandon();
  if (phase_ != Phase::kSkipping) phase_ = Phase::kReady;
  std::string_view sqlstate = timed_out_ ? state::kQueryCanceled : state::kConnectionFailure;
  std::string text = timed_out_ ? why
                                : fmt::format("sluice: server connection lost: {}{}", why,
                                              was_attached ? NotRetriedWhy() : "");
  bool timed_out = timed_out_;
  timed_out_ = false;
  if (mid_message || in_txn || !transaction_mode_) {
    // Half a message went out, or the client's transaction (or session) died with the
    // server: the client cannot go on in-protocol.
    if (timed_out || !ForwardServerFatal(fatal, true)) SendError("FATAL", sqlstate, text);
    Close();
    return;
  }
  ForgetPinnedState();
  settings_.Abandon();
  if (timed_out || !ForwardServerFatal(fatal, false)) SendError("ERROR", sqlstate, text);
  // One ReadyForQuery per Sync/Query already sent; a batch not yet synced skips to Sync.
  std::string out;
  for (int i = 0; i < outstanding_; ++i) pgsql::AppendReadyForQuery(&out, pgsql::kTxIdle);
  AppendTo(client_.output(), out);
  if (outstanding_ == 0) phase_ = Phase::kSkipping;
  outstanding_ = 0;
  segment_error_ = false;
  resp_segment_ = send_segment_;
  sent_segments_.clear();  // their answers are the error above
  ProcessClientInput();
}

// query_timeout_ms: the server did not answer the batch in time (hung, or the statement runs
// too long). The connection is discarded as if it had failed, with PostgreSQL's own
// statement_timeout error (57014): ERROR and ReadyForQuery outside a transaction, FATAL when a
// transaction or a session-mode connection went with it. idle_in_transaction_timeout_ms:
// FATAL 25P03 and close, as PostgreSQL's idle_in_transaction_session_timeout.
void PgSession::OnStatementTimeout(TimeoutReason why) {
  if (why == TimeoutReason::kLoginAnswer) {
    OnLoginAnswerTimeout();
    return;
  }
  if (why == TimeoutReason::kIdleInTransaction) {
    if (outstanding_ != 0 || txn_status_ == pgsql::kTxIdle) return;
    SendError("FATAL", state::kIdleInTransactionTimeout,
              "terminating connection due to idle-in-transaction timeout");
    Close();
    FlushWrites();
    return;
  }
  std::string text = fmt::format(
      "canceling statement due to statement timeout (sluice query_timeout_ms {} ms; {})",
      cluster().query_timeout_ms,
      phase_ == Phase::kAcquiring ? "no server connection in time"
                                  : "the server connection was closed");
  if (phase_ == Phase::kAcquiring) {
    // Still waiting for a connection (a new one to a hung server does not finish its login):
    // the batch fails as a refused lease does; a login in progress goes on to the pool.
    CancelLeaseWait();
    if (connecting_) connecting_->SetOwner(nullptr);
    connecting_ = nullptr;
    phase_ = Phase::kReady;
    FailBatch(state::kQueryCanceled, text);
    ProcessClientInput();
    FlushWrites();
    return;
  }
  // Nothing outstanding and no causal step running (a hung replica's wait, or the write's
  // position on a hung primary): nothing to time out.
  if (!backend_ ||
      (outstanding_ == 0 && (phase_ != Phase::kSyncing || sync_kind_ == SyncKind::kSettings)))
    return;
  timed_out_ = true;
  OnBackendError(backend_, Unavailable(text));
  FlushWrites();
}

void PgSession::OnServerGone(const std::string& server) {
  if (!backend_ || backend_->server() != server) return;
  if (outstanding_ == 0 && phase_ != Phase::kSyncing && txn_status_ == pgsql::kTxIdle && !pinned_) {
    ReleaseBackend(false);
    return;
  }
  OnBackendError(backend_, Unavailable(fmt::format("server {} was taken out of service", server)));
}

}  // namespace sluice::pgproxy
