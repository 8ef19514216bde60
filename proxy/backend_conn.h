// BackendConn<Self>: the part of every protocol's backend connection that is not the
// protocol: its socket (proxy/backend_socket.h), its owner (the session holding it, or none
// while it is pooled or logging in for a session that left), and how it fails: to its owner,
// or out of the pool. MysqlBackend and PgBackend add their login and state.
#pragma once

#include <string>

#include "common/status.h"
#include "proxy/backend_pool.h"
#include "proxy/backend_registry.h"
#include "proxy/backend_socket.h"
#include "proxy/backend_tls.h"

namespace sluice {

class Worker;
struct Cluster;
struct Server;
struct User;

// Where and as whom a backend connection logs in (each protocol's login adds its part).
struct BackendTarget {
  std::string host;     // as configured (statistics name the server by it)
  std::string address;  // Server::address: the numeric address to connect to, or ""
  uint16_t port = 0;
  std::string user;
  std::string password;
  // A passthrough user's login (User::proven_secret) in place of a password: MySQL SHA1(pw),
  // PostgreSQL the SCRAM ClientKey and ServerKey or the stored "md5…" hash. "": none.
  std::string proven_secret;
  int connect_timeout_ms = 3000;
  BackendTlsTarget tls;  // the cluster's backend_tls (disable unless SetTargetTls)
};

// The target for server as user u (its backend credentials, if it has them).
void SetTarget(BackendTarget* t, const Server& server, const User& u, int connect_timeout_ms);
// Only the login: u's backend credentials, else its own.
void SetCredentials(BackendTarget* t, const User& u);
// Only the server: its address and the connect bound.
void SetServer(BackendTarget* t, const Server& server, int connect_timeout_ms);
// The backend TLS of the cluster at cluster_index (its context from ProxyShared).
void SetTargetTls(BackendTarget* t, const Worker& w, const Cluster& c, size_t cluster_index);

// An unowned connection failed: it leaves the pool (and its slot) and is destroyed.
void ForgetPooled(Worker* w, PooledConn* conn);
// A logged-in connection whose session left during the login goes to the pool.
void PoolAfterLogin(Worker* w, PooledConn* conn);

// The connection's entry in ProxyShared::backends (SHOW SERVERS), or nullptr when the
// registry is full; and its changes, stamped with the monotonic clock.
BackendSlot* TrackBackend(Worker* w, bool pgsql, const PoolKey& key, std::string_view database);
void UntrackBackend(Worker* w, BackendSlot* slot);
void MarkBackend(BackendSlot* slot, BackendPhase p);

template <class Self>
class BackendConn : public PooledConn, protected BackendSocket::Callbacks {
 public:
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual void OnBackendReady(Self* b) = 0;
    virtual void OnBackendReadable(Self* b) = 0;
    // The output towards the server fell below the mark WatchWrites() set.
    virtual void OnBackendWritable(Self*) {}
    // Login failed, or the connection broke. The owner must Destroy() or forget it.
    virtual void OnBackendError(Self* b, const Status& st) = 0;
  };

  ~BackendConn() override { UntrackBackend(worker_, slot_); }
  void Destroy() override { delete this; }
  // nullptr while idle in the pool: then any byte or EOF from the server closes it.
  void SetOwner(Owner* owner) {
    owner_ = owner;
    if (slot_ && slot_->phase() != BackendPhase::kNew)
      MarkBackend(slot_, owner ? BackendPhase::kActive : BackendPhase::kIdle);
  }
  const std::string& server() const { return key().server; }
  // The numeric address connected to (what a PostgreSQL cancel request goes to).
  const std::string& ip() const { return socket_.ip(); }
  // The connection failed as a connection (refused, timed out, reset or closed by the
  // server), not by the server's answer (a refused login): the server may be down.
  bool transport_failed() const { return socket_.failed(); }
  evbuffer* input() const { return socket_.input(); }
  evbuffer* output() const { return socket_.output(); }
  // Sends the output now (proxy/socket_io.h).
  void WriteNow() { socket_.WriteNow(); }
  void PauseRead() { socket_.PauseRead(); }
  void ResumeRead() { socket_.ResumeRead(); }
  // Asks for Owner::OnBackendWritable once the output drains below low_water.
  void WatchWrites(size_t low_water) { socket_.WatchWrites(low_water); }

 protected:
  BackendConn(Worker* w, PoolKey key, Owner* owner, bool pgsql, std::string_view database)
      : PooledConn(std::move(key)),
        worker_(w),
        owner_(owner),
        slot_(TrackBackend(w, pgsql, this->key(), database)) {}
  // The login is done (REMOTE_ID: the server's thread id or pid): no more timeouts, the
  // session bounds its own waits; to the owner, or to the pool if its session left.
  void LoginDone(uint32_t remote_id) {
    socket_.ClearTimeouts();
    if (slot_) {
      slot_->SetReady(remote_id, socket_.tls());
      MarkBackend(slot_, owner_ ? BackendPhase::kActive : BackendPhase::kIdle);
    }
    if (owner_)
      owner_->OnBackendReady(static_cast<Self*>(this));
    else
      PoolAfterLogin(worker_, this);
  }
  void OnSocketWritable() override {
    if (owner_) owner_->OnBackendWritable(static_cast<Self*>(this));
  }
  // Reading and writing stop; the owner hears why, or an unowned connection goes.
  void FailTo(const Status& st) {
    socket_.Disable();
    if (owner_) {
      owner_->OnBackendError(static_cast<Self*>(this), st);
      return;
    }
    ForgetPooled(worker_, this);
  }

  Worker* worker_;
  Owner* owner_;
  BackendSlot* slot_;
  BackendSocket socket_{this};
};

}  // namespace sluice
