#include "proxy/backend_conn.h"

#include "common/clock.h"
#include "proxy/shared.h"
#include "proxy/worker.h"
#include "routing/runtime.h"

namespace sluice {

void SetTarget(BackendTarget* t, const Server& server, const User& u, int connect_timeout_ms) {
  SetServer(t, server, connect_timeout_ms);
  SetCredentials(t, u);
}

void SetCredentials(BackendTarget* t, const User& u) {
  t->user = u.backend_user.empty() ? u.name : u.backend_user;
  t->password = u.backend_password.empty() ? u.password : u.backend_password;
}

void SetServer(BackendTarget* t, const Server& server, int connect_timeout_ms) {
  t->host = server.host;
  t->address = server.address;
  t->port = server.port;
  t->connect_timeout_ms = connect_timeout_ms;
}

void SetTargetTls(BackendTarget* t, const Worker& w, const Cluster& c, size_t cluster_index) {
  const std::vector<SSL_CTX*>& ctxs = w.shared()->backend_tls;
  t->tls.mode = c.backend_tls.mode;
  t->tls.ctx = cluster_index < ctxs.size() ? ctxs[cluster_index] : nullptr;
  t->tls.server_name = c.backend_tls.server_name;
}

void ForgetPooled(Worker* w, PooledConn* conn) {
  // Idle in the pool, resetting for it, or a login whose session went away.
  w->pools().Forget(conn);
  conn->Destroy();
}

void PoolAfterLogin(Worker* w, PooledConn* conn) {
  w->pools().PutIdle(conn);
}

BackendSlot* TrackBackend(Worker* w, bool pgsql, const PoolKey& key, std::string_view database) {
  return w->shared()->backends.Register(w->index(), pgsql, key.server, key.user, database,
                                        MonotonicMs());
}

void UntrackBackend(Worker* w, BackendSlot* slot) {
  if (slot) w->shared()->backends.Unregister(w->index(), slot);
}

void MarkBackend(BackendSlot* slot, BackendPhase p) {
  slot->SetPhase(p, MonotonicMs());
}

}  // namespace sluice
