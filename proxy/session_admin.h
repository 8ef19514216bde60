// What the admin port sees of the data plane's client sessions and backend connections:
// stats_sessions (and through it stats_mysql_processlist and SHOW CLIENTS,
// admin/admin_aliases.cc), stats_backends (SHOW SERVERS), KILL [CONNECTION | QUERY] <id> for
// any session, and the session metrics. Read from the registries' slots
// (proxy/session_registry.h, proxy/backend_registry.h): no worker is asked or locked.
#pragma once

#include <cstdint>
#include <vector>

#include "admin/sqlite_db.h"
#include "common/status.h"

namespace sluice {

class ControlPlane;
struct ProxyShared;

// The stats_sessions columns, in order.
extern const char* const kSessionColumns;

// One row per open client session (any thread).
std::vector<SqlRow> SessionRows(const ProxyShared& shared, int64_t now_ms);

// The stats_backends columns, in order.
extern const char* const kBackendColumns;

// One row per backend connection (any thread); client_id links it to the session holding
// it (the session's backend and backend_thread_id match).
std::vector<SqlRow> BackendRows(const ProxyShared& shared, int64_t now_ms);

// The admin port's KILL: NotFound for an id no open session has; else the session's worker
// is asked to carry it out (ClientSession::Kill) and the call returns at once.
Status KillSession(ProxyShared* shared, uint32_t id, bool query_only);

// stats_sessions, stats_backends and the metrics sluice_client_sessions{cluster,state} and
// sluice_session_kills_total{kind}.
Status AttachSessionAdmin(ControlPlane* control, ProxyShared* shared);

}  // namespace sluice
