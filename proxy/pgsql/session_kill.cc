// PgSession's side of a KILL from the admin port (proxy/session_registry.h): the running
// statement is cancelled on its server through the backend's own cancel key (cancel.h), or
// the session ends as a server ends it (FATAL 57P01), cancelling its statement first (a
// server does not notice its client left until it writes).
#include "protocol/pgsql/constants.h"
#include "proxy/pgsql/session.h"

namespace sluice::pgproxy {
namespace {
// How long a cancel connection to a server may take before it is given up.
constexpr int kCancelTimeoutMs = 5000;
}  // namespace

void PgSession::CancelStatement() {
  if (!backend_ || phase_ == Phase::kClosed) return;
  SendCancel(worker_,
             BackendKey{backend_->ip(), backend_->port(), backend_->pid(), backend_->secret()},
             kCancelTimeoutMs);
}

void PgSession::Kill(bool query_only) {
  if (phase_ == Phase::kClosed) return;
  if (outstanding_ > 0) CancelStatement();
  if (query_only) return;
  SendError("FATAL", pgsql::sqlstate::kAdminShutdown,
            "terminating connection due to administrator command");
  Close();
}

void PgSession::PublishState() {
  SessionPhase p = SessionPhase::kLogin;
  switch (phase_) {
    case Phase::kReady:
      p = outstanding_ > 0     ? SessionPhase::kActive
          : txn_status_ != 'I' ? SessionPhase::kIdleInTxn
                               : SessionPhase::kIdle;
      break;
    case Phase::kAcquiring:
      p = SessionPhase::kWaiting;
      break;
    case Phase::kSyncing:
    case Phase::kSkipping:
      p = SessionPhase::kActive;
      break;
    case Phase::kClosed:
      return;
    default:
      p = SessionPhase::kLogin;
      break;
  }
  if (BackendChanged(backend_))
    NoteBackend(backend_ ? backend_->server() : std::string_view(),
                backend_ ? static_cast<uint32_t>(backend_->pid()) : 0);
  // The oldest segment awaiting its ReadyForQuery is the one the server runs now.
  const SegmentStat* running = sent_segments_.empty() ? nullptr : &sent_segments_.front();
  bool new_segment = false;
  if (PhaseChanged(p, running ? &running->start_us : nullptr, &new_segment))
    NotePhase(p, new_segment ? &running->digest : nullptr, &database_);
  // The end of a callback: a session with every segment answered gives InFlight back.
  if (phase_ == Phase::kReady && outstanding_ == 0 && sent_segments_.empty() && !mid_segment_ &&
      !in_forward_)
    ReleaseInFlight();
}

}  // namespace sluice::pgproxy
