#include "proxy/mysql/session_state.h"

#include <algorithm>
#include <cctype>

namespace sluice::mysqlproxy {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

}  // namespace

std::string NormaliseVarName(std::string_view w) {
  while (!w.empty() && std::isspace(static_cast<unsigned char>(w.front()))) w.remove_prefix(1);
  while (!w.empty() && std::isspace(static_cast<unsigned char>(w.back()))) w.remove_suffix(1);
  if (StartsWithNoCase(w, "@@global.") || StartsWithNoCase(w, "global ")) return "";
  for (std::string_view p : {"@@session.", "@@local.", "session ", "local ", "@@"}) {
    if (StartsWithNoCase(w, p)) {
      w.remove_prefix(p.size());
      break;
    }
  }
  if (w.empty() || w.front() == '@') return "";
  std::string name = Lower(w);
  if (name.size() >= 2 && name.front() == '`' && name.back() == '`')
    name = name.substr(1, name.size() - 2);
  return name;
}

std::vector<SyncStep> PlanSync(const SessionState& want, const SessionState& have) {
  std::vector<SyncStep> steps;
  if (want.schema != have.schema && !want.schema.empty())
    steps.push_back({SyncStep::kInitDb, want.schema});
  const std::string* wn = want.Get("names");
  const std::string* hn = have.Get("names");
  if (wn && (!hn || *hn != *wn)) steps.push_back({SyncStep::kQuery, "SET NAMES " + *wn});
  std::string set;
  auto add = [&set](const std::string& name, const std::string& value) {
    set += set.empty() ? "SET " : ", ";
    set += name;
    set += '=';
    set += value;
  };
  VarsDiff d = Diff(want, have);
  for (auto& [name, value] : d.set)
    if (name != "names") add(name, value);
  for (auto& name : d.reset)
    if (name != "names") add(name, "DEFAULT");
  if (!set.empty()) steps.push_back({SyncStep::kQuery, std::move(set)});
  return steps;
}

}  // namespace sluice::mysqlproxy
