// Topology: composes the published Runtime from the configured topology (config file / admin
// tables) and the health overlay (monitor verdicts, lag, failover role changes, discovered
// servers, paused writes), and publishes every change with a bumped version. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "routing/runtime.h"

namespace sluice::health {

// What health knows about one server, laid over its configured row.
struct ServerOverlay {
  std::optional<ServerState> state;  // the monitor's verdict: ONLINE or SHUNNED
  bool fenced = false;               // failover took it out of service: OFFLINE_HARD
  int64_t lag_ms = 0;
  std::optional<ServerRole> role;  // moved by a failover, switchover or adoption
  // The numeric address the monitor resolved the host name to ("" until resolved, or when
  // it does not resolve).
  std::string address;
  // Found by discovery, not configured: appended to the cluster with this row.
  std::optional<Server> discovered;
  // A joining replica's share of its weight (health/scaler's ramp), 1..1000.
  int ramp_permille = 1000;
};

struct ClusterOverlay {
  bool writes_paused = false;
  std::map<std::string, ServerOverlay> servers;  // by "host:port"
};

struct Overlay {
  std::map<std::string, ClusterOverlay> clusters;  // by cluster name
  int64_t fleet_revision = 0;  // the fleet's topology revision applied (coordination/)
};

// CONFIG with OVERLAY applied. An operator's OFFLINE_SOFT/OFFLINE_HARD wins over the monitor;
// a fence wins over a configured ONLINE; a role change moves the server's hostgroup.
Runtime Compose(const Runtime& config, const Overlay& overlay);

class Topology {
 public:
  explicit Topology(RuntimeHolder* holder) : holder_(holder) {}

  // The configured topology (startup, admin LOAD ... TO RUNTIME); publishes.
  void SetConfig(Runtime config);
  // EDIT changes the overlay and returns whether anything changed; publishes if so.
  void Update(const std::function<bool(Overlay*)>& edit);

  Runtime config() const;
  Overlay overlay() const;
  RuntimePtr Current() const { return holder_->Load(); }

 private:
  void PublishLocked();

  RuntimeHolder* holder_;
  mutable std::mutex mu_;
  bool has_config_ = false;
  Runtime config_;
  Overlay overlay_;
};

}  // namespace sluice::health
