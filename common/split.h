// SplitList: a configuration list such as "a, b,c" as its items. One splitter for every
// comma-separated setting (discovery, discovery_allow, schema_watch_databases, sink kinds).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// Items between commas, with spaces and tabs removed; empty items are dropped.
inline std::vector<std::string> SplitList(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ' && c != '\t') {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace sluice
