// HealthMonitor: the control plane's eyes and hands. One thread per cluster checks every
// server each monitor_interval_ms, publishes state (with hysteresis) and lag through the
// Topology, fails over a dead primary, adds discovered replicas, and runs SWITCHOVER.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "coordination/leadership.h"
#include "health/topology.h"

namespace sluice::health {

// One check of one server, as the admin table stats_monitor shows it.
struct CheckRecord {
  int64_t time_unix_ms = 0;
  std::string cluster;
  std::string server;
  bool ok = false;
  int64_t latency_us = 0;
  std::string role_seen;  // "primary", "replica", or "" when unreachable
  int64_t lag_ms = 0;
  std::string error;
};

struct MonitorHooks {
  // Every state change, failover step and refusal (admin's EventLog::Append).
  std::function<void(std::string_view kind, std::string_view cluster, std::string_view server,
                     std::string_view message)>
      event;
  // Backend connections borrowed on SERVER ("host:port") of CLUSTER right now (stats
  // collector's conns_used); null: switchover drains for a fixed moment instead.
  std::function<int64_t(const std::string& cluster, const std::string& server)> in_flight;
  // A fleet ([coordination]): only while it says so does this instance fail over, switch
  // over, fence or add discovered servers, and each step is recorded there first. Null: a
  // single instance, which always may.
  coordination::Leadership* leadership = nullptr;
};

class ClusterMonitor;

class HealthMonitor {
 public:
  HealthMonitor(Topology* topology, MonitorHooks hooks);
  ~HealthMonitor();

  // One thread per cluster of the topology's configuration.
  void Start();
  void Stop();

  // Planned primary change; TARGET "host:port" or "" for the most advanced replica. Blocks
  // until done (bounded); the status message reports the pause.
  Result<std::string> Switchover(const std::string& cluster, const std::string& target);

  // The newest checks, oldest first (bounded ring).
  std::vector<CheckRecord> RecentChecks() const;

 private:
  friend class ClusterMonitor;
  void Record(CheckRecord r);
  void Event(std::string_view kind, std::string_view cluster, std::string_view server,
             const std::string& message);

  Topology* topology_;
  MonitorHooks hooks_;
  std::vector<std::unique_ptr<ClusterMonitor>> clusters_;
  mutable std::mutex records_mu_;
  std::deque<CheckRecord> records_;
};

}  // namespace sluice::health
