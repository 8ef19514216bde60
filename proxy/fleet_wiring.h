// [coordination] composed into the process: the Fleet (coordination/) with its hooks into the
// health overlay and the admin store, lent to the monitor, the admin port and /metrics. Called
// from main (the composition root); the fleet's etcd calls stay on its own threads.
#pragma once

#include <memory>

#include "admin/control_plane.h"
#include "coordination/fleet.h"
#include "health/monitor.h"
#include "health/scaler.h"
#include "health/topology.h"

namespace sluice {

// Null without a [coordination] table (a single instance).
std::unique_ptr<coordination::Fleet> MakeFleet(const Runtime& rt, health::Topology* topology,
                                               ControlPlane* control);
// HOOKS with FLEET's leadership and step records (unchanged when FLEET is null).
health::MonitorHooks LendFleet(coordination::Fleet* fleet, health::MonitorHooks hooks);
// The scaler's: the leader runs scale_out/scale_in commands (recorded), the others observe.
health::ScalerHooks LendFleet(coordination::Fleet* fleet, health::ScalerHooks hooks);
// The admin port's part: LOAD ... TO RUNTIME goes to the whole fleet; SWITCHOVER and
// MIRROR START on a follower are refused naming the leader.
void LendFleet(coordination::Fleet* fleet, AdminService::HealthHooks* hooks);
// stats_fleet and the sluice_fleet_* families; before the control plane starts.
Status FleetTables(coordination::Fleet* fleet, ControlPlane* control);

}  // namespace sluice
