// PgSession: one PostgreSQL client connection. It answers the startup and authenticates the
// client with SCRAM-SHA-256, then for each batch (a Query, or extended messages up to Sync)
// picks a backend (read/write split, transaction stickiness, pins), brings its settings in
// line, forwards, and streams the response back until ReadyForQuery.
#pragma once

#include <event2/bufferevent.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/fifo.h"
#include "protocol/pgsql/scram.h"
#include "proxy/client_session.h"
#include "proxy/limits.h"
#include "proxy/pgsql/backend.h"
#include "proxy/pgsql/cancel.h"
#include "proxy/pgsql/wire.h"
#include "proxy/router.h"

namespace sluice::pgproxy {

// A statement the client prepared under a name; backends know it as sluice_name.
struct ClientStmt {
  std::string text;
  std::vector<uint32_t> param_types;
  std::string sluice_name;
  StatementInfo info;
  std::string digest;  // normalised text for stats_query_digest, computed once
  uint64_t digest_hash = 0;
};

// What the statistics keep of one segment (a Query, or the messages up to a Sync) between
// sending it and its ReadyForQuery: its first statement names it.
struct SegmentStat {
  std::string command;  // first keyword: SELECT, INSERT, …
  std::string digest;
  uint64_t digest_hash = 0;
  int64_t start_us = 0;
  bool named = false;
};

class PgSession final : public ClientSession, public PgBackend::Owner {
 public:
  PgSession(Worker* w, size_t cluster_index, evutil_socket_t fd);
  ~PgSession() override;
  void Start();

  void Drain() override;
  void Abort() override;
  void OnServerGone(const std::string& server) override;
  void RetryHeld(bool timed_out) override;
  void StartTls();
  void HandleMd5();

  void OnBackendReady(PgBackend* b) override;
  void OnBackendReadable(PgBackend* b) override;
  void OnBackendWritable(PgBackend* b) override;
  void OnBackendError(PgBackend* b, const Status& st) override;

 private:
  enum class Phase {
    kStartup,       // waiting for SSLRequest / StartupMessage / CancelRequest
    kSaslInitial,   // AuthenticationSASL sent
    kSaslResponse,  // AuthenticationSASLContinue sent
    kMd5,           // AuthenticationMD5Password sent
    kLoginBackend,  // authenticated; a backend login checks the database and gives settings
    kActive,        // logged in: batches flow
    kClosed,
  };
  // One reply sluice expects for a Parse or Close it sent; injected ones are swallowed.
  struct Expect {
    bool swallow = false;
    std::string name;  // a Parse's statement name, forgotten if the Parse fails
    uint64_t segment = 0;
  };

  static void OnClientRead(bufferevent*, void* arg);
  static void OnClientWrite(bufferevent*, void* arg);
  static void OnClientEvent(bufferevent*, short what, void* arg);

  void HandleStartup();
  void HandleCancel(int32_t pid, uint32_t secret);
  void HandleSasl();
  void BeginLoginBackend();
  void HoldUntilWritesResume(const Cluster& cluster);
  void FinishLogin();
  void ProcessClientInput();
  bool StartBatch(char type, std::span<const uint8_t> payload);
  void AcquireBackend(int server_index);
  void OnBackendAcquired(PgBackend* b);
  bool StartParamSync();
  void HandleSyncResponse();
  void ForwardClientMessage(char type, std::span<const uint8_t> payload, size_t total);
  bool EnsurePrepared(const ClientStmt& cs, std::string* out);
  void ForwardResponse();
  StatementInfo Classify(std::string_view text);
  void NoteStatement(const StatementInfo& info, std::string_view text, const ClientStmt* cs);
  void EndSegment();
  void RecordSegment();
  bool ForwardMessages();
  bool HandleInspected(char type, std::span<const uint8_t> payload, size_t total);
  void OnReadyForQuery(char status);
  void DropSegmentExpects(uint64_t segment);
  void ReleaseBackend(bool clean);
  void FailBatch(std::string_view sqlstate, std::string_view message);
  void FailLogin(std::string_view sqlstate, std::string_view message);
  void SendError(std::string_view severity, std::string_view sqlstate, std::string_view message);
  void Close();
  void FlushWrites();
  bool TransactionMode() const { return transaction_mode_; }

  Worker* worker_;
  size_t cluster_index_;
  bufferevent* client_ = nullptr;
  Phase phase_ = Phase::kStartup;
  bool counted_ = false;
  UserSlot user_slot_;  // one of the user's max_connections, from login to close
  bool draining_ = false;
  bool transaction_mode_ = true;
  std::string client_addr_;
  std::string user_;
  std::string database_;
  // Settings the client asked for at startup or since: lower-case name -> value.
  std::map<std::string, std::string> want_;
  std::optional<pgsql::ScramServerSession> scram_;
  bool user_known_ = false;

  int32_t pid_ = 0;
  uint32_t secret_ = 0;
  std::shared_ptr<CancelSlot> cancel_slot_;

  PgBackend* backend_ = nullptr;
  PgBackend* connecting_ = nullptr;  // opened for this session, login not done yet
  int connect_attempts_ = 0;
  int backend_server_ = -1;
  uint64_t wait_ticket_ = 0;
  bool acquiring_ = false;
  bool tls_ = false;  // the client upgraded with SSLRequest
  std::array<uint8_t, 4> md5_salt_{};
  int64_t hold_deadline_ms_ = 0;  // while a batch waits for writes to resume
  bool syncing_ = false;
  bool sync_failed_ = false;
  std::string sync_error_;
  std::vector<std::pair<std::string, std::string>> sync_sets_;
  bool pinned_ = false;
  char txn_status_ = 'I';
  int outstanding_ = 0;        // Syncs / Queries / FunctionCalls forwarded, awaiting 'Z'
  uint64_t send_segment_ = 0;  // counts Syncs and Queries sent
  uint64_t resp_segment_ = 0;  // counts 'Z's received
  bool segment_error_ = false;
  uint32_t pending_pins_ = 0;
  // The last text Classify() read and its result: a batch's first statement is classified
  // to route the batch and again when it is forwarded; the second time is a string compare.
  std::string routed_text_;
  StatementInfo routed_info_;
  bool pending_write_ = false;
  bool skip_to_sync_ = false;      // after a failed batch: drop client messages to Sync/Query
  size_t passthrough_left_ = 0;    // bytes of a streamed message still to move
  bool response_started_ = false;  // bytes of the current response reached the client
  int64_t last_write_ms_ = 0;
  std::string backend_fatal_;        // the server's FATAL message, reported with 08006
  SegmentStat open_segment_;         // the segment being sent
  Fifo<SegmentStat> sent_segments_;  // sent, awaiting 'Z', oldest first
  Fifo<Expect> parse_expects_;
  Fifo<Expect> close_expects_;
  std::unordered_map<std::string, ClientStmt> stmts_;
};

}  // namespace sluice::pgproxy
