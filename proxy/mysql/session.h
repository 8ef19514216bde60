// MysqlSession: one MySQL client connection on the session core (proxy/session_core.h).
// The client logs in through MysqlClientLogin; then for each command the session picks a
// backend (read/write split, rules, pinning), brings the pooled connection's session state
// in line (session_sync.cc), forwards, and streams the response back (session_forward.cc).
#pragma once

#include <event2/bufferevent.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol/mysql/constants.h"
#include "protocol/mysql/response.h"
#include "proxy/mysql/backend.h"
#include "proxy/mysql/client_login.h"
#include "proxy/mysql/greeting_probe.h"
#include "proxy/mysql/result_framing.h"
#include "proxy/mysql/session_state.h"
#include "proxy/mysql/shadow.h"
#include "proxy/result_forwarder.h"
#include "proxy/router.h"
#include "proxy/session_core.h"

namespace sluice::mysqlproxy {

// A statement the client prepared: the client's id is sluice's, backends have their own.
struct ClientStmt {
  std::string text;
  uint16_t num_params = 0;
  uint16_t num_columns = 0;
  std::string param_types;  // 2 bytes per parameter, from the first execute that sent them
  StatementInfo info;       // classification of text, computed once at prepare
  std::string digest;       // its digest, for statistics
  uint64_t digest_hash = 0;
};

// Why a backend connection stays with the session between commands.
struct MysqlPins {
  uint32_t reasons = 0;        // routing::Pin bits still in force (locks, temp tables, …)
  bool long_data = false;      // SEND_LONG_DATA sent; pinned until the EXECUTE
  uint32_t cursor_stmt = 0;    // client statement with an open cursor (pins until done)
  bool hold_previous = false;  // keep the connection one statement for LAST_INSERT_ID()
  bool in_txn = false;         // last status flags said IN_TRANS
  bool pinned() const { return reasons != 0 || long_data || cursor_stmt != 0; }
};

class MysqlSession final : public SessionCore,
                           public MysqlBackend::Owner,
                           private MysqlClientLogin::Callbacks,
                           private ResultForwarder::Callbacks {
 public:
  // Takes client; its peer is client_addr.
  MysqlSession(Worker* w, size_t cluster_index, bufferevent* client, std::string client_addr);
  ~MysqlSession() override;
  void Start();

  // MysqlBackend::Owner
  void OnBackendReady(MysqlBackend* b) override;
  void OnBackendReadable(MysqlBackend* b) override;
  void OnBackendError(MysqlBackend* b, const Status& st) override;

  // ClientSession
  void Drain() override;
  void Abort() override;
  void OnServerGone(const std::string& server) override;
  void RetryHeld(bool timed_out) override;
  void Kill(bool query_only) override;

 private:
  enum class Phase {
    kLogin,       // MysqlClientLogin runs
    kIdle,        // between commands
    kAcquiring,   // command waits for a backend connection
    kSyncing,     // internal commands bring the backend in line
    kForwarding,  // the client's command is on the backend; response streams back
    kClosed,      // gone; deleted from the event loop
  };
  // What the in-flight command is, beyond its bytes.
  struct Command {
    uint8_t code = 0;
    std::string payload;  // the whole logical payload as the client sent it
    StatementInfo info;   // routing facts (read/write/txn/pins)
    uint32_t client_stmt_id = 0;
    // stmts_'s entry of client_stmt_id, found once per command (DropStatement and
    // DropAllStatements clear it; references into an unordered_map survive inserts).
    ClientStmt* stmt = nullptr;
    bool internal_check = false;  // the post-login schema check, no client command
    int64_t start_us = 0;
    std::string digest;  // COM_QUERY: digest of the text (prepared: in ClientStmt)
    uint64_t digest_hash = 0;
    bool causal_failed = false;  // a replica lacked the causal target: route to the primary
  };
  // What a command in flight needs and an idle session does not. Borrowed from the
  // worker's BlockPool on first use (cur()) and given back at the end of the first callback
  // that leaves the session idle (PublishState), so an idle session holds none of it.
  struct InFlight {
    InFlight(ResultForwarder::Callbacks* cb, ClientConn* client)
        : forwarder(&framing, cb, client) {}
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

    Command cmd;
    std::vector<SyncStep> sync_steps;
    size_t sync_index = 0;
    size_t sync_packets = 0;  // packets of the current internal step's response
    int64_t causal_check_start_us = 0;
    bool sync_prepare = false;  // the current internal step is a COM_STMT_PREPARE
    bool causal_check = false;  // the command's replica must show the causal target first
    bool causal_found = false;  // the check's answer row said the replica has it
    mysql::ResponseTracker tracker;
    MysqlFraming framing{&tracker};
    ResultForwarder forwarder;
    RowChecksum src_sum;  // the source's rows of the command in flight, when mirrored
  };
  // The command in flight's state, borrowed now if the session holds none.
  InFlight& cur();
  // Gives cur_ back to the worker's pool (the session is idle, or closes).
  void ReleaseInFlight();

  // ClientConn::Callbacks
  void OnClientReadable() override;
  void OnClientDrained() override;
  // SessionCore
  void OnStatementTimeout(TimeoutReason why) override;
  // BackendLease::Callbacks
  void OnLeaseSlot(const PoolKey& key) override;
  void OnLeaseConnection(PooledConn* c) override;
  void OnLeaseRefused(LeaseRefusal why, const std::string& server) override;
  // MysqlClientLogin::Callbacks (session_login.cc, with OfferedCaps and HandleChangeUser)
  const User* FindLoginUser(const std::string& name) override;
  bool Sha2Cached(const std::string& user) override;
  void NoteSha2(const std::string& user) override;
  bool LookupEnabled() override { return PassthroughOn(); }
  bool LookupUser(const std::string& name) override { return StartLookup(name); }
  void OnPassthroughLogin(std::string verifier, std::string proven_secret) override;
  void OnPassthroughAnswer(const health::AuthAnswer& a) override;
  void OnTlsRequested() override;
  void OnLoginAccepted() override;
  void OnLoginFailed(bool refused) override;

  uint64_t OfferedCaps() const;
  // session_greeting.cc
  void Greet();
  void SendGreetingFrom(const BackendGreeting& g);
  uint16_t SessionStatus() const;  // for the OK/EOF packets sluice writes itself
  void NoteStatusFlags(uint16_t flags);
  bool SessionPooled() const;  // the user's (or cluster's) pool_mode is session
  void LoseSessionBackend(MysqlBackend* b, const Status& st);
  // The login's OK is written: what was negotiated starts (compression). False: closed.
  bool LoginDone();
  void HandleChangeUser(const std::string& payload);
  // At the end of a callback into the login (none of its frames on the stack): an ended
  // login is freed, what COM_CHANGE_USER needs kept in resume_.
  void EndLoginIfDone();
  void ProcessClientInput();
  // *too_big: the command is over kMaxCommandBytes; *next_seq is then the sequence id the
  // refusal goes with (after the packet that crossed the bound).
  bool TakeClientCommand(std::string* payload, size_t* consumed, bool* too_big, uint8_t* next_seq);
  void Dispatch(std::string payload);
  void StartCommand();
  void RouteAndAcquire();
  void OnBackendAcquired(MysqlBackend* b);
  // session_sync.cc
  void RunNextSyncStep();
  void SendClientCommand();
  void HandleSyncResponse();
  void PlanCausalSteps(MysqlBackend* b);
  void NoteCausalRow(const mysql::PacketView& pkt);
  void EndCausalCheck();
  void NoteWritePosition(const mysql::ResponseTracker& t);
  void ApplyPrepareOk(std::string* first_packet_payload);
  void CloseBackendStmt(uint32_t backend_id);
  // Writes the COM_STMT_* command in flight to the backend with its statement id (and, when
  // send_types, the parameter types this connection has not seen).
  void WriteStmtCommand(uint32_t backend_id, bool send_types);
  // session_forward.cc
  void ForwardResponse();
  // ResultForwarder::Callbacks: each packet, and the few sluice takes (PREPARE_OK's
  // statement id, a malformed packet).
  ResultForwarder::Verdict OnFrame(const Frame& f, ResultFraming::Step step,
                                   std::span<const uint8_t> bytes) override;
  ResultForwarder::Next TakeFrame(const Frame& f, ResultFraming::Step step,
                                  std::span<const uint8_t> bytes) override;
  void AllowFrame(size_t total) override { backend_->AllowPacket(total); }
  void PauseBackendRead() override { backend_->PauseRead(); }
  // Bytes of the response went to the client: too late to run the command elsewhere.
  bool ResponseStarted() const { return cur_ && cur_->forwarder.started(); }
  // The sequence id after the last response packet the client got.
  uint8_t NextSeqAfterResponse() const {
    return cur_ ? static_cast<uint8_t>(cur_->framing.last_seq() + 1) : seq_;
  }
  void FinishCommand();
  void NoteStatementEffects(const mysql::ResponseTracker& t);
  void RecordStats(bool error);
  // session_mirror.cc: the shadow session's start and what the client's commands give it.
  ShadowSession* NewShadow(ShadowSession::Params p) override;
  // The command the source just answered (FinishCommand); WAS_INFILE: a LOAD DATA LOCAL.
  void MirrorCommand(bool was_infile);
  // A command sluice answered itself or that has no response (COM_STMT_CLOSE, ...).
  void MirrorLocal(const std::string& payload, uint32_t stmt_id, bool expects_response);

  // session_stmts.cc: the client's statements, counted per text on the worker.
  void AddStatement(uint32_t client_id, ClientStmt cs);
  void DropStatement(uint32_t client_id);
  // The client's statement id of a COM_STMT_* command; MariaDB's kLastPreparedStatement is
  // resolved to the statement prepared last, and rewritten so in PAYLOAD.
  std::optional<uint32_t> CommandStatementId(std::string* payload) const;
  void DropAllStatements();
  MysqlBackend* WritableBackend() const;

  void ReleaseBackend(bool reusable);
  // The connection that held the session's state is gone: so is the state.
  void ForgetPinnedState();
  void FailCommand(const mysql::ErrorInfo& e, const std::string& message);
  void RetryOrFail(const Status& st);
  bool HoldForPrimary(const std::string& server, const Status& st);
  void SendErr(const mysql::ErrorInfo& e, std::string_view message, uint8_t seq);
  void SendOk(uint8_t seq, uint64_t affected = 0);
  void Close() override;
  void FlushBackend() override {
    if (backend_) backend_->WriteNow();
  }
  bool AutocommitOff() const;
  bool HandleLocally(uint8_t code, const std::string& payload);
  // session_kill.cc
  void MapConnectionId(std::string* payload);
  void KillStatement(std::string_view text);
  void KillCommand(const std::string& payload);
  void KillId(uint32_t id, bool query_only);
  void KillBackendWork(const char* what);
  void PublishState() override;  // to the registry's slot, when it changed (FlushWrites)
  void ResetSessionState();

  Phase phase_ = Phase::kLogin;
  std::unique_ptr<GreetingProbe> probe_;  // the first client's look at the server's greeting
  bool greeted_ = false;
  uint16_t status_ = mysql::SERVER_STATUS_AUTOCOMMIT;          // session flags the server last sent
  uint16_t default_status_ = mysql::SERVER_STATUS_AUTOCOMMIT;  // the server's, at login
  bool session_mode_ = false;  // pool_mode = session: one backend connection for life
  bool bound_ = false;         // session mode: the client's connection is established
  bool compressed_ = false;    // CLIENT_COMPRESS: the client connection is filtered
  // The login while one runs (the first, or COM_CHANGE_USER's), freed once it ended
  // (EndLoginIfDone); resume_ keeps what a COM_CHANGE_USER needs of it.
  std::unique_ptr<MysqlClientLogin> login_;
  MysqlClientLogin::Resume resume_;
  uint64_t caps_ = 0;
  uint8_t charset_ = 45;
  std::string user_;
  bool infile_ = false;  // LOAD DATA LOCAL: the client is streaming a file to the server

  SessionState want_;  // what the client set
  MysqlBackend* backend_ = nullptr;
  MysqlBackend* connecting_ = nullptr;  // a new backend connection logging in for us
  MysqlPins pins_;
  bool lost_state_ = false;  // a transaction/pinned state was lost with its server

  InFlight* cur_ = nullptr;  // borrowed from the worker's BlockPool; see InFlight
  bool in_forward_ = false;  // ResultForwarder::Forward is on the stack: cur_ stays
  uint8_t seq_ = 0;          // next sequence id towards the client

  std::unordered_map<uint32_t, ClientStmt> stmts_;
  uint32_t next_stmt_id_ = 1;
  uint32_t last_prepared_id_ = 0;  // the client's id of the last prepare (0: it failed)
};

}  // namespace sluice::mysqlproxy
