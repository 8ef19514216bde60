// admin_tables: the admin store's configuration tables (servers, users, query_rules,
// global_settings, mirrors, event_sinks): their schema, and the conversions Runtime <->
// rows.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "admin/sqlite_db.h"
#include "common/status.h"
#include "routing/runtime.h"

namespace sluice {

// Which configuration tables a command touches (bit set).
enum TableGroup : unsigned {
  kGroupServers = 1,
  kGroupUsers = 2,
  kGroupRules = 4,
  kGroupSettings = 8,
  kGroupMirror = 16,
  kGroupEventSinks = 32,
  kGroupAll = 63,
};

// The table names of GROUPS, e.g. {"servers"}.
std::vector<std::string> TablesOf(unsigned groups);
const char* GroupName(TableGroup g);

// CREATE TABLE IF NOT EXISTS for every configuration table in schema DB ("main", "disk"),
// and, when RUNTIME_TABLES, the runtime_* mirrors of them.
std::string ConfigSchemaSql(std::string_view db, bool runtime_tables);

// Replaces the rows of GROUPS in DB.<table> (or DB.runtime_<table> when PREFIX is "runtime_")
// with RT's.
Status WriteTables(SqliteDb* sql, std::string_view db, std::string_view prefix, const Runtime& rt,
                   unsigned groups);

// Builds a Runtime from BASE with GROUPS replaced by the rows of DB's tables. Conversion
// errors name the table, the row's key and the column; the result is not yet validated
// (ValidateAdminRuntime does that).
Result<Runtime> ReadTables(SqliteDb* sql, std::string_view db, const Runtime& base,
                           unsigned groups);

// Whether a table of GROUPS has any row in DB.
Result<bool> HasRows(SqliteDb* sql, std::string_view db, unsigned groups);

// Validates RT with ValidateRuntime, naming rows of the admin tables:
// "servers row (cluster=app, host=h, port=1): weight: expected 1..1000000, got 0".
Status ValidateAdminRuntime(const Runtime& rt);

}  // namespace sluice
