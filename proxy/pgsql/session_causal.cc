// PgSession, causal reads (Cluster::consistency, docs/architecture.md "Causal reads"): the
// position of a write, read on the connection that committed it once its transaction ended,
// and a causal read's check on the replica before its batch. Both run as one Query in the
// kSyncing phase, after the client has its answer (the write) or before its batch is sent
// (the read); no libpq, no blocking call: the worker goes on while the server answers.
#include "common/clock.h"
#include "common/log.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/message.h"
#include "proxy/pgsql/session.h"
#include "proxy/worker.h"

namespace sluice::pgproxy {

bool PgSession::StartCausalCheck() {
  if (!causal_check_ || !backend_) return false;
  causal_check_ = false;
  std::string out;
  pgsql::AppendQuery(
      &out, routing::PostgresCausalCheck(causal().target(), cluster().consistency_wait_ms));
  AppendTo(backend_->output(), out);
  phase_ = Phase::kSyncing;
  sync_kind_ = SyncKind::kCausalCheck;
  sync_value_.clear();
  sync_failed_ = false;
  causal_start_us_ = MonotonicUs();
  StartQueryClock();
  return true;
}

// A write's transaction ended (STATUS idle) and nothing else is outstanding: its position
// is read on the same connection before the connection goes back. The client has its
// answer already; its next batch waits for this one round trip on the backend.
bool PgSession::StartWritePosition(char status) {
  if (!causal_wrote_ || status != pgsql::kTxIdle || !backend_) return false;
  causal_wrote_ = false;
  if (cluster().consistency == Consistency::kEventual) return false;
  if (!transaction_mode_) {
    // Session pooling: every statement runs on the primary; no read needs the position.
    causal().NoteUnknownWrite(causal_board());
    return false;
  }
  std::string out;
  pgsql::AppendQuery(&out, routing::kPostgresWritePositionQuery);
  AppendTo(backend_->output(), out);
  phase_ = Phase::kSyncing;
  sync_kind_ = SyncKind::kWritePosition;
  sync_value_.clear();
  sync_failed_ = false;
  StartQueryClock();
  return true;
}

// The causal step's ReadyForQuery (phase_ is kReady again).
void PgSession::EndCausalStep() {
  StopQueryClock();
  if (sync_kind_ == SyncKind::kWritePosition) {
    // An error (the write ran on a standby through a query rule) or no value: unknown, and
    // the session's reads stay on the primary until its next positioned write.
    auto lsn = sync_failed_ ? std::nullopt : routing::ParseLsnText(sync_value_);
    routing::CausalPosition p;
    if (lsn) p.MergeLsn(*lsn);
    if (lsn && *lsn)
      causal().NoteWrite(p, causal_board());
    else
      causal().NoteUnknownWrite(causal_board());
    sync_kind_ = SyncKind::kSettings;
    AfterLastResponse(pgsql::kTxIdle);
    // The client's next batch may have come meanwhile, also when the connection stays
    // (a currval() after an INSERT, a pin).
    ProcessClientInput();
    return;
  }
  // The check: "t" when the replica has replayed the target (after waiting up to
  // consistency_wait_ms on the server), else the batch goes to the primary.
  sync_kind_ = SyncKind::kSettings;
  const bool found = !sync_failed_ && sync_value_ == "t";
  lease_.CountCausalCheck(true, found, static_cast<uint64_t>(MonotonicUs() - causal_start_us_));
  if (found) {
    causal().Confirm(lease_.server_index(), worker_->runtime().Current()->version);
  } else {
    ReleaseBackend(true);
    causal_failed_ = true;
  }
  ProcessClientInput();
}

// The causal step's connection failed (or timed out): the backend is gone already. The
// write's position is unknown; the read goes to the primary. The client saw nothing of it.
bool PgSession::CausalStepLost() {
  if (pinned_) return false;  // the pinned state went with it: the usual FATAL
  timed_out_ = false;
  phase_ = Phase::kReady;
  if (sync_kind_ == SyncKind::kWritePosition) {
    causal().NoteUnknownWrite(causal_board());
  } else {
    lease_.CountCausalCheck(true, false, static_cast<uint64_t>(MonotonicUs() - causal_start_us_));
    causal_failed_ = true;
  }
  sync_kind_ = SyncKind::kSettings;
  StopQueryClock();
  ProcessClientInput();
  return true;
}

}  // namespace sluice::pgproxy
