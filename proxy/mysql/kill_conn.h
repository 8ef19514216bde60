// MysqlKillConn: a side connection that logs in to a MySQL/MariaDB server, runs one KILL
// [QUERY] <server thread id> and goes away: how a KILL a client gave sluice reaches the
// backend connection running that client's statement (as the PostgreSQL cancel request
// does, proxy/pgsql/cancel.h). Nonblocking on the worker's loop, bounded by a deadline.
#pragma once

#include <cstdint>
#include <string>

#include "proxy/backend_conn.h"

namespace sluice {
class Worker;
}

namespace sluice::mysqlproxy {

// Fire and forget: connects to target (as its user), sends SQL, reads the answer, closes;
// at the latest after timeout_ms. The outcome is logged (debug) and counted in
// SessionRegistry's kill counters by the caller, not here.
void SendKill(Worker* w, const BackendTarget& target, const std::string& server,
              const std::string& sql, int timeout_ms);

}  // namespace sluice::mysqlproxy
