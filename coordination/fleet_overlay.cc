#include "coordination/fleet_overlay.h"

namespace sluice::coordination {

using health::ClusterOverlay;
using health::Overlay;
using health::ServerOverlay;

FleetTopology VerdictOf(const Overlay& overlay) {
  FleetTopology t;
  for (const auto& [name, co] : overlay.clusters) {
    FleetCluster& fc = t.clusters[name];
    fc.writes_paused = co.writes_paused;
    for (const auto& [hp, so] : co.servers) {
      if (!so.role && !so.fenced && !so.discovered) continue;  // nothing the leader decided
      FleetServer& fs = fc.servers[hp];
      fs.role = so.role;
      fs.fenced = so.fenced;
      fs.discovered = so.discovered;
    }
  }
  return t;
}

bool ApplyVerdict(const FleetTopology& verdict, Overlay* overlay) {
  bool changed = false;
  for (auto& [name, co] : overlay->clusters) {
    auto fc = verdict.clusters.find(name);
    const FleetCluster empty;
    const FleetCluster& v = fc == verdict.clusters.end() ? empty : fc->second;
    if (co.writes_paused != v.writes_paused) co.writes_paused = v.writes_paused, changed = true;
    for (auto it = co.servers.begin(); it != co.servers.end();) {
      ServerOverlay& so = it->second;
      auto fs = v.servers.find(it->first);
      if (fs == v.servers.end()) {
        if (so.discovered) {  // the leader removed it
          it = co.servers.erase(it);
          changed = true;
          continue;
        }
        if (so.role || so.fenced) so.role.reset(), so.fenced = false, changed = true;
      }
      ++it;
    }
  }
  for (const auto& [name, v] : verdict.clusters) {
    ClusterOverlay& co = overlay->clusters[name];
    if (co.writes_paused != v.writes_paused) co.writes_paused = v.writes_paused, changed = true;
    for (const auto& [hp, fs] : v.servers) {
      ServerOverlay& so = co.servers[hp];
      if (so.role != fs.role) {
        so.role = fs.role;
        // As the leader's Publish: the new primary is online (this instance's monitor starts
        // its verdict afresh when it sees the role moved).
        if (fs.role == ServerRole::kPrimary) so.state = ServerState::kOnline;
        changed = true;
      }
      if (so.fenced != fs.fenced) so.fenced = fs.fenced, changed = true;
      if (fs.discovered && !so.discovered) {
        so.discovered = fs.discovered;
        so.state = ServerState::kOnline;
        changed = true;
      }
      // The new primary is as the leader saw it: online and not lagging.
      if (fs.role == ServerRole::kPrimary && so.lag_ms != 0) so.lag_ms = 0, changed = true;
    }
  }
  return changed;
}

}  // namespace sluice::coordination
