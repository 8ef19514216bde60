// admin_pg_listener: the admin port's PostgreSQL front end (admin.pg_listen, off by default):
// psql and psycopg2 run the admin statements (SHOW POOLS, SELECT ... FROM stats_*, LOAD ...
// TO RUNTIME, KILL ...) through the same AdminService as the MySQL-protocol port, under the
// same login bounds (admin.login_timeout_ms, the wrong-password back-off, the operator
// count). The databases are `sluice` and `pgbouncer`; the user and password are admin's.
#pragma once

#include <string>
#include <string_view>

#include "admin/admin_conn.h"
#include "admin/admin_service.h"

namespace sluice {

// Whether DB names the admin console (PgBouncer's is "pgbouncer").
bool IsAdminPgDatabase(std::string_view db);

// The CommandComplete tag of STATEMENT's result R: "SELECT 3", "INSERT 0 1", "UPDATE 2",
// "DELETE 1", else the statement's first word ("LOAD", "KILL", "SET", ...).
std::string AdminCommandTag(std::string_view statement, const AdminResult& r);

// Serves one PostgreSQL connection: startup (SSLRequest and GSSENCRequest answered 'N'),
// SCRAM-SHA-256 with admin.password (cleartext when it is stored as a MySQL verifier, which
// no PostgreSQL exchange can check otherwise), then simple Query messages with text
// results, until the client terminates or the server stops. A malformed startup packet is
// answered with FATAL 08P01 and closed.
void ServePgAdmin(const AdminConnection& c);

}  // namespace sluice
