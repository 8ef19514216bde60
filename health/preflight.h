// preflight: `sluice --check --connect`. Logs in to every configured server as the monitor
// user and as the failover (admin) user, with the cluster's backend_tls as the monitor uses
// it, and checks the privileges health/ needs, so that a missing GRANT shows before the first
// failover instead of during it. Blocking; runs in main before anything starts, never in
// the data plane.
#pragma once

#include <string>
#include <vector>

#include "routing/runtime.h"

namespace sluice::health {

// One line per problem ("cluster app: server 10.0.0.1:3306: monitor_user monitor: ..."),
// empty when every login works and holds what it needs.
std::vector<std::string> PreflightConnect(const Runtime& rt);

}  // namespace sluice::health
