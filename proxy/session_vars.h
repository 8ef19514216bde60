// SessionVars: the settings a client set on its connection, by name, in the order first set,
// and the difference between what a client wants and what a pooled backend connection has.
// Both protocols' sessions keep one per client and one per backend connection.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace sluice {

struct SessionVars {
  // name -> value; what a value means is the protocol's (MySQL: the SQL expression text;
  // PostgreSQL: the statement that brings the setting there).
  std::vector<std::pair<std::string, std::string>> vars;

  // Records name = value; a value of DEFAULT (any case) removes the entry: the connection
  // is back at the server's default.
  void Set(std::string name, std::string value);
  void Erase(const std::string& name);
  const std::string* Get(const std::string& name) const;
  void Clear() { vars.clear(); }
  bool empty() const { return vars.empty(); }
};

// What turns `have` into `want`: the entries of want that have lacks or holds with another
// value (in want's order), then the names have holds and want does not (to reset).
struct VarsDiff {
  std::vector<std::pair<std::string, std::string>> set;
  std::vector<std::string> reset;
  bool empty() const { return set.empty() && reset.empty(); }
};
VarsDiff Diff(const SessionVars& want, const SessionVars& have);

}  // namespace sluice
