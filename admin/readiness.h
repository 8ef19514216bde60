// readiness: what /health/ready and the sluice_ready gauge answer, as a pure function of the
// runtime snapshot. Ready = the listeners accept (not draining) and every cluster has a
// writable primary (an ONLINE primary in its writer hostgroup) or is in a bounded hold
// (writes paused by a failover/switchover for at most write_hold_timeout_ms).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "routing/runtime.h"

namespace sluice {

struct ClusterReadiness {
  std::string name;
  bool ready = false;
  std::string state;    // "primary" | "hold" | "no_primary"
  std::string primary;  // host:port of the writable primary, "" when none
  std::string reason;   // why not ready (or what the hold is), "" when plainly ready
};

struct Readiness {
  bool ready = false;
  std::string reason;  // the first cause, "" when ready
  std::vector<ClusterReadiness> clusters;
  std::string Json() const;  // {"status":"ready"|"not_ready","reason":...,"clusters":[...]}
};

// When each cluster's writes were first seen paused (unix ms); CheckReadiness keeps it.
using HoldSince = std::map<std::string, int64_t>;

Readiness CheckReadiness(const Runtime& rt, bool accepting, int64_t now_ms, HoldSince* holds);

// A JSON string literal of S (quotes, backslashes and control characters escaped).
std::string JsonString(const std::string& s);

}  // namespace sluice
