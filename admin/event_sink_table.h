// event_sink_table: the admin table event_sinks (one row per [[event_sink]]), its columns
// and the conversions between its rows and Runtime::event_sinks.
#pragma once

#include <string>
#include <string_view>

#include "admin/sqlite_db.h"
#include "common/status.h"
#include "routing/runtime.h"

namespace sluice {

inline constexpr const char* kEventSinksColumns =
    "name TEXT NOT NULL, url TEXT NOT NULL, kinds TEXT NOT NULL DEFAULT '', "
    "format TEXT NOT NULL DEFAULT 'json', queue_size INT NOT NULL DEFAULT 1000, "
    "timeout_ms INT NOT NULL DEFAULT 2000, retry_backoff_ms INT NOT NULL DEFAULT 200, "
    "retry_max_backoff_ms INT NOT NULL DEFAULT 10000";

// Replaces the rows of TABLE ("main.event_sinks", "disk.event_sinks", ...) with RT's sinks.
Status WriteEventSinkRows(SqliteDb* sql, const std::string& table, const Runtime& rt);

// RT's sinks from DB.event_sinks; conversion errors name the row and the column
// ("event_sinks row (name=chat): queue_size: expected integer, got \"x\"").
Status ReadEventSinkRows(SqliteDb* sql, std::string_view db, Runtime* rt);

}  // namespace sluice
