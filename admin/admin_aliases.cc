#include "admin/admin_aliases.h"

#include <cctype>
#include <vector>

#include <fmt/format.h>

namespace sluice {
namespace {

// A cluster's setting from SETTINGS (global_settings or runtime_global_settings).
std::string Setting(const char* settings, const char* cluster_col, const char* key) {
  return fmt::format("(SELECT value FROM main.{} g WHERE g.name = 'cluster.' || {} || '.{}')",
                     settings, cluster_col, key);
}

// The hostgroup of a servers row: its own, else the one its role derives.
std::string Hostgroup(const char* settings) {
  return fmt::format(
      "COALESCE(s.hostgroup, CAST((SELECT value FROM main.{} g WHERE g.name = 'cluster.' || "
      "s.cluster || CASE s.role WHEN 'primary' THEN '.writer_hostgroup' ELSE "
      "'.reader_hostgroup' END) AS INT))",
      settings);
}

std::string ServersView(const char* name, const char* servers, const char* settings) {
  return fmt::format(
      "CREATE VIEW main.{0} AS SELECT {3} AS hostgroup_id, s.host AS hostname, s.port AS port, "
      "0 AS gtid_port, s.status AS status, s.weight AS weight, 0 AS compression, "
      "s.max_connections AS max_connections, s.max_lag_ms / 1000 AS max_replication_lag, "
      "0 AS use_ssl, 0 AS max_latency_ms, s.cluster || ' ' || s.role AS comment, "
      "s.cluster AS cluster FROM main.{1} s WHERE {2} = 'mysql';\n",
      name, servers, Setting(settings, "s.cluster", "protocol"), Hostgroup(settings));
}

std::string UsersView(const char* name, const char* users, const char* settings) {
  return fmt::format(
      "CREATE VIEW main.{0} AS SELECT u.name AS username, u.password AS password, 1 AS active, "
      "0 AS use_ssl, CAST({2} AS INT) AS default_hostgroup, u.default_schema AS default_schema, "
      "0 AS schema_locked, 1 AS transaction_persistent, 0 AS fast_forward, 1 AS backend, "
      "1 AS frontend, u.max_connections AS max_connections, u.cluster AS comment, "
      "u.cluster AS cluster FROM main.{1} u WHERE {3} = 'mysql';\n",
      name, users, Setting(settings, "u.cluster", "writer_hostgroup"),
      Setting(settings, "u.cluster", "protocol"));
}

std::string RulesView(const char* name, const char* rules) {
  return fmt::format(
      "CREATE VIEW main.{0} AS SELECT id AS rule_id, active, NULLIF(user, '') AS username, "
      "NULLIF(schema, '') AS schemaname, NULLIF(client_addr, '') AS client_addr, "
      "NULLIF(match_digest, '') AS match_digest, NULLIF(match_pattern, '') AS match_pattern, "
      "CASE WHEN destination_hostgroup < 0 THEN NULL ELSE destination_hostgroup END AS "
      "destination_hostgroup, CASE action WHEN 'reject' THEN error_message ELSE NULL END AS "
      "error_msg, apply, NULLIF(cluster, '') AS cluster FROM main.{1};\n",
      name, rules);
}

struct Alias {
  const char* view;
  std::vector<const char*> reads;
};

const Alias kAliases[] = {
    {"mysql_servers", {"servers", "global_settings"}},
    {"runtime_mysql_servers", {"runtime_servers", "runtime_global_settings"}},
    {"mysql_users", {"users", "global_settings"}},
    {"runtime_mysql_users", {"runtime_users", "runtime_global_settings"}},
    {"mysql_query_rules", {"query_rules"}},
    {"runtime_mysql_query_rules", {"runtime_query_rules"}},
    {"stats_mysql_query_digest", {"stats_query_digest"}},
    {"stats_mysql_connection_pool", {"stats_servers"}},
    {"stats_mysql_global", {"stats_global"}},
    {"stats_mysql_processlist", {"stats_sessions"}},
    {"stats_mysql_users", {"stats_users", "runtime_global_settings"}},
};

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

bool Mentions(const std::string& text, std::string_view name) {
  for (size_t pos = text.find(name); pos != std::string::npos; pos = text.find(name, pos + 1)) {
    size_t end = pos + name.size();
    if ((pos == 0 || !IsWordChar(text[pos - 1])) && (end >= text.size() || !IsWordChar(text[end])))
      return true;
  }
  return false;
}

std::vector<std::string> Words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == ';') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

AliasCommand Query(std::string sql) {
  AliasCommand c;
  c.sql = std::move(sql);
  return c;
}

// PgBouncer's pools are (database, user); sluice's are per server and worker: one row per
// cluster and server, with PgBouncer's server-side columns.
// cl_waiting and maxwait (seconds; maxwait_us the rest in microseconds) as PgBouncer's: the
// sessions waiting for a connection of the pool now, and how long the first of them has.
constexpr const char* kShowPools =
    "SELECT cluster AS database, server, role, state, clients_waiting AS cl_waiting, "
    "conns_used AS sv_active, conns_free AS sv_idle, conns_used + conns_free AS sv_total, "
    "max_wait_us / 1000000 AS maxwait, max_wait_us % 1000000 AS maxwait_us, pool_waits, "
    "pool_wait_avg_us AS avg_wait_time, pool_wait_max_us FROM stats_servers ORDER BY cluster, "
    "server";
// host:port -> host and port; the port is the digits after the last colon (IPv6 hosts).
#define SLUICE_HOST(col) "substr(" col ", 1, length(rtrim(" col ", '0123456789')) - 1)"
#define SLUICE_PORT(col) "CAST(substr(" col ", length(rtrim(" col ", '0123456789')) + 1) AS INT)"
// PgBouncer's server connections: one row per backend connection, 'active' while a client
// holds it (link = that client's id, as SHOW CLIENTS' ptr), 'idle' in the pool, 'new' while
// it logs in.
constexpr const char* kShowServers =
    "SELECT 'S' AS type, user, cluster AS database, state, " SLUICE_HOST("server") " AS addr, "
    SLUICE_PORT("server") " AS port, age_ms AS connect_ms, time_in_state_ms AS request_ms, "
    "id AS ptr, client_id AS link, remote_id AS remote_pid, tls, hostgroup, database AS "
    "server_database, protocol FROM stats_backends ORDER BY cluster, server, id";
// PgBouncer's client states: 'waiting' for a server connection, else 'active' (its idle
// clients are active too); sluice's own state is kept in `sluice_state`.
constexpr const char* kShowClients =
    "SELECT 'C' AS type, user, cluster AS database, CASE state WHEN 'waiting' THEN 'waiting' "
    "ELSE 'active' END AS state, " SLUICE_HOST("client_addr") " AS addr, " SLUICE_PORT(
        "client_addr") " AS port, time_in_state_ms AS wait_ms, id AS ptr, backend AS link, "
                       "backend_thread_id AS remote_pid, protocol, state AS sluice_state, "
                       "digest_text FROM stats_sessions ORDER BY id";
constexpr const char* kShowStats =
    "SELECT cluster AS database, sum(queries) AS total_query_count, sum(latency_sum_us) AS "
    "total_query_time, "
    "CASE WHEN sum(queries) > 0 THEN sum(latency_sum_us) / sum(queries) ELSE 0 END AS "
    "avg_query_time, sum(errors) AS total_errors, sum(pool_waits) AS total_wait_count, "
    "sum(pool_wait_sum_us) AS total_wait_time, CASE WHEN sum(pool_waits) > 0 THEN "
    "sum(pool_wait_sum_us) / sum(pool_waits) ELSE 0 END AS avg_wait_time FROM stats_servers "
    "GROUP BY cluster ORDER BY cluster";
constexpr const char* kShowClusters =
    "SELECT substr(name, 9, length(name) - 8 - 7) AS name, value AS listen, (SELECT value FROM "
    "runtime_global_settings p WHERE p.name = substr(g.name, 1, length(g.name) - 6) || "
    "'protocol') AS protocol, (SELECT value FROM runtime_global_settings p WHERE p.name = "
    "substr(g.name, 1, length(g.name) - 6) || 'pool_mode') AS pool_mode, (SELECT value FROM "
    "runtime_global_settings p WHERE p.name = substr(g.name, 1, length(g.name) - 6) || "
    "'max_client_connections') AS max_client_connections FROM runtime_global_settings g WHERE "
    "name LIKE 'cluster.%.listen' ORDER BY name";

}  // namespace

std::string AliasSchemaSql() {
  std::string sql;
  sql += ServersView("mysql_servers", "servers", "global_settings");
  sql += ServersView("runtime_mysql_servers", "runtime_servers", "runtime_global_settings");
  sql += UsersView("mysql_users", "users", "global_settings");
  sql += UsersView("runtime_mysql_users", "runtime_users", "runtime_global_settings");
  sql += RulesView("mysql_query_rules", "query_rules");
  sql += RulesView("runtime_mysql_query_rules", "runtime_query_rules");
  sql +=
      "CREATE VIEW main.stats_mysql_query_digest AS SELECT hostgroup, schemaname, username, "
      "'' AS client_address, digest, digest_text, count_star, first_seen, last_seen, sum_time, "
      "min_time, max_time, sum_rows_affected, sum_rows_sent, cluster FROM "
      "main.stats_query_digest;\n";
  sql +=
      "CREATE VIEW main.stats_mysql_connection_pool AS SELECT hostgroup, " SLUICE_HOST(
          "server") " AS srv_host, " SLUICE_PORT("server") " AS srv_port, state AS status, conns_used AS ConnUsed, conns_free AS ConnFree, NULL AS "
      "ConnOK, connect_errors AS ConnERR, NULL AS MaxConnUsed, queries AS Queries, "
      "latency_avg_us AS Latency_us, "
      "cluster FROM main.stats_servers;\n";
  // ProxySQL: SessionID is what KILL CONNECTION takes, ThreadID the proxy thread.
  sql +=
      "CREATE VIEW main.stats_mysql_processlist AS SELECT worker AS ThreadID, id AS SessionID, "
      "user, schema AS db, " SLUICE_HOST("client_addr") " AS cli_host, " SLUICE_PORT(
          "client_addr") " AS cli_port, hostgroup, NULLIF(" SLUICE_HOST("backend") ", '') AS "
                         "srv_host, CASE backend WHEN '' THEN NULL ELSE " SLUICE_PORT(
                             "backend") " END AS srv_port, backend_thread_id, state AS "
                                        "command, time_in_state_ms AS time_ms, digest_text AS "
                                        "info, cluster FROM main.stats_sessions WHERE protocol "
                                        "= 'mysql';\n";
  // ProxySQL's per-user connections (frontend_max_connections 0: no limit, as sluice's).
  sql += fmt::format(
      "CREATE VIEW main.stats_mysql_users AS SELECT username, client_connections AS "
      "frontend_connections, max_connections AS frontend_max_connections, statements, errors, "
      "cluster FROM main.stats_users u WHERE {} = 'mysql';\n",
      Setting("runtime_global_settings", "u.cluster", "protocol"));
  sql +=
      "CREATE VIEW main.stats_mysql_global AS SELECT name AS Variable_Name, value AS "
      "Variable_Value FROM main.stats_global;\n";
  return sql;
}

std::string AliasedTables(const std::string& lower_text) {
  std::string out;
  for (const Alias& a : kAliases) {
    if (!Mentions(lower_text, a.view)) continue;
    for (const char* t : a.reads) out += fmt::format(" {}", t);
  }
  return out;
}

std::optional<AliasCommand> ParseAliasCommand(std::string_view statement) {
  std::vector<std::string> w = Words(statement);
  if (w.empty()) return std::nullopt;
  std::vector<std::string> u;
  for (const std::string& s : w) u.push_back(Upper(s));
  if (u[0] == "SHOW" && u.size() >= 2) {
    if (u[1] == "TABLES" && u.size() == 2)
      return Query(
          "SELECT name AS tables FROM main.sqlite_master WHERE type IN ('table', 'view') AND "
          "name NOT LIKE 'sqlite_%' ORDER BY name");
    if (u[1] == "TABLES" && u.size() == 4 && (u[2] == "FROM" || u[2] == "IN") &&
        (u[3] == "DISK" || u[3] == "MAIN"))
      return Query(fmt::format(
          "SELECT name AS tables FROM {}.sqlite_master WHERE type IN ('table', 'view') AND "
          "name NOT LIKE 'sqlite_%' ORDER BY name",
          u[3] == "DISK" ? "disk" : "main"));
    if (u.size() != 2) return std::nullopt;
    if (u[1] == "POOLS") return Query(kShowPools);
    if (u[1] == "SERVERS") return Query(kShowServers);
    if (u[1] == "STATS") return Query(kShowStats);
    if (u[1] == "CLIENTS") return Query(kShowClients);
    if (u[1] == "CLUSTERS") return Query(kShowClusters);
    return std::nullopt;
  }
  if (u.size() == 1 && u[0] == "RELOAD") return AliasCommand{AliasCommand::Kind::kReload, "", ""};
  if (u.size() == 1 && u[0] == "SHUTDOWN")
    return AliasCommand{AliasCommand::Kind::kShutdown, "", ""};
  if ((u[0] == "PAUSE" || u[0] == "RESUME") && u.size() <= 2) {
    AliasCommand c;
    c.kind = u[0] == "PAUSE" ? AliasCommand::Kind::kPause : AliasCommand::Kind::kResume;
    if (u.size() == 2) c.cluster = w[1];
    return c;
  }
  return std::nullopt;
}

}  // namespace sluice
