#include "admin/sqlite_db.h"

#include <sqlite3.h>

#include <fmt/format.h>

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

std::string SqliteDb::Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

}  // namespace sluice
