// SessionCore: what every client session is made of, whatever its protocol: the client
// connection (proxy/client_conn.h), the backend lease (proxy/backend_lease.h), its timeouts
// and the unauthenticated bound (proxy/janitor.h), the cluster's client count, the worker's
// registration, a close that deletes the session from the event loop (callers up the stack
// may still look at it), and the mirror's shadow session when the session is mirrored
// (proxy/shadow_session.h). MysqlSession and PgSession build on it.
#pragma once

#include <event2/bufferevent.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/stats.h"
#include "proxy/backend_lease.h"
#include "proxy/causal_reads.h"
#include "proxy/client_conn.h"
#include "proxy/client_session.h"
#include "proxy/janitor.h"
#include "proxy/limits.h"
#include "proxy/passthrough_wait.h"
#include "proxy/session_registry.h"
#include "proxy/shadow_session.h"
#include "routing/runtime.h"

namespace sluice {

struct BackendTarget;

class SessionCore : public ClientSession,
                    protected ClientConn::Callbacks,
                    protected BackendLease::Callbacks,
                    private SessionTimer::Callbacks {
 protected:
  // Takes client (an accepted socket's bufferevent, or an in-memory one in tests) whose
  // peer is client_addr; registers with the worker.
  SessionCore(Worker* w, size_t cluster_index, bufferevent* client, std::string client_addr,
              size_t client_read_high_water);
  ~SessionCore() override;

  // The protocol's close: it lets go of its backend, then calls FinishClose().
  virtual void Close() = 0;
  // The client closed or its connection broke.
  void OnClientGone() override { Close(); }

  // Until Authenticated(), the connection is under the login bounds: client_login_timeout_ms
  // from accept, client_preauth_bytes of read-ahead (preauth_bytes()), and the worker's
  // PreAuthQueue under max_unauthenticated_connections (a flood of sockets that never log in
  // closes its oldest); none of it counts in max_client_connections.
  //
  // The client proved its password: the login bounds end, the protocol's read-ahead applies
  // and the client counts in its cluster. False when that makes it one over the cluster's
  // max_client_connections (counted as refused; the protocol answers and closes). Again
  // after COM_CHANGE_USER: true, nothing changes.
  bool Authenticated();
  // The bytes this client may send before it has logged in (client_preauth_bytes).
  size_t preauth_bytes() const { return preauth_bytes_; }
  bool authenticated() const { return authenticated_; }
  // The cluster's logged-in clients are at max_client_connections already: a new connection
  // may be refused before its login.
  bool ClientsAtLimit() const;
  // The statement bounds towards the backend (proxy/janitor.h). StartQueryClock: a statement
  // (or its state sync) went to a backend, query_timeout_ms from now unless already
  // running; StopQueryClock: its response is complete. StartIdleInTransactionClock: the
  // client is idle inside a transaction (idle_in_transaction_timeout_ms). 0: off.
  void StartQueryClock();
  void StopQueryClock() { timer_.Disarm(TimeoutReason::kQuery); }
  void StartIdleInTransactionClock();
  // The protocol's answer to kQuery or kIdleInTransaction: the protocol's own error, the
  // backend connection discarded; counted by the core before the call. kLoginAnswer
  // (PostgreSQL's login, not counted): the login goes on without its backend.
  virtual void OnStatementTimeout(TimeoutReason why) = 0;
  // A malformed client message, counted per protocol (stats_global, /metrics).
  void CountProtocolError();
  bool closed() const { return closed_; }
  // The protocol's Close() lets go of its backend first, then calls this: the client count,
  // the last bytes to the client, the worker, and the delete from the loop.
  void FinishClose();

  const Cluster& cluster() const;
  // The server of the current snapshot's cluster called NAME (a PoolKey's server), or
  // nullptr when a reload took it out: where a new backend connection logs in.
  const Server* CurrentServer(const std::string& name) const;
  // The user of this cluster called name, or nullptr: a configured one, else the passthrough
  // user this session's login proved.
  const User* ClusterUser(const std::string& name) const;
  // Passthrough authentication (PassthroughWait): whether this cluster looks unknown users
  // up; StartLookup posts the lookup of USER, whose answer comes to OnPassthroughAnswer on
  // this thread (false: too many lookups wait; the login refuses as too busy); the proven
  // user, once the login checked the client's proof, is kept for ClusterUser.
  bool PassthroughOn() const;
  bool StartLookup(const std::string& user);
  virtual void OnPassthroughAnswer(const health::AuthAnswer& a) = 0;
  void SetPassthroughUser(User u) { passthrough_user_ = std::make_unique<User>(std::move(u)); }
  // Takes one of u's max_connections for this session, from login to close (a second call,
  // after COM_CHANGE_USER, gives the first back); false when the user has them all (*held:
  // the count it holds), counted as a refused connection.
  bool AdmitUser(const User& u, int64_t* held);
  bool user_admitted() const { return user_slot_.held(); }
  // This cluster's TLS context, or nullptr (no certificate: no TLS).
  SSL_CTX* tls_context() const;
  // A statement's record as far as the core knows it: cluster, server, hostgroup, user,
  // schema, and the latency since start_us; the protocol adds command, digest, rows, error.
  StatementRecord NewRecord(const std::string& server, std::string_view host, uint16_t port,
                            std::string_view user, std::string_view schema, int64_t start_us) const;
  // A wait for a slot or a connection ends with the close.
  void CancelLeaseWait() { lease_.CancelWait(); }
  // The connection id sluice gave this client (proxy/session_registry.h; 0: none, refused).
  uint32_t conn_id() const { return conn_id_; }
  // Called once at the end of every callback: the process list (PublishState), then each
  // connection gets one write per loop turn (proxy/socket_io.h).
  void FlushWrites();
  // The protocol's parts of it: what the process list shows, and the backend's write.
  virtual void PublishState() = 0;
  virtual void FlushBackend() = 0;
  // What the process list shows (session_registry.h); no lock, a few relaxed stores.
  void NotePhase(SessionPhase p, const std::string* digest = nullptr,
                 const std::string* schema = nullptr);
  void NoteBackend(std::string_view server, uint32_t thread);
  // From PublishState, what changed since it last ran. BackendChanged: the connection b
  // (nullptr: none) is not the one shown (the protocol then calls NoteBackend).
  // PhaseChanged: phase p, or the statement running since *start_us (nullptr: none
  // running), is not the one shown; *new_statement says which (the protocol then calls
  // NotePhase, with the statement's digest when it is new).
  bool BackendChanged(const void* b);
  bool PhaseChanged(SessionPhase p, const int64_t* start_us, bool* new_statement);

  // The mirror. At login the protocol calls MaybeMirror(): when the cluster is a mirror's
  // source, the mirror is on and this session's sample falls under its exposure, the
  // protocol's NewShadow() starts the shadow session. While shadow() is non-null each
  // statement the source answered is pushed to it; a cut shadow reads as null. The shadow
  // outlives the client to replay what is still queued (FinishClose hands it over).
  void MaybeMirror();
  virtual ShadowSession* NewShadow(ShadowSession::Params p) = 0;
  // The shadow's login: the backend credentials of the session's user, false when the
  // user left the snapshot (then no shadow starts).
  bool ShadowCredentials(const std::string& user, BackendTarget* login) const;
  ShadowSession* shadow() const { return shadow_ && !shadow_->cut() ? shadow_ : nullptr; }

  Worker* worker_;
  size_t cluster_index_;
  SessionTimer timer_;
  std::string client_addr_;
  ClientConn client_;
  BackendLease lease_;
  bool draining_ = false;
  int64_t last_write_ms_ = 0;  // for the read-your-writes window
  // Causal reads by position (Cluster::consistency), made on first use: a session of a
  // cluster without causal reads never holds one (docs/performance.md, idle clients).
  CausalReads& causal();
  // The cluster's board of acknowledged write positions, shared by all workers.
  routing::CausalBoard* causal_board() const;
  // Causal reads, both protocols: fills req's causal fields for the next statement (failed:
  // a replica lacked the target for this statement already).
  void PrepareCausal(bool failed, RouteRequest* req);
  // A causal read routed to replica `server` (RouteResult::causal_check): whether it still
  // needs its check there. Not when that replica showed the target before, nor when the
  // monitor's last read of its position covers it; both counted.
  bool NeedsCausalCheck(int server);

 private:
  void OnSessionTimeout(TimeoutReason why) override;
  void LeavePreAuth();

  size_t read_high_water_;  // the protocol's read-ahead once logged in
  PreAuthQueue::Handle preauth_;
  bool in_preauth_ = false;
  size_t preauth_bytes_ = 16384;  // client_preauth_bytes when the connection was accepted
  bool authenticated_ = false;
  bool counted_ = false;
  bool closed_ = false;
  UserSlot user_slot_;           // one of the user's max_connections, from login to close
  SessionSlot* slot_ = nullptr;  // this session's entry in the process-wide registry
  uint32_t conn_id_ = 0;
  ShadowSession* shadow_ = nullptr;  // owns itself; see MaybeMirror()
  // What the registry slot shows (BackendChanged, PhaseChanged).
  SessionPhase shown_phase_ = SessionPhase::kLogin;
  const void* shown_backend_ = nullptr;
  int64_t shown_start_us_ = 0;
  PassthroughWait lookup_;
  // Held only by a session whose login went through passthrough authentication, and
  // the causal state only once the cluster's consistency asked for it: both are large and
  // most idle sessions need neither.
  std::unique_ptr<User> passthrough_user_;
  std::unique_ptr<CausalReads> causal_;
};

// "host:port" of the client on fd (port 0 when the kernel cannot say: in-memory pairs).
std::string PeerHostPort(evutil_socket_t fd, const std::string& host);

// A socket bufferevent for an accepted client, with its peer address.
bufferevent* ClientBufferevent(Worker* w, evutil_socket_t fd, std::string* peer);

// Starts a session of type S on an accepted client socket; it deletes itself when closed.
template <class S>
void StartSession(Worker* w, size_t cluster_index, evutil_socket_t fd) {
  std::string peer;
  bufferevent* client = ClientBufferevent(w, fd, &peer);
  auto* s = new S(w, cluster_index, client, std::move(peer));
  s->Start();
}

}  // namespace sluice
