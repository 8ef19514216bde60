// FleetTopology: the leader's verdict as every instance of the fleet applies it: per cluster,
// whether writes are paused, and per server the role a failover or switchover moved, whether
// it is fenced, and the servers discovery added. Monitor states (ONLINE/SHUNNED) and lag stay
// each instance's own. Encoded as JSON in the PREFIX/topology key.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/status.h"
#include "routing/runtime.h"

namespace sluice::coordination {

struct FleetServer {
  std::optional<ServerRole> role;
  bool fenced = false;
  std::optional<Server> discovered;  // host, port, role, hostgroup, weight, limits
};

struct FleetCluster {
  bool writes_paused = false;
  std::map<std::string, FleetServer> servers;  // by "host:port"
  bool operator==(const FleetCluster&) const = default;
};

struct FleetTopology {
  std::map<std::string, FleetCluster> clusters;
};

bool operator==(const FleetServer& a, const FleetServer& b);

std::string EncodeTopology(const FleetTopology& t);
Result<FleetTopology> DecodeTopology(const std::string& json);

}  // namespace sluice::coordination
