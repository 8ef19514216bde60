// The mirror report on the admin port: the tables stats_mirror and stats_mirror_digest (and
// their _reset twins), MIRROR REPORT <name> [TO '<file>.html'], filled from a MirrorReport.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <optional>
#include <string>
#include "admin/sqlite_db.h"

#include "common/status.h"
#include "mirror/report.h"

namespace sluice {

struct AdminResult;

// CREATE TABLE statements of the mirror's stats tables in `main`.
std::string MirrorStatsSchemaSql();

// Whether STATEMENT is a MIRROR command (its first word is MIRROR).
bool IsMirrorStatement(std::string_view statement);

// MIRROR START <name> / MIRROR STOP <name> (the name may be quoted), or nothing.
struct MirrorSwitchCommand {
  std::string name;
  bool on = false;
};
std::optional<MirrorSwitchCommand> ParseMirrorSwitch(std::string_view statement);

// Runs MIRROR REPORT <name> (the rows, regressions first) or MIRROR REPORT <name> TO
// '<file>.html' (writes the page; one row saying where). REPORT may be null (no mirror).
Result<AdminResult> RunMirrorStatement(mirror::MirrorReport* report, std::string_view statement);

// Refills the mirror tables that MENTIONS says the statement reads (a _reset table resets
// the report after reading it). FORK_POSITIONS: per mirror, where MIRROR START detached its
// shadow (stats_mirror.fork_position; "" when independent or never started).
Status RefreshMirrorTables(SqliteDb* db, mirror::MirrorReport* report,
                           const std::map<std::string, std::string, std::less<>>& fork_positions,
                           const std::function<bool(std::string_view)>& mentions);

}  // namespace sluice
