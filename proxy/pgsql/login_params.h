// PgLoginParams: what a backend login of a cluster, database and user reported
// (ParameterStatus), kept per worker so that a client login can be answered without a
// backend while the primary is held or does not answer (session_login.cc, as PgBouncer
// answers from its pool's cached settings). Only the worker's thread touches it; bounded.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::pgproxy {

class PgLoginParams {
 public:
  // Most (cluster, database, user) keys one worker keeps; a new key beyond it evicts one.
  static constexpr size_t kMaxEntries = 1024;

  // The settings in the order the server reported them: original-case name, value.
  using Params = std::vector<std::pair<std::string, std::string>>;

  // A backend login of CLUSTER / DATABASE / USER reported PARAMS (lower-case name ->
  // value) with NAMES (lower-case -> original case).
  void Learn(std::string_view cluster, std::string_view database, std::string_view user,
             const std::map<std::string, std::string>& params,
             const std::map<std::string, std::string>& names);
  // What the last login of that key reported, or nullptr when none did on this worker.
  const Params* Find(std::string_view cluster, std::string_view database,
                     std::string_view user) const;
  size_t size() const { return entries_.size(); }

 private:
  static std::string Key(std::string_view cluster, std::string_view database,
                         std::string_view user);
  std::map<std::string, Params, std::less<>> entries_;
};

}  // namespace sluice::pgproxy
