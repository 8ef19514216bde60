#include "proxy/session_vars.h"

#include <strings.h>

#include <algorithm>

namespace sluice {

void SessionVars::Set(std::string name, std::string value) {
  auto it = std::find_if(vars.begin(), vars.end(), [&](auto& kv) { return kv.first == name; });
  if (strcasecmp(value.c_str(), "default") == 0) {
    if (it != vars.end()) vars.erase(it);
    return;
  }
  if (it != vars.end())
    it->second = std::move(value);
  else
    vars.emplace_back(std::move(name), std::move(value));
}

void SessionVars::Erase(const std::string& name) {
  std::erase_if(vars, [&](auto& kv) { return kv.first == name; });
}

const std::string* SessionVars::Get(const std::string& name) const {
  for (auto& [k, v] : vars)
    if (k == name) return &v;
  return nullptr;
}

VarsDiff Diff(const SessionVars& want, const SessionVars& have) {
  VarsDiff d;
  for (auto& [name, value] : want.vars) {
    const std::string* h = have.Get(name);
    if (!h || *h != value) d.set.emplace_back(name, value);
  }
  for (auto& [name, value] : have.vars)
    if (!want.Get(name)) d.reset.push_back(name);
  return d;
}

}  // namespace sluice
