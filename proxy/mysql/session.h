// MysqlSession: one MySQL client connection. It authenticates the client against sluice's
// users, then for each command picks a backend (read/write split, rules, pinning), brings
// the pooled connection's session state in line, forwards, and streams the response back.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "protocol/mysql/constants.h"
#include "protocol/mysql/response.h"
#include "proxy/client_session.h"
#include "proxy/limits.h"
#include "proxy/mysql/backend.h"
#include "proxy/mysql/session_state.h"
#include "proxy/router.h"

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

class MysqlSession final : public ClientSession, public MysqlBackend::Owner {
 public:
  MysqlSession(Worker* w, size_t cluster_index, evutil_socket_t fd);
  ~MysqlSession() override;
  void Start();

  void Drain() override;
  void Abort() override;
  void OnServerGone(const std::string& server) override;
  void RetryHeld(bool timed_out) override;

  void OnBackendReady(MysqlBackend* b) override;
  void OnBackendReadable(MysqlBackend* b) override;
  void OnBackendError(MysqlBackend* b, const Status& st) override;

 private:
  enum class Phase {
    kHandshake,   // waiting for HandshakeResponse
    kAuthSwitch,  // waiting for the auth switch response
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
    bool internal_check = false;  // the post-login schema check, no client command
    int attempts = 0;             // backend attempts so far (retries before any byte)
    bool response_started = false;
    uint8_t last_seq = 0;  // of the last response packet forwarded to the client
    int64_t start_us = 0;
    std::string digest;  // COM_QUERY: digest of the text (prepared: in ClientStmt)
    uint64_t digest_hash = 0;
  };

  static void OnClientRead(bufferevent*, void* arg);
  static void OnClientWrite(bufferevent*, void* arg);
  static void OnClientEvent(bufferevent*, short what, void* arg);

  uint64_t OfferedCaps() const;
  void SendInitialHandshake();
  void StartTls();
  void HandleHandshakeResponse();
  void HandleAuthSwitchResponse();
  void BeginAuth(const mysql::HandshakeResponse& resp);
  void HandleChangeUser(const std::string& payload);
  void SwitchAuthPlugin(const std::string& plugin);
  void Authenticate(const std::string& plugin, std::string_view token);
  void DenyLogin(bool used_password);
  void FinishLogin();
  void ProcessClientInput();
  bool TakeClientCommand(std::string* payload, size_t* consumed, bool* too_big);
  void Dispatch(std::string payload);
  void StartCommand();
  void RouteAndAcquire();
  void AcquireBackend(int server_index);
  void OpenBackend(const PoolKey& key);
  void OnBackendAcquired(MysqlBackend* b);
  void RunNextSyncStep();
  void SendClientCommand();
  void HandleSyncResponse();
  void ForwardResponse();
  void FinishCommand();
  void ReleaseBackend(bool reusable);
  void FailCommand(const mysql::ErrorInfo& e, const std::string& message);
  void RetryOrFail(const Status& st);
  void SendErr(const mysql::ErrorInfo& e, std::string_view message, uint8_t seq);
  void SendOk(uint8_t seq, uint64_t affected = 0);
  void Close();
  void FlushWrites();
  bool InTransaction() const;
  bool AutocommitOff() const;
  void NoteStatementEffects(const mysql::ResponseTracker& t);
  bool HandleLocally(uint8_t code, const std::string& payload);
  void RefuseKill();
  void EndOutstanding();
  // The login's user in this session's cluster (users are keyed by cluster and name).
  const User* FindUserOfCluster();
  void ApplyPrepareOk(std::string* first_packet_payload);
  void CloseBackendStmt(uint32_t backend_id);
  std::string RewriteExecute(const std::string& payload, uint32_t backend_id, bool send_types);
  void ResetSessionState();
  void RecordStats(bool error);

  Worker* worker_;
  size_t cluster_index_;
  bufferevent* client_ = nullptr;
  Phase phase_ = Phase::kHandshake;
  uint32_t conn_id_ = 0;
  std::string scramble_;
  std::string client_addr_;
  uint64_t caps_ = 0;
  uint8_t charset_ = 45;
  std::string user_;
  uint8_t login_seq_ = 0;
  bool counted_ = false;     // counted in the cluster's client connections
  UserSlot user_slot_;       // one of the user's max_connections, from login to close
  bool tls_ = false;         // the client upgraded to TLS
  bool full_auth_ = false;   // caching_sha2 full authentication: next packet is the password
  bool switched_ = false;    // an auth switch was sent; the next packet is its answer
  std::string auth_plugin_;  // the plugin of the pending auth switch
  bool infile_ = false;      // LOAD DATA LOCAL: the client is streaming a file to the server
  bool draining_ = false;

  SessionState want_;  // what the client set
  MysqlBackend* backend_ = nullptr;
  MysqlBackend* connecting_ = nullptr;  // a new backend connection logging in for us
  int backend_server_ = -1;             // index into the cluster's servers of backend_
  int outstanding_server_ = -1;         // the server Router::Started() counted this statement on
  uint64_t wait_ticket_ = 0;
  bool pinned_ = false;           // session state lives on backend_ (locks, temp tables, …)
  uint32_t pins_ = 0;             // why: routing::Pin bits still in force
  bool long_data_ = false;        // SEND_LONG_DATA sent; pinned until the EXECUTE
  uint32_t cursor_stmt_ = 0;      // client statement with an open cursor (pins until done)
  bool hold_previous_ = false;    // keep backend_ one statement for LAST_INSERT_ID()
  bool in_txn_ = false;           // last status flags said IN_TRANS
  bool lost_state_ = false;       // a transaction/pinned state was lost with its server
  int64_t last_write_ms_ = 0;     // for the read-your-writes window
  int64_t hold_deadline_ms_ = 0;  // while a statement waits for writes to resume

  Command cmd_;
  std::vector<SyncStep> sync_steps_;
  size_t sync_index_ = 0;
  bool sync_prepare_ = false;  // the current internal step is a COM_STMT_PREPARE
  size_t sync_packets_ = 0;    // packets of the current internal step's response
  mysql::ResponseTracker tracker_;
  uint8_t seq_ = 0;  // next sequence id towards the client

  std::unordered_map<uint32_t, ClientStmt> stmts_;
  uint32_t next_stmt_id_ = 1;
};

}  // namespace sluice::mysqlproxy
