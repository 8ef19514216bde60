// How sluice names a PostgreSQL standby. There is no SHOW SLAVE HOSTS: pg_stat_replication's
// client_addr/client_port are the standby's side of the replication connection, not its listen
// address. So a standby announces its own "host:port" as application_name in primary_conninfo
// (as Patroni does with its member names), and sluice keeps that name when it re-points it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::health {

// The address APPLICATION_NAME announces, spelled as Server::name() spells it; nullopt when it
// is not "host:port" (or "[v6]:port") with a port in 1..65535.
std::optional<std::string> PgStandbyAddress(std::string_view application_name);

// A value for a libpq conninfo string, quoted so that any text survives.
std::string PgConninfoValue(std::string_view v);

// The application_name a conninfo string sets; "" when it sets none or does not parse.
std::string PgConninfoApplicationName(const std::string& conninfo);

}  // namespace sluice::health
