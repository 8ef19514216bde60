// The clusters' backend_tls as the control plane's client libraries take it: libmariadb
// options and libpq conninfo keywords (the monitor, failover, switchover, --check --connect).
#pragma once

#include <mysql.h>

#include <string>

#include "routing/runtime.h"

namespace sluice::health {

// Sets CONN's TLS options before mysql_real_connect (nothing when TLS is off).
void ApplyMysqlTls(MYSQL* conn, const BackendTls& tls);
// The conninfo keywords (with a leading space) for TLS towards HOST, sslmode always.
std::string PgTlsConninfo(const BackendTls& tls, const std::string& host);

}  // namespace sluice::health
