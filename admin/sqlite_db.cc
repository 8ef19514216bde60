#include "admin/sqlite_db.h"

#include <sqlite3.h>

#include <fmt/format.h>

#include "admin/sql_split.h"

namespace sluice {
namespace {

// Bound on the statements in one admin request: each is a prepare+step loop.
constexpr int kMaxStatements = 1000;

Status SqlError(sqlite3* db) {
  return InvalidArgument(fmt::format("SQL error: {}", sqlite3_errmsg(db)));
}

Status Step(sqlite3* db, sqlite3_stmt* st, SqlResult* out) {
  int ncol = sqlite3_column_count(st);
  out->columns.clear();
  out->rows.clear();
  out->types.clear();
  for (int i = 0; i < ncol; ++i) out->columns.emplace_back(sqlite3_column_name(st, i));
  for (;;) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return SqlError(db);
    SqlRow row;
    std::vector<int> types;
    for (int i = 0; i < ncol; ++i) {
      int t = sqlite3_column_type(st, i);
      types.push_back(t);
      if (t == SQLITE_NULL) {
        row.emplace_back(std::nullopt);
      } else {
        const auto* p = sqlite3_column_text(st, i);
        row.emplace_back(std::string(reinterpret_cast<const char*>(p),
                                     static_cast<size_t>(sqlite3_column_bytes(st, i))));
      }
    }
    out->rows.push_back(std::move(row));
    out->types.push_back(std::move(types));
  }
  out->changes = ncol == 0 ? static_cast<uint64_t>(sqlite3_changes(db)) : 0;
  return Status::Ok();
}

}  // namespace

SqliteDb::~SqliteDb() {
  if (db_) sqlite3_close(db_);
}

Status SqliteDb::Open(const std::string& path) {
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
    return Unavailable(fmt::format("cannot open SQLite database {}: {}", path,
                                   db_ ? sqlite3_errmsg(db_) : "out of memory"));
  }
  return Status::Ok();
}

Result<SqlResult> SqliteDb::Run(std::string_view sql) {
  SqlResult out;
  const char* p = sql.data();
  const char* end = sql.data() + sql.size();
  for (int n = 0; p < end && n < kMaxStatements; ++n) {
    sqlite3_stmt* st = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(db_, p, static_cast<int>(end - p), &st, &tail) != SQLITE_OK) {
      return SqlError(db_);
    }
    p = tail;
    if (!st) continue;  // whitespace or a comment
    Status s = Step(db_, st, &out);
    sqlite3_finalize(st);
    if (!s.ok()) return s;
  }
  return out;
}

Result<SqlResult> SqliteDb::Run(std::string_view sql, const std::vector<SqlValue>& params) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &st, nullptr) !=
      SQLITE_OK) {
    return SqlError(db_);
  }
  for (size_t i = 0; i < params.size(); ++i) {
    int idx = static_cast<int>(i + 1);
    if (params[i]) {
      sqlite3_bind_text(st, idx, params[i]->data(), static_cast<int>(params[i]->size()),
                        SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_null(st, idx);
    }
  }
  SqlResult out;
  Status s = Step(db_, st, &out);
  sqlite3_finalize(st);
  if (!s.ok()) return s;
  return out;
}

int SqliteDb::Authorize(void* self, int action, const char* a, const char*, const char* db,
                        const char*) {
  auto* me = static_cast<SqliteDb*>(self);
  const char* what = nullptr;
  switch (action) {
    case SQLITE_ATTACH:
      what = "ATTACH";
      break;
    case SQLITE_DETACH:
      what = "DETACH";
      break;
    case SQLITE_PRAGMA:
      what = "PRAGMA";
      break;
    case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_VIEW:
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_TABLE:
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TRIGGER:
    case SQLITE_DROP_VIEW:
    case SQLITE_DROP_VTABLE:
    case SQLITE_ALTER_TABLE:
      // Temporary objects (CREATE TEMP TABLE ...) are the operator's own scratch space.
      if (db && std::string_view(db) == "temp") return SQLITE_OK;
      what =
          "changing the schema of sluice's tables (CREATE/ALTER/DROP TABLE, VIEW, INDEX, "
          "TRIGGER)";
      break;
    default:
      return SQLITE_OK;
  }
  (void)a;
  me->denied_ = what;
  return SQLITE_DENY;
}

Result<SqlResult> SqliteDb::RunGuarded(std::string_view sql) {
  std::vector<std::string> parts = SplitStatements(sql);
  if (parts.size() > 1)
    return InvalidArgument("one statement per query: this text holds " +
                           std::to_string(parts.size()));
  if (parts.empty()) return SqlResult{};
  if (FirstWord(parts[0]) == "VACUUM")
    return InvalidArgument("VACUUM is not allowed on the admin port (VACUUM INTO writes a file)");
  denied_.clear();
  sqlite3_set_authorizer(db_, &SqliteDb::Authorize, this);
  sqlite3_stmt* st = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_, parts[0].data(), static_cast<int>(parts[0].size()), &st, &tail);
  sqlite3_set_authorizer(db_, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    if (!denied_.empty())
      return Status(StatusCode::kPermissionDenied,
                    fmt::format("{} is not allowed on the admin port", denied_));
    return SqlError(db_);
  }
  if (!st) return SqlResult{};
  // Whatever SQLite reads as a second statement (the splitter and SQLite disagreeing) is
  // refused; a trailing comment is not a statement.
  if (tail && *tail) {
    sqlite3_stmt* next = nullptr;
    sqlite3_prepare_v2(db_, tail, -1, &next, nullptr);
    if (next) {
      sqlite3_finalize(next);
      sqlite3_finalize(st);
      return InvalidArgument("one statement per query");
    }
  }
  SqlResult out;
  // The authorizer is consulted again if SQLite re-prepares the statement while it steps.
  sqlite3_set_authorizer(db_, &SqliteDb::Authorize, this);
  Status s = Step(db_, st, &out);
  sqlite3_set_authorizer(db_, nullptr, nullptr);
  sqlite3_finalize(st);
  if (!s.ok()) {
    if (!denied_.empty())
      return Status(StatusCode::kPermissionDenied,
                    fmt::format("{} is not allowed on the admin port", denied_));
    return s;
  }
  return out;
}

std::string SqliteDb::Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace sluice
