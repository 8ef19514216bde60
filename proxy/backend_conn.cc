#include "proxy/backend_conn.h"

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

void ForgetPooled(Worker* w, PooledConn* conn) {
  // Idle in the pool, resetting for it, or a login whose session went away.
  w->pools().Forget(conn);
  conn->Destroy();
}

}  // namespace sluice
