#include "admin/admin_mirror.h"

#include <cctype>
#include <ctime>
#include <vector>

#include <fmt/format.h>

#include "admin/admin_service.h"
#include "mirror/report_html.h"

namespace sluice {
namespace {

using mirror::DigestRow;
using mirror::MirrorSummary;

constexpr const char* kMirrorStats =
    "mirror TEXT, sessions INT, statements INT, cuts_queue_full INT, cuts_shadow_down INT, "
    "cuts_other INT, digests INT, other_statements INT, verdict_ok INT, verdict_slower INT, "
    "verdict_new_errors INT, verdict_different_results INT, regressions_raised INT, fork_position "
    "TEXT";
constexpr const char* kMirrorDigestStats =
    "mirror TEXT, digest TEXT, digest_text TEXT, verdict TEXT, is_read INT, "
    "source_executions INT, shadow_executions INT, unpaired INT, source_errors INT, "
    "shadow_errors INT, new_errors INT, result_mismatches INT, row_count_diffs INT, "
    "source_rows_returned INT, shadow_rows_returned INT, source_rows_affected INT, "
    "shadow_rows_affected INT, source_p50_us INT, source_p95_us INT, source_p99_us INT, "
    "shadow_p50_us INT, shadow_p95_us INT, shadow_p99_us INT, ratio_p50 REAL, ratio_p95 REAL, "
    "ratio_p99 REAL, source_sum_us INT, shadow_sum_us INT, source_last_errno INT, "
    "source_last_sqlstate TEXT, source_last_error TEXT, shadow_last_errno INT, "
    "shadow_last_sqlstate TEXT, shadow_last_error TEXT";

std::string U(uint64_t v) {
  return std::to_string(v);
}
std::string R(double v) {
  return fmt::format("{:.3f}", v);
}
SqlValue Err(const mirror::SideAgg& s, const std::string& v) {
  return s.errors ? SqlValue(v) : std::nullopt;
}

std::string DigestName(const DigestRow& r) {
  return r.other ? "other" : mirror::DigestHex(r.digest_hash);
}

std::vector<SqlValue> DigestValues(const std::string& name, const DigestRow& r) {
  const mirror::DigestAgg& d = r.agg;
  return {name,
          DigestName(r),
          r.other ? "(digests over the cap)" : d.digest_text,
          mirror::VerdictName(r.verdict),
          U(d.read),
          U(d.source.executions),
          U(d.shadow.executions),
          U(d.unpaired),
          U(d.source.errors),
          U(d.shadow.errors),
          U(d.new_errors),
          U(d.result_mismatches),
          U(d.row_count_diffs),
          U(d.source.rows_returned),
          U(d.shadow.rows_returned),
          U(d.source.rows_affected),
          U(d.shadow.rows_affected),
          U(r.source_p50),
          U(r.source_p95),
          U(r.source_p99),
          U(r.shadow_p50),
          U(r.shadow_p95),
          U(r.shadow_p99),
          R(r.ratio_p50),
          R(r.ratio_p95),
          R(r.ratio_p99),
          U(d.source.latency.sum_us()),
          U(d.shadow.latency.sum_us()),
          Err(d.source, U(d.source.last_error.code)),
          Err(d.source, d.source.last_error.sqlstate),
          Err(d.source, d.source.last_error.text),
          Err(d.shadow, U(d.shadow.last_error.code)),
          Err(d.shadow, d.shadow.last_error.sqlstate),
          Err(d.shadow, d.shadow.last_error.text)};
}

std::vector<SqlValue> MirrorValues(const MirrorSummary& m, const std::string& fork_position) {
  return {m.name,
          U(m.sessions),
          U(m.statements),
          U(m.cuts[0]),
          U(m.cuts[1]),
          U(m.cuts[2]),
          U(m.digests),
          U(m.other_statements),
          U(m.verdict_ok),
          U(m.verdict_slower),
          U(m.verdict_new_errors),
          U(m.verdict_different_results),
          U(m.events_raised),
          fork_position};
}

Status Insert(SqliteDb* db, const std::string& table, const std::vector<SqlValue>& values) {
  std::string marks;
  for (size_t i = 0; i < values.size(); ++i) marks += fmt::format("{}?{}", i ? "," : "", i + 1);
  return db->Run(fmt::format("INSERT INTO main.{} VALUES ({})", table, marks), values).status();
}

// The words of STATEMENT; a quoted word ('..', "..", `..`) keeps its case and spaces.
Result<std::vector<std::string>> Words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c)) || c == ';') {
      ++i;
    } else if (c == '\'' || c == '"' || c == '`') {
      size_t e = s.find(c, i + 1);
      if (e == std::string_view::npos) return InvalidArgument("MIRROR: unterminated quote");
      out.emplace_back(s.substr(i, e + 1 - i));
      i = e + 1;
    } else {
      size_t e = i;
      while (e < s.size() && !std::isspace(static_cast<unsigned char>(s[e])) && s[e] != ';') ++e;
      out.emplace_back(s.substr(i, e - i));
      i = e;
    }
  }
  return out;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Unquote(const std::string& w) {
  if (w.size() >= 2 && (w[0] == '\'' || w[0] == '"' || w[0] == '`') && w.back() == w[0])
    return w.substr(1, w.size() - 2);
  return w;
}

constexpr const char* kUsage =
    "expected MIRROR REPORT <name> [TO '<file>.html'], MIRROR START <name> or MIRROR STOP <name>";

}  // namespace

std::string MirrorStatsSchemaSql() {
  std::string sql;
  for (const auto& [name, cols] : {std::pair{"stats_mirror", kMirrorStats},
                                   std::pair{"stats_mirror_digest", kMirrorDigestStats}}) {
    sql += fmt::format("CREATE TABLE main.{} ({});\n", name, cols);
    sql += fmt::format("CREATE TABLE main.{}_reset ({});\n", name, cols);
  }
  return sql;
}

bool IsMirrorStatement(std::string_view statement) {
  size_t b = statement.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos || statement.size() - b < 6) return false;
  return Upper(std::string(statement.substr(b, 6))) == "MIRROR" &&
         (statement.size() - b == 6 || std::isspace(static_cast<unsigned char>(statement[b + 6])) ||
          statement[b + 6] == ';');
}

std::optional<MirrorSwitchCommand> ParseMirrorSwitch(std::string_view statement) {
  auto words = Words(statement);
  if (!words.ok() || words->size() != 3) return std::nullopt;
  std::string verb = Upper((*words)[1]);
  if (verb != "START" && verb != "STOP") return std::nullopt;
  return MirrorSwitchCommand{Unquote((*words)[2]), verb == "START"};
}

Result<AdminResult> RunMirrorStatement(mirror::MirrorReport* report, std::string_view statement) {
  auto words = Words(statement);
  if (!words.ok()) return words.status();
  const std::vector<std::string>& w = *words;
  if (w.size() < 2 || Upper(w[1]) != "REPORT" || (w.size() != 3 && w.size() != 5) ||
      (w.size() == 5 && Upper(w[3]) != "TO"))
    return InvalidArgument(kUsage);
  std::string name = Unquote(w[2]);
  if (!report) return Unavailable("MIRROR REPORT: this sluice has no mirror report");
  report->Poll();
  std::optional<MirrorSummary> m = report->Find(name);
  if (!m) return NotFound(fmt::format("MIRROR REPORT: no mirror named '{}'", name));
  AdminResult out;
  out.has_rows = true;
  if (w.size() == 5) {
    if (w[4].size() < 2 || w[4][0] != '\'' || w[4].back() != '\'')
      return InvalidArgument(fmt::format("{}: the file name is a quoted string", kUsage));
    std::string path = Unquote(w[4]);
    if (path.size() <= 5 || path.compare(path.size() - 5, 5, ".html") != 0)
      return InvalidArgument(
          fmt::format("MIRROR REPORT: '{}': the file name must end in .html", path));
    SLUICE_RETURN_IF_ERROR(mirror::WriteReportHtml(*m, path, static_cast<int64_t>(time(nullptr))));
    out.columns = {"message"};
    out.rows = {{fmt::format("wrote the report of mirror {} ({} digests, {} regressions) to {}",
                             m->name, m->rows.size(), m->regressions, path)}};
    return out;
  }
  out.columns = {"digest",
                 "verdict",
                 "digest_text",
                 "source_executions",
                 "shadow_executions",
                 "source_p95_us",
                 "shadow_p95_us",
                 "ratio_p95",
                 "shadow_errors",
                 "new_errors",
                 "result_mismatches",
                 "row_count_diffs",
                 "shadow_last_error"};
  for (const DigestRow& r : m->rows) {  // regressions first (MirrorSummary::rows)
    const mirror::DigestAgg& d = r.agg;
    out.rows.push_back({DigestName(r), mirror::VerdictName(r.verdict),
                        r.other ? "(digests over the cap)" : d.digest_text, U(d.source.executions),
                        U(d.shadow.executions), U(r.source_p95), U(r.shadow_p95), R(r.ratio_p95),
                        U(d.shadow.errors), U(d.new_errors), U(d.result_mismatches),
                        U(d.row_count_diffs),
                        d.shadow.errors ? SqlValue(d.shadow.last_error.text) : std::nullopt});
  }
  return out;
}

Status RefreshMirrorTables(SqliteDb* db, mirror::MirrorReport* report,
                           const std::map<std::string, std::string, std::less<>>& fork_positions,
                           const std::function<bool(std::string_view)>& mentions) {
  bool any = false;
  for (const char* t :
       {"stats_mirror", "stats_mirror_reset", "stats_mirror_digest", "stats_mirror_digest_reset"})
    any = any || mentions(t);
  if (!any) return Status::Ok();
  bool reset = mentions("stats_mirror_reset") || mentions("stats_mirror_digest_reset");
  std::vector<MirrorSummary> all;
  if (report) {
    report->Poll();
    all = reset ? report->SnapshotAndReset() : report->Snapshot();
  }
  for (const std::string base : {"stats_mirror", "stats_mirror_digest"}) {
    for (const std::string& table : {base, base + "_reset"}) {
      if (!mentions(table)) continue;
      SLUICE_RETURN_IF_ERROR(db->Run(fmt::format("DELETE FROM main.{}", table)).status());
      for (const MirrorSummary& m : all) {
        if (base == "stats_mirror") {
          auto at = fork_positions.find(m.name);
          SLUICE_RETURN_IF_ERROR(
              Insert(db, table, MirrorValues(m, at == fork_positions.end() ? "" : at->second)));
        } else {
          for (const DigestRow& r : m.rows)
            SLUICE_RETURN_IF_ERROR(Insert(db, table, DigestValues(m.name, r)));
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace sluice
