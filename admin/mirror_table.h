// mirror_table: the admin table mirrors (one row per [[mirror]]), its columns and the
// conversions between its rows and Runtime::mirrors.
#pragma once

#include <string>
#include <string_view>

#include "admin/sqlite_db.h"
#include "common/status.h"
#include "routing/runtime.h"

namespace sluice {

inline constexpr const char* kMirrorsColumns =
    "name TEXT NOT NULL, source TEXT NOT NULL, shadow TEXT NOT NULL, "
    "exposure REAL NOT NULL DEFAULT 1.0, mode TEXT NOT NULL DEFAULT 'all', "
    "queue_bytes INT NOT NULL DEFAULT 4194304, queue_statements INT NOT NULL DEFAULT 1000, "
    "enabled INT NOT NULL DEFAULT 0, slower_ratio REAL NOT NULL DEFAULT 2.0, "
    "min_samples INT NOT NULL DEFAULT 100, max_digests INT NOT NULL DEFAULT 1000, "
    "slower_min_ms INT NOT NULL DEFAULT 0";

// Replaces the rows of TABLE ("main.mirrors", "disk.mirrors", ...) with RT's mirrors.
Status WriteMirrorRows(SqliteDb* sql, const std::string& table, const Runtime& rt);

// RT's mirrors from DB.mirrors; conversion errors name the row and the column
// ("mirrors row (name=m1): exposure: expected a number, got \"x\""). Ranges and references
// are ValidateRuntime's.
Status ReadMirrorRows(SqliteDb* sql, std::string_view db, Runtime* rt);

}  // namespace sluice
