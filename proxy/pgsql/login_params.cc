// PgLoginParams: the per-worker cache of backend login settings (login_params.h).
#include "proxy/pgsql/login_params.h"

namespace sluice::pgproxy {

std::string PgLoginParams::Key(std::string_view cluster, std::string_view database,
                               std::string_view user) {
  // NUL cannot occur in a PostgreSQL identifier or in a StartupMessage string.
  std::string k;
  k.reserve(cluster.size() + database.size() + user.size() + 2);
  k.append(cluster).push_back('\0');
  k.append(database).push_back('\0');
  k.append(user);
  return k;
}

void PgLoginParams::Learn(std::string_view cluster, std::string_view database,
                          std::string_view user, const std::map<std::string, std::string>& params,
                          const std::map<std::string, std::string>& names) {
  Params p;
  p.reserve(params.size());
  for (const auto& [name, value] : params) {
    auto it = names.find(name);
    p.emplace_back(it != names.end() ? it->second : name, value);
  }
  std::string k = Key(cluster, database, user);
  auto it = entries_.find(k);
  if (it != entries_.end()) {
    it->second = std::move(p);
    return;
  }
  if (entries_.size() >= kMaxEntries) entries_.erase(entries_.begin());
  entries_.emplace(std::move(k), std::move(p));
}

const PgLoginParams::Params* PgLoginParams::Find(std::string_view cluster,
                                                 std::string_view database,
                                                 std::string_view user) const {
  auto it = entries_.find(Key(cluster, database, user));
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace sluice::pgproxy
