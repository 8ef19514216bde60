#include "proxy/pgsql/settings.h"

#include <strings.h>

#include <cctype>
#include <iterator>

#include <fmt/format.h>

#include "routing/classifier.h"

namespace sluice::pgproxy {
namespace {

constexpr const char* kPinNames[] = {
    "advisory_lock",
    "temp_table",
    "sql_prepare",
    "listen",
    "cursor_with_hold",
    "set_role",
    "set_session_authorization",
    "set_session_characteristics",
    "untracked_set",
    "discard",
};
static_assert(std::size(kPinNames) == kPgPinReasons, "a name for every PgPin");

std::string QuoteLiteral(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\0') break;
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

bool Is(std::string_view written, const char* name) {
  return written.size() == strlen(name) && strncasecmp(written.data(), name, written.size()) == 0;
}

}  // namespace

const char* PgPinName(int bit) {
  return bit >= 0 && bit < kPgPinReasons ? kPinNames[bit] : nullptr;
}

uint32_t PgPinsOf(uint32_t p) {
  uint32_t out = 0;
  if (p & routing::kPinUserLock) out |= kPgPinAdvisoryLock;
  if (p & routing::kPinTempTable) out |= kPgPinTempTable;
  if (p & routing::kPinPrepare) out |= kPgPinSqlPrepare;
  if (p & routing::kPinListen) out |= kPgPinListen;
  if (p & routing::kPinCursorHold) out |= kPgPinCursorWithHold;
  return out;
}

std::string SettingKey(std::string_view written) {
  if (Is(written, "TIME ZONE")) return "timezone";
  if (written.empty() || written.size() > 63) return "";
  std::string key;
  for (char c : written) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return "";
    key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return key;
}

std::string LiteralStatement(std::string_view name, std::string_view value) {
  return fmt::format("SELECT pg_catalog.set_config({}, {}, false)", QuoteLiteral(name),
                     QuoteLiteral(value));
}

void PgSettings::Start(const std::map<std::string, std::string>& startup) {
  startup_ = startup;
  want_.Clear();
  for (const auto& [name, value] : startup_)
    if (!SettingKey(name).empty()) want_.vars.emplace_back(name, LiteralStatement(name, value));
}

uint32_t PgSettings::OnStatement(const StatementInfo& info) {
  uint32_t pins = PgPinsOf(info.pins);
  // DISCARD ALL / PLANS / SEQUENCES / TEMP: what sluice recorded of the connection (its
  // settings, its prepared statements) is no longer so; the session keeps it, as it is.
  if (info.command == "DISCARD") pins |= kPgPinDiscard;
  if (info.txn != routing::TxnOp::kNone && info.txn != routing::TxnOp::kSetTransaction) {
    // Acted on when the segment is answered (segments pipelined before it come first).
    open_.txn_ops = true;
    open_.rollback |= info.txn == routing::TxnOp::kRollback;
    open_.rollback_to_savepoint |= info.txn == routing::TxnOp::kRollbackToSavepoint;
  }
  // A text of several statements hides its BEGIN/COMMIT/ROLLBACK from the classifier
  // unless all of them are SET/RESET.
  bool mixed = info.multi_statement && info.kind != routing::StatementKind::kSession;
  if (mixed && (!txn_.empty() || !sent_.empty() || !open_.changes.empty())) untracked_ = true;
  for (const auto& [written, value] : info.session_vars) {
    if (Is(written, "ROLE")) {
      pins |= kPgPinSetRole;
      continue;
    }
    if (Is(written, "SESSION AUTHORIZATION")) {
      pins |= kPgPinSessionAuthorization;
      continue;
    }
    if (Is(written, "TRANSACTION")) {
      pins |= kPgPinSessionCharacteristics;
      continue;
    }
    if (mixed) {
      untracked_ = true;
      continue;
    }
    bool reset = strcasecmp(value.c_str(), "DEFAULT") == 0;
    if (Is(written, "ALL") && reset) {
      open_.changes.push_back(Change{"", ""});
      continue;
    }
    std::string key = SettingKey(written);
    if (key.empty()) {
      pins |= kPgPinUntrackedSet;
      continue;
    }
    std::string stmt;
    if (!reset)
      stmt = Is(written, "TIME ZONE") ? fmt::format("SET TIME ZONE {}", value)
                                      : fmt::format("SET {} TO {}", key, value);
    open_.changes.push_back(Change{std::move(key), std::move(stmt)});
  }
  return pins;
}

void PgSettings::EndSegment() {
  ++sent_count_;
  if (open_.changes.empty() && !open_.txn_ops) return;  // the common case: nothing to keep
  open_.seq = sent_count_;
  sent_.push_back(std::move(open_));
  open_ = Segment{};
}

void PgSettings::Abandon() {
  open_ = Segment{};
  sent_.clear();
  answered_count_ = sent_count_;
  txn_.clear();
  txn_rolled_back_ = false;
  untracked_ = false;
}

uint32_t PgSettings::OnSegmentEnd(bool error, char status, SessionVars* applied) {
  uint32_t pins = 0;
  Segment seg;
  ++answered_count_;
  if (!sent_.empty() && sent_.front().seq == answered_count_) {
    seg = std::move(sent_.front());
    sent_.pop_front();
  }
  if (!seg.changes.empty() && seg.txn_ops) untracked_ = true;  // which side of the COMMIT?
  if (seg.rollback) txn_rolled_back_ = true;
  if (seg.rollback_to_savepoint && !txn_.empty()) untracked_ = true;
  if (error) {
    seg.changes.clear();  // the statement failed, and with it its implicit transaction
    if (status != 'I') txn_rolled_back_ = true;  // the block can only end rolled back now
  }
  for (auto& c : seg.changes) txn_.push_back(std::move(c));
  if (status != 'I') return 0;
  if (txn_.empty() && !untracked_ && !txn_rolled_back_) return 0;
  // The transaction (block or implicit) is over.
  if (untracked_) {
    // Which of the block's assignments survived is unknown: the connection that ran them
    // is the only place the client's settings are right.
    pins |= kPgPinUntrackedSet;
  } else if (!txn_rolled_back_ && !(error && !txn_.empty())) {
    Commit(&txn_, applied);
  }
  txn_.clear();
  txn_rolled_back_ = false;
  untracked_ = false;
  return pins;
}

void PgSettings::Commit(std::vector<Change>* changes, SessionVars* applied) {
  for (Change& c : *changes) {
    if (c.key.empty()) {  // RESET ALL: back to the startup settings
      Start(std::map<std::string, std::string>(startup_));
      if (applied) applied->Clear();
      continue;
    }
    if (!c.statement.empty()) {
      want_.Set(c.key, c.statement);
      if (applied) applied->Set(c.key, c.statement);
      continue;
    }
    // RESET name: the startup value, or the server's default.
    want_.Erase(c.key);
    auto s = startup_.find(c.key);
    if (s != startup_.end()) want_.Set(c.key, LiteralStatement(c.key, s->second));
    if (applied) applied->Erase(c.key);
  }
}

void PgSettings::OnReported(const std::string& name, std::string_view value, SessionVars* applied) {
  if (!want_.Get(name)) return;
  std::string stmt = LiteralStatement(name, value);
  want_.Set(name, stmt);
  if (applied) applied->Set(name, std::move(stmt));
}

std::string PgSettings::SyncSql(const SessionVars& applied,
                                const std::map<std::string, std::string>& params) const {
  if (applied.vars == want_.vars) return "";
  VarsDiff d = Diff(want_, applied);
  std::string sql;
  for (const auto& [name, stmt] : d.set) {
    // A startup setting the connection's own login already gave it (client_encoding …).
    auto s = startup_.find(name);
    auto p = params.find(name);
    if (!applied.Get(name) && s != startup_.end() && p != params.end() && p->second == s->second &&
        stmt == LiteralStatement(name, s->second))
      continue;
    sql += stmt;
    sql += ';';
  }
  for (const auto& name : d.reset) sql += fmt::format("RESET {};", name);
  return sql;
}

}  // namespace sluice::pgproxy
