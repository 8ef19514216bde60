// admin_aliases: the ProxySQL and PgBouncer vocabulary on sluice's admin port. ProxySQL's
// table names are SQLite views over sluice's tables (same meaning, ProxySQL's column names);
// PgBouncer's SHOW commands are rewritten to queries over the same tables; RELOAD,
// SHUTDOWN, PAUSE and RESUME become actions. docs/operations.md lists where they differ.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// CREATE VIEW statements for mysql_servers, runtime_mysql_servers, mysql_users,
// runtime_mysql_users, mysql_query_rules, runtime_mysql_query_rules,
// stats_mysql_query_digest, stats_mysql_connection_pool (schema main).
std::string AliasSchemaSql();

// The sluice tables the views named in LOWER_TEXT (a lowercased statement) read, separated
// by spaces, so that the admin service refreshes them before the statement runs.
std::string AliasedTables(const std::string& lower_text);

struct AliasCommand {
  enum class Kind { kQuery, kReload, kShutdown, kPause, kResume };
  Kind kind = Kind::kQuery;
  std::string sql;      // kQuery: what to run instead
  std::string cluster;  // kPause/kResume: "" = every cluster
};

// SHOW TABLES [FROM disk], SHOW POOLS|SERVERS|STATS|CLUSTERS|LISTS|VERSION, RELOAD,
// SHUTDOWN, PAUSE [cluster], RESUME [cluster]; nullopt for anything else.
std::optional<AliasCommand> ParseAliasCommand(std::string_view statement);

}  // namespace sluice
