// The health overlay as the fleet shares it (coordination/fleet_topology.h): the leader
// publishes VerdictOf(overlay); a follower lays the published verdict over its own overlay,
// keeping its own monitor states and lag.
#pragma once

#include "coordination/fleet_topology.h"
#include "health/topology.h"

namespace sluice::coordination {

FleetTopology VerdictOf(const health::Overlay& overlay);
// Roles, fences, paused writes and discovered servers from VERDICT; true if anything changed.
bool ApplyVerdict(const FleetTopology& verdict, health::Overlay* overlay);

}  // namespace sluice::coordination
