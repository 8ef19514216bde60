// MysqlSession's KILL and CONNECTION_ID(): clients know sluice's connection ids (the
// handshake's thread id, proxy/session_registry.h), never a backend's. A KILL names one of
// them; it is checked against the registry (1094 unknown, 1095 not the caller's user) and
// carried out by the worker that owns the target session (Worker::Post), which sends
// KILL [QUERY] <backend thread id> to the server from a side connection (kill_conn.h).
#include "common/log.h"
#include "protocol/mysql/constants.h"
#include "proxy/mysql/kill_conn.h"
#include "proxy/mysql/session.h"
#include "proxy/shared.h"
#include "proxy/worker.h"
#include "routing/kill_statement.h"

namespace sluice::mysqlproxy {
namespace {
constexpr int kKillTimeoutMs = 5000;  // the side connection's whole life
}  // namespace

void MysqlSession::MapConnectionId(std::string* payload) {
  if (payload->size() < 2) return;
  std::string_view text(payload->data() + 1, payload->size() - 1);
  if (auto mapped = routing::ReplaceConnectionId(text, conn_id()))
    *payload = payload->substr(0, 1) + *mapped;
}

void MysqlSession::KillStatement(std::string_view text) {
  auto k = routing::ParseKill(text);
  if (!k || !k->unsupported.empty()) {
    SendErr(mysql::ER_NOT_SUPPORTED_YET,
            fmt::format(fmt::runtime(mysql::ER_NOT_SUPPORTED_YET.message),
                        k ? k->unsupported : std::string("this KILL through sluice")),
            1);
    return;
  }
  KillId(k->id, k->query_only);
}

void MysqlSession::KillCommand(const std::string& payload) {
  // COM_PROCESS_KILL: 4 bytes, the connection id (it ends the connection).
  uint32_t id = 0;
  for (size_t i = 0; i < 4 && i + 1 < payload.size(); ++i)
    id |= uint32_t{static_cast<uint8_t>(payload[i + 1])} << (8 * i);
  KillId(id, false);
}

void MysqlSession::KillId(uint32_t id, bool query_only) {
  SessionRegistry& reg = worker_->shared()->sessions;
  auto target = reg.Find(id);
  if (!target || target->pgsql) {
    reg.kills().refused.fetch_add(1, std::memory_order_relaxed);
    SendErr(mysql::ER_NO_SUCH_THREAD,
            fmt::format(fmt::runtime(mysql::ER_NO_SUCH_THREAD.message), id), 1);
    return;
  }
  // The server lets a user kill its own connections (more takes SUPER / CONNECTION ADMIN,
  // which sluice's users do not carry): the same user of the same cluster.
  if (target->cluster_index != cluster_index_ || target->user != user_) {
    reg.kills().refused.fetch_add(1, std::memory_order_relaxed);
    SendErr(mysql::ER_KILL_DENIED_ERROR,
            fmt::format(fmt::runtime(mysql::ER_KILL_DENIED_ERROR.message), id), 1);
    return;
  }
  (query_only ? reg.kills().query : reg.kills().connection).fetch_add(1, std::memory_order_relaxed);
  if (id == conn_id()) {
    // As the server: KILL QUERY of itself interrupts the KILL (1317); KILL of itself ends
    // the connection with 1927.
    if (query_only) {
      SendErr(mysql::ER_QUERY_INTERRUPTED, mysql::ER_QUERY_INTERRUPTED.message, 1);
    } else {
      SendErr(mysql::ER_CONNECTION_KILLED, mysql::ER_CONNECTION_KILLED.message, 1);
      Close();
    }
    return;
  }
  // The owner carries it out on its own thread; the caller's OK does not wait for it.
  int w = reg.WorkerOf(id);
  const std::vector<Worker*>& workers = worker_->shared()->workers;
  Worker* owner = w >= 0 && static_cast<size_t>(w) < workers.size() ? workers[w] : worker_;
  owner->Post([id, query_only](Worker* o) { o->KillLocal(id, query_only); });
  SendOk(1);
}

void MysqlSession::KillBackendWork(const char* what) {
  if (!backend_ || (phase_ != Phase::kForwarding && phase_ != Phase::kSyncing)) return;
  const User* u = ClusterUser(user_);
  if (!u) return;
  BackendTarget t;
  t.host = backend_->host();
  t.address = backend_->ip();
  t.port = backend_->port();
  SetCredentials(&t, *u);  // a passthrough user's too (its proven secret)
  t.connect_timeout_ms = kKillTimeoutMs;
  t.tls = backend_->tls_target();
  SendKill(worker_, t, backend_->server(), fmt::format("{} {}", what, backend_->thread_id()),
           kKillTimeoutMs);
}

void MysqlSession::Kill(bool query_only) {
  if (phase_ == Phase::kClosed) return;
  if (query_only) {
    if (phase_ == Phase::kAcquiring) {
      // Not on a server yet (waiting for a connection or for the writer): it ends here.
      CancelLeaseWait();
      lease_.EndHold();
      worker_->Unhold(this);
      FailCommand(mysql::ER_QUERY_INTERRUPTED, mysql::ER_QUERY_INTERRUPTED.message);
      FlushWrites();
      return;
    }
    KillBackendWork("KILL QUERY");  // the server answers the statement with 1317
    return;
  }
  // The session ends; a statement on a server ends with it (the server's connection too:
  // closing the socket alone would let it run on). The client sees its connection lost,
  // as a server's victim does (no error packet).
  KillBackendWork("KILL");
  Close();
}

void MysqlSession::PublishState() {
  if (phase_ == Phase::kClosed) return;
  SessionPhase p = SessionPhase::kLogin;
  if (phase_ == Phase::kIdle)
    p = pins_.in_txn ? SessionPhase::kIdleInTxn : SessionPhase::kIdle;
  else if (phase_ == Phase::kAcquiring)
    p = SessionPhase::kWaiting;
  else if (phase_ == Phase::kSyncing || phase_ == Phase::kForwarding)
    p = SessionPhase::kActive;
  if (BackendChanged(backend_))
    NoteBackend(backend_ ? backend_->server() : std::string_view(),
                backend_ ? backend_->thread_id() : 0);
  bool new_command = false;
  if (PhaseChanged(p, cur_ ? &cur_->cmd.start_us : nullptr, &new_command)) {
    const std::string* digest = nullptr;
    if (new_command) digest = cur_->cmd.stmt ? &cur_->cmd.stmt->digest : &cur_->cmd.digest;
    // The schema is the login's until the first statement, then the statement's.
    NotePhase(p, digest, new_command || p == SessionPhase::kIdle ? &want_.schema : nullptr);
  }
  // The end of a callback: an idle session gives its command's state back.
  if ((phase_ == Phase::kIdle || phase_ == Phase::kLogin) && !in_forward_) ReleaseInFlight();
}

}  // namespace sluice::mysqlproxy
