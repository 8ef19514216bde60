// SqliteDb: a thin owner of one sqlite3 connection: run statements, read rows as text.
// Used by the admin store only (control plane; blocking is fine).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct sqlite3;

namespace sluice {

using SqlValue = std::optional<std::string>;  // nullopt: SQL NULL
using SqlRow = std::vector<SqlValue>;

struct SqlResult {
  std::vector<std::string> columns;  // empty: the statement returns no rows
  std::vector<SqlRow> rows;
  std::vector<std::vector<int>> types;  // SQLITE_INTEGER, SQLITE_TEXT, ... per value
  uint64_t changes = 0;
};

class SqliteDb {
 public:
  SqliteDb() = default;
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  Status Open(const std::string& path);  // ":memory:" for the in-memory main database
  // Runs every statement of SQL; the result is the last statement's.
  Result<SqlResult> Run(std::string_view sql);
  // Runs one statement with text parameters bound to ?1, ?2, ... (nullopt binds NULL).
  Result<SqlResult> Run(std::string_view sql, const std::vector<SqlValue>& params);
  // Runs one statement an operator typed. Refused, with an error that says why: a text with
  // more than one statement; ATTACH, DETACH and PRAGMA (they reach files and the engine's
  // settings); VACUUM (VACUUM INTO writes a file); creating, altering or dropping a table,
  // view, index or trigger outside the temp schema (the admin tables are sluice's: a
  // dropped `servers` would break LOAD/SAVE).
  Result<SqlResult> RunGuarded(std::string_view sql);
  static std::string Quote(std::string_view s);  // 'it''s'

 private:
  static int Authorize(void* self, int action, const char* a, const char* b, const char* db,
                       const char* trigger);
  sqlite3* db_ = nullptr;
  std::string denied_;  // what the authorizer refused during the last RunGuarded
};

}  // namespace sluice
