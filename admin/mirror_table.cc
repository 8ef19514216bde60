#include "admin/mirror_table.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cstdlib>
#include <limits>

namespace sluice {
namespace {

constexpr const char* kColumns[] = {
    "name",         "source",      "shadow",           "exposure",
    "mode",         "queue_bytes", "queue_statements", "enabled",
    "slower_ratio", "min_samples", "max_digests",      "slower_min_ms"};

std::string Num(double v) {
  return fmt::format("{}", v);
}

}  // namespace

Status WriteMirrorRows(SqliteDb* sql, const std::string& table, const Runtime& rt) {
  SLUICE_RETURN_IF_ERROR(sql->Run(fmt::format("DELETE FROM {}", table)).status());
  for (const MirrorConfig& m : rt.mirrors) {
    // Numbers go in as SQL literals so that SQLite stores them as numbers, not text.
    SLUICE_RETURN_IF_ERROR(
        sql->Run(fmt::format(
                     "INSERT INTO {} VALUES (?1, ?2, ?3, {}, ?4, {}, {}, {}, {}, {}, {}, {})",
                     table, Num(m.exposure), m.queue_bytes, m.queue_statements, m.enabled ? 1 : 0,
                     Num(m.slower_ratio), m.min_samples, m.max_digests, m.slower_min_ms),
                 {m.name, m.source, m.shadow, MirrorModeName(m.mode)})
            .status());
  }
  return Status::Ok();
}

Status ReadMirrorRows(SqliteDb* sql, std::string_view db, Runtime* rt) {
  std::string cols;
  for (const char* c : kColumns) cols += fmt::format("{}{}", cols.empty() ? "" : ", ", c);
  auto r = sql->Run(fmt::format("SELECT {} FROM {}.mirrors ORDER BY rowid", cols, db));
  if (!r.ok()) return r.status();
  rt->mirrors.clear();
  for (size_t i = 0; i < r->rows.size(); ++i) {
    const SqlRow& row = r->rows[i];
    std::string where = fmt::format("mirrors row (name={})", row[0].value_or("NULL"));
    auto error = [&](size_t col, std::string_view what) {
      return InvalidArgument(fmt::format("{}: {}: {}", where, kColumns[col], what));
    };
    auto integer = [&](size_t col, int64_t* out) -> Status {
      const SqlValue& v = row[col];
      if (!v || r->types[i][col] != SQLITE_INTEGER)
        return error(col, v ? fmt::format("expected integer, got \"{}\"", *v)
                            : "expected integer, got NULL");
      *out = std::strtoll(v->c_str(), nullptr, 10);
      return Status::Ok();
    };
    auto number = [&](size_t col, double* out) -> Status {
      const SqlValue& v = row[col];
      int t = r->types[i][col];
      if (!v || (t != SQLITE_INTEGER && t != SQLITE_FLOAT))
        return error(col, v ? fmt::format("expected a number, got \"{}\"", *v)
                            : "expected a number, got NULL");
      *out = std::strtod(v->c_str(), nullptr);
      return Status::Ok();
    };
    auto small = [&](size_t col, int* out) -> Status {
      int64_t n = 0;
      SLUICE_RETURN_IF_ERROR(integer(col, &n));
      if (n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max())
        return error(col, fmt::format("expected an int, got {}", n));
      *out = static_cast<int>(n);
      return Status::Ok();
    };
    MirrorConfig m;
    m.name = row[0].value_or("");
    m.source = row[1].value_or("");
    m.shadow = row[2].value_or("");
    SLUICE_RETURN_IF_ERROR(number(3, &m.exposure));
    std::string mode = row[4].value_or("");
    if (mode == "all")
      m.mode = MirrorMode::kAll;
    else if (mode == "reads")
      m.mode = MirrorMode::kReads;
    else
      return error(4, fmt::format("expected one of all|reads, got \"{}\"", mode));
    SLUICE_RETURN_IF_ERROR(integer(5, &m.queue_bytes));
    SLUICE_RETURN_IF_ERROR(small(6, &m.queue_statements));
    int64_t enabled = 0;
    SLUICE_RETURN_IF_ERROR(integer(7, &enabled));
    if (enabled != 0 && enabled != 1)
      return error(7, fmt::format("expected 0 or 1, got {}", enabled));
    m.enabled = enabled == 1;
    SLUICE_RETURN_IF_ERROR(number(8, &m.slower_ratio));
    SLUICE_RETURN_IF_ERROR(small(9, &m.min_samples));
    SLUICE_RETURN_IF_ERROR(small(10, &m.max_digests));
    SLUICE_RETURN_IF_ERROR(small(11, &m.slower_min_ms));
    rt->mirrors.push_back(std::move(m));
  }
  return Status::Ok();
}

}  // namespace sluice
