// PgSession: one PostgreSQL client connection on the session core (proxy/session_core.h).
// The client comes in through PgStartup; then for each batch (a Query, or extended messages
// up to Sync) the session picks a backend (read/write split, transaction stickiness, pins),
// brings its settings in line, forwards through the ExtendedRewriter, and streams the
// response back until ReadyForQuery (session_forward.cc).
#pragma once

#include <event2/bufferevent.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/fifo.h"
#include "proxy/pgsql/backend.h"
#include "proxy/pgsql/cancel.h"
#include "proxy/pgsql/extended.h"
#include "proxy/pgsql/mirror_wire.h"
#include "proxy/pgsql/result_framing.h"
#include "proxy/pgsql/settings.h"
#include "proxy/pgsql/startup.h"
#include "proxy/pgsql/wire.h"
#include "proxy/result_forwarder.h"
#include "proxy/router.h"
#include "proxy/session_core.h"

namespace sluice::pgproxy {

// What the statistics keep of one segment (a Query, or the messages up to a Sync) between
// sending it and its ReadyForQuery: its first statement names it.
struct SegmentStat {
  std::string_view command;  // first keyword: SELECT, INSERT, … (static storage)
  std::string digest;
  uint64_t digest_hash = 0;
  int64_t start_us = 0;
  bool named = false;
  bool writes = false;    // a statement of it writes (the mirror: not replayed when refused)
  bool ends_txn = false;  // a statement of it is a COMMIT or ROLLBACK (the mirror's write order)
  std::string mirrored;   // a mirrored session: its client messages, as forwarded
  // Empty again, keeping the strings' buffers (a segment's stat is reused, not allocated).
  void Reset();
};

class PgSession final : public SessionCore,
                        public PgBackend::Owner,
                        private PgStartup::Callbacks,
                        private ExtendedRewriter::Callbacks,
                        private ResultForwarder::Callbacks {
 public:
  PgSession(Worker* w, size_t cluster_index, bufferevent* client, std::string client_addr);
  ~PgSession() override;
  void Start();

  void Drain() override;
  void Abort() override;
  void OnServerGone(const std::string& server) override;
  void RetryHeld(bool timed_out) override;
  void Kill(bool query_only) override;
  // The statement the backend held now runs is cancelled on its server (its own cancel key);
  // nothing when no backend is held.
  void CancelStatement();

  void OnBackendReady(PgBackend* b) override;
  void OnBackendReadable(PgBackend* b) override;
  void OnBackendWritable(PgBackend* b) override;
  void OnBackendError(PgBackend* b, const Status& st) override;

 private:
  // One state: where the session is, from the first byte to the close.
  enum class Phase {
    kStartup,       // PgStartup runs (SSL, StartupMessage, authentication)
    kLoginBackend,  // authenticated; a backend login checks the database and gives settings
    kReady,         // logged in: client messages flow (to a backend, if one is attached)
    kAcquiring,     // a batch waits for a backend (route, hold, pool wait, connect)
    kSyncing,       // a SET brings the backend's settings in line before the batch
    kSkipping,      // a failed batch: client messages are dropped up to Sync or Query
    kClosed,
  };
  bool logged_in() const { return phase_ >= Phase::kReady && phase_ != Phase::kClosed; }

  // ClientConn::Callbacks
  void OnClientReadable() override;
  void OnClientDrained() override;
  // SessionCore
  void OnStatementTimeout(TimeoutReason why) override;
  // BackendLease::Callbacks
  void OnLeaseConnection(PooledConn* c) override;
  void OnLeaseSlot(const PoolKey& key) override;
  void OnLeaseRefused(LeaseRefusal why, const std::string& server) override;
  // PgStartup::Callbacks (session_login.cc, with BeginLoginBackend and FinishLogin)
  const User* FindLoginUser(const std::string& name) override;
  bool OverClientLimit() override;
  bool TlsAvailable() override;
  bool LookupEnabled() override { return PassthroughOn(); }
  bool LookupUser(const std::string& name) override { return StartLookup(name); }
  void OnPassthroughLogin(std::string verifier, std::string proven_secret) override;
  void OnPassthroughAnswer(const health::AuthAnswer& a) override;
  void OnTlsRequested() override;
  void OnCancelRequest(int32_t pid, uint32_t secret) override;
  void OnAuthenticated() override;
  void OnStartupFailed(bool refused) override;
  void OnStartupProtocolError() override { CountProtocolError(); }
  // ExtendedRewriter::Callbacks
  StatementInfo Classify(std::string_view text) override;
  void OnStatement(const StatementInfo& info, std::string_view text, const ClientStmt* cs,
                   bool names_segment) override;

  void BeginLoginBackend();
  void FinishLogin();
  // The login ends without a backend, from the settings an earlier backend login of this
  // cluster, database and user reported (the primary is held, or its login does not answer
  // within kLoginAnswerMs). False: none did on this worker, the login waits.
  bool AnswerLoginFromCache();
  void OnLoginAnswerTimeout();
  // BackendKeyData and ReadyForQuery after the ParameterStatus in *out, to the client: the
  // session is logged in (server_pid: cancel.h's Register).
  void ReportLogin(std::string* out, int32_t server_pid);
  void ProcessClientInput();
  bool StartBatch(char type, std::span<const uint8_t> payload);
  void Acquire(int server_index);
  void OnBackendAcquired(PgBackend* b);
  void ForwardClientMessage(char type, std::span<const uint8_t> payload, size_t total);
  void EndSegment();
  // session_forward.cc
  bool StartParamSync();
  void HandleSyncResponse();
  void ForwardResponse();
  // ResultForwarder::Callbacks: the messages sluice reads on the way (PgFraming::Reads),
  // the ones it drops, and ReadyForQuery, which ends a segment.
  bool OnPassing(const Frame& f, size_t offset) override;
  ResultForwarder::Verdict OnFrame(const Frame& f, ResultFraming::Step step,
                                   std::span<const uint8_t> bytes) override;
  ResultForwarder::Next TakeFrame(const Frame& f, ResultFraming::Step step,
                                  std::span<const uint8_t> bytes) override;
  void PauseBackendRead() override { backend_->PauseRead(); }
  void OnReadyForQuery(char status);
  // The end of OnReadyForQuery once nothing is outstanding: release or keep the backend.
  void AfterLastResponse(char status);
  void RecordSegment();
  // session_causal.cc: causal reads (Cluster::consistency). A causal read's position check
  // on the replica before the batch; the position of a write transaction that just ended,
  // read on its connection; the answer of either; either's connection lost.
  bool StartCausalCheck();
  bool StartWritePosition(char status);
  void EndCausalStep();
  bool CausalStepLost();

  // session_retry.cc: the batch kept for a retry. NoteRetry sees each client message before
  // it is forwarded (idle_before: nothing was outstanding; read_alone: its statement is a
  // lone read); RetryLostBatch runs it again after its connection died (fatal: the server's
  // FATAL before the close, if any), true when it did.
  void NoteRetry(char type, std::span<const uint8_t> payload, size_t total, bool idle_before,
                 bool read_alone);
  bool RetryAllows(char type, std::span<const uint8_t> payload, bool read_alone);
  bool RetryLostBatch(std::string_view fatal);
  void ForgetRetry();
  // Why the lost batch was not run again, for the client's error ("; not run again: …").
  std::string_view NotRetriedWhy() const;

  // session_pins.cc
  void PinFor(uint32_t reasons);
  void SendLoginReport();
  // The server's FATAL that ended the connection, to the client: as it came when the
  // session ends with it, as an ERROR with the server's fields when the session goes on.
  // False when there was none (payload empty).
  bool ForwardServerFatal(std::string_view payload, bool session_ends);

  void ReleaseBackend(bool clean);
  // The connection that held the session's state is gone: so is the state.
  void ForgetPinnedState();
  void FailBatch(std::string_view sqlstate, std::string_view message);
  void FailLogin(std::string_view sqlstate, std::string_view message);
  void SendError(std::string_view severity, std::string_view sqlstate, std::string_view message);
  void Close() override;
  // session_mirror.cc
  ShadowSession* NewShadow(ShadowSession::Params p) override;
  void MirrorClientMessage(char type, size_t total);  // before it leaves the client's input
  // A message of the source's answer at OFFSET in the backend's input: DataRow and
  // CommandComplete feed cur().src_outcome. False: a DataRow not all here yet (at most 64 KiB).
  bool NoteSourceMessage(const Frame& f, size_t offset);
  void MirrorSegment(char status);  // at the oldest sent segment's ReadyForQuery
  void MirrorLost();                // the source's answers to sent segments are lost
  void FlushBackend() override {
    if (backend_) backend_->WriteNow();
  }
  // session_kill.cc
  void PublishState() override;  // to the registry's slot, when it changed (FlushWrites)

  Phase phase_ = Phase::kStartup;
  // The startup's state (SSL, StartupMessage, authentication), freed once it is done
  // (ReleaseStartup): a logged-in session does not carry it.
  std::unique_ptr<PgStartup> startup_{new PgStartup(this)};  // this: a private base
  void ReleaseStartup() {
    if (phase_ != Phase::kStartup) startup_.reset();
  }
  ExtendedRewriter extended_{this};
  bool transaction_mode_ = true;
  std::string user_;
  std::string database_;
  // Settings the client asked for at startup or since (proxy/pgsql/settings.h).
  PgSettings settings_;

  int32_t pid_ = 0;
  uint32_t secret_ = 0;
  bool has_cancel_key_ = false;  // (pid_, secret_) is in the worker's CancelKeys

  PgBackend* backend_ = nullptr;
  PgBackend* connecting_ = nullptr;  // opened for this session, login not done yet
  // What the kSyncing phase waits for: the settings' SETs, or a causal step (its one
  // value in sync_value_).
  enum class SyncKind { kSettings, kCausalCheck, kWritePosition };
  SyncKind sync_kind_ = SyncKind::kSettings;
  std::string sync_value_;
  bool causal_check_ = false;   // the batch's replica must show the causal target first
  bool causal_failed_ = false;  // it did not: the batch routes again, to the primary
  bool causal_wrote_ = false;   // a write whose position is not read yet (session/global)
  int64_t causal_start_us_ = 0;
  bool sync_failed_ = false;
  std::string sync_error_;   // the server's ErrorResponse payload
  bool login_sync_ = false;  // the startup settings are applied before the login ends
  // The login was answered by sluice (AnswerLoginFromCache): no backend has logged in with
  // the client's database and user yet, a refusal there ends the session as a login's would.
  bool login_unchecked_ = false;
  bool mid_segment_ = false;  // messages of a segment went out, its Sync not yet
  bool pinned_ = false;
  uint32_t pin_reasons_ = 0;      // PgPin bits that pinned the session
  uint32_t pending_pg_pins_ = 0;  // PgPin bits of the segments being answered
  // The backend stays one more batch after a statement that may move a sequence (INSERT,
  // nextval, setval), for a currval()/lastval() that reads that connection's sequence
  // state (routing::kPinPreviousConnection); any other next batch routes afresh.
  bool hold_previous_ = false;
  char txn_status_ = 'I';
  int outstanding_ = 0;        // Syncs / Queries / FunctionCalls forwarded, awaiting 'Z'
  uint64_t send_segment_ = 0;  // counts Syncs, Queries and FunctionCalls sent
  uint64_t resp_segment_ = 0;  // counts 'Z's received
  bool segment_error_ = false;
  // The last text Classify() read and its result: a batch's first statement is classified
  // to route the batch and again when it is forwarded; the second time is a string compare.
  std::string routed_text_;
  StatementInfo routed_info_;
  // The last Parse text digested and its digest: an extended-protocol client repeats its
  // statement texts (the values travel in Bind), so a text in a row is digested once.
  bool stmt_parsed_ = false;  // the statement OnStatement sees came in a Parse
  std::string digested_text_;
  std::string digested_;
  uint64_t digested_hash_ = 0;
  bool pending_write_ = false;
  bool pending_sequence_ = false;  // the segment may have moved a sequence (see hold_previous_)
  // The answers' way back (proxy/result_forwarder.h); started(): bytes of the current
  // segment's answer reached the client.
  // What the answers of segments in flight need and an idle session does not. Borrowed
  // from the worker's BlockPool on first use (cur()) and given back at the end of the
  // first callback that finds the session idle, every segment answered (PublishState).
  struct InFlight {
    InFlight(ResultForwarder::Callbacks* cb, ClientConn* client)
        : forwarder(&framing, cb, client) {}
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

    PgFraming framing;
    ResultForwarder forwarder;
    // The mirror (session_mirror.cc): the oldest sent segment's answer so far.
    PgOutcomeTracker src_outcome;
    SegmentStat spare_segment;  // the last one recorded: its buffers serve the next one
  };
  InFlight& cur();
  void ReleaseInFlight();
  InFlight* cur_ = nullptr;
  bool in_forward_ = false;  // ResultForwarder::Forward is on the stack: cur_ stays
  // The client messages of a lone read batch outside a transaction (a Query, or extended
  // messages up to Sync), while it is outstanding: sent again elsewhere when its connection
  // dies before any byte of its answer (session_retry.cc).
  std::string retry_batch_;
  bool retry_open_ = false;          // the batch being sent qualifies so far
  bool retry_complete_ = false;      // its Query or Sync is in retry_batch_
  bool retry_unnamed_read_ = false;  // it parsed the unnamed statement, a read
  // The client's statements its Closes took from the rewriter: given back before a retry.
  std::vector<std::pair<std::string, ClientStmt>> retry_closed_;
  bool stmt_read_alone_ = false;     // the message being forwarded carries a lone read
  bool rerouting_ = false;           // the next StartBatch routes a batch again after a failure
  std::string backend_fatal_;        // the server's FATAL (ErrorResponse payload)
  bool timed_out_ = false;           // the backend "failed" by query_timeout_ms: 57014
  SegmentStat open_segment_;         // the segment being sent
  Fifo<SegmentStat> sent_segments_;  // sent, awaiting 'Z', oldest first

  // The mirror (session_mirror.cc; the answer so far is InFlight's): the bytes of segments
  // kept for the shadow and not yet pushed, and a row's copy for its checksum.
  size_t mirror_held_ = 0;
  std::string mirror_scratch_;
};

}  // namespace sluice::pgproxy
