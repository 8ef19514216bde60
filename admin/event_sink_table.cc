#include "admin/event_sink_table.h"
#include "common/split.h"

#include <sqlite3.h>

#include <cstdlib>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace sluice {

namespace {}  // namespace

Status WriteEventSinkRows(SqliteDb* sql, const std::string& table, const Runtime& rt) {
  SLUICE_RETURN_IF_ERROR(sql->Run(fmt::format("DELETE FROM {}", table)).status());
  for (const EventSinkConfig& e : rt.event_sinks) {
    SLUICE_RETURN_IF_ERROR(
        sql->Run(fmt::format("INSERT INTO {} VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", table),
                 {e.name, e.url, fmt::format("{}", fmt::join(e.kinds, ",")), e.format,
                  std::to_string(e.queue_size), std::to_string(e.timeout_ms),
                  std::to_string(e.retry_backoff_ms), std::to_string(e.retry_max_backoff_ms)})
            .status());
  }
  return Status::Ok();
}

Status ReadEventSinkRows(SqliteDb* sql, std::string_view db, Runtime* rt) {
  auto r =
      sql->Run(fmt::format("SELECT name, url, kinds, format, queue_size, timeout_ms, "
                           "retry_backoff_ms, retry_max_backoff_ms FROM {}.event_sinks "
                           "ORDER BY rowid",
                           db));
  if (!r.ok()) return r.status();
  rt->event_sinks.clear();
  for (size_t i = 0; i < r->rows.size(); ++i) {
    const SqlRow& row = r->rows[i];
    std::string where = fmt::format("event_sinks row (name={})", row[0].value_or("NULL"));
    EventSinkConfig e;
    e.name = row[0].value_or("");
    e.url = row[1].value_or("");
    e.kinds = SplitList(row[2].value_or(""));
    e.format = row[3].value_or("");
    int* ints[] = {&e.queue_size, &e.timeout_ms, &e.retry_backoff_ms, &e.retry_max_backoff_ms};
    for (size_t k = 0; k < 4; ++k) {
      size_t col = 4 + k;
      const SqlValue& v = row[col];
      if (!v || r->types[i][col] != SQLITE_INTEGER) {
        return InvalidArgument(fmt::format(
            "{}: {}: {}", where, r->columns[col],
            v ? fmt::format("expected integer, got \"{}\"", *v) : "expected integer, got NULL"));
      }
      long long n = std::strtoll(v->c_str(), nullptr, 10);
      if (n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max())
        return InvalidArgument(
            fmt::format("{}: {}: expected an int, got {}", where, r->columns[col], n));
      *ints[k] = static_cast<int>(n);
    }
    rt->event_sinks.push_back(std::move(e));
  }
  return Status::Ok();
}

}  // namespace sluice
