// HealthMonitor: the control plane's eyes and hands. One thread per cluster checks every
// server each monitor_interval_ms, publishes state (with hysteresis), lag and resolved
// addresses through the Topology, judges the round (decision.h), fails over a dead primary,
// fences, follows outside role changes, adds discovered replicas, and runs SWITCHOVER.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "health/node.h"
#include "health/topology.h"
#include "routing/causal.h"

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

// One orchestration step as a fleet records it (coordination/): the intent before the step
// is taken, its outcome after.
struct OrchestrationStep {
  std::string action;       // "failover" | "switchover" | "adopt"
  std::string phase;        // intent: "fence" | "drain" | "promote" | "adopt"; "done" | "abandoned"
  std::string old_primary;  // host:port
  std::string target;       // host:port ("" until a candidate is chosen)
  std::string detail;
};

struct MonitorHooks {
  // Every state change, failover step and refusal (admin's EventLog::Append).
  std::function<void(std::string_view kind, std::string_view cluster, std::string_view server,
                     std::string_view message)>
      event;
  // Backend connections borrowed on SERVER ("host:port") of CLUSTER right now (stats
  // collector's conns_used); null: switchover drains for a fixed moment instead.
  std::function<int64_t(const std::string& cluster, const std::string& server)> in_flight;
  // Whether this instance may orchestrate CLUSTER right now (promote, fence, adopt, switch
  // over); null: always. A leadership lease (etcd) answers here.
  std::function<bool(const std::string& cluster)> may_orchestrate;
  // Records STEP of CLUSTER: an intent before the step is taken (false: not recorded, the
  // leadership is lost; the step is not taken) or an outcome after it (answer ignored).
  // Null: nothing recorded (a single instance).
  std::function<bool(const std::string& cluster, const OrchestrationStep& step)> record_step;
  // The target of a promotion an earlier leader intended on CLUSTER and did not finish (""
  // when none): the failover promotes it rather than choosing again. Null: none.
  std::function<std::string(const std::string& cluster)> intended_target;
  // Where the monitor publishes the positions it reads of CLUSTER's servers (a primary's
  // written, a replica's applied): workers skip a causal read's check on a replica whose
  // position covers the read's target. Null: nowhere.
  std::function<routing::PositionBoard*(const std::string& cluster)> position_board;
  // A switchover an earlier leader of the fleet left unfinished on CLUSTER (that leader in
  // detail; nullopt: none, or not the leader): the monitor finishes it (its target was
  // promoted) or rolls it back (the old primary unfenced), and releases the writes it held.
  // Null: none.
  std::function<std::optional<OrchestrationStep>(const std::string& cluster)> unfinished_switchover;
  // The data plane's word that a connection to a server of CLUSTER just failed (a refused
  // connect, a reset before any byte was sent): true once per word, and the monitor runs its
  // next round now rather than at the end of monitor_interval_ms (one early round per
  // interval, at least kMinRoundGapMs after the last one's start). Asked every kSuspectPollMs from
  // the monitor's thread; the workers' side is one relaxed atomic store (proxy/shared.h,
  // ClusterCounters). Null: never.
  std::function<bool(const std::string& cluster)> take_check_request;
  // Null: the real engines (MakeNode). Unit tests script fakes.
  NodeFactory node_factory;
  // Runs ARGV bounded by TIMEOUT_MS; the exit status (-1: did not finish). Null: fork/exec.
  std::function<int(const std::vector<std::string>& argv, int timeout_ms, std::string* output)>
      run_command;
};

// What the monitor did, per cluster, since start (Prometheus counters).
struct HealthCounters {
  int64_t failovers = 0;
  int64_t switchovers = 0;
  int64_t adoptions = 0;
  int64_t split_brain_holds = 0;
  int64_t fence_actions = 0;
  int64_t failovers_refused = 0;
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
  HealthCounters Counters(const std::string& cluster) const;

  // Tests: one round of every cluster on the caller's thread, instead of Start().
  void RunRoundForTest();
  // ClusterMonitor::PrimaryWindowEndMs of the i-th cluster (0 when there is none).
  int64_t PrimaryWindowEndForTest(size_t i);

 private:
  friend class ClusterMonitor;
  void Record(CheckRecord r);
  void Event(std::string_view kind, std::string_view cluster, std::string_view server,
             const std::string& message);
  void Count(const std::string& cluster, int64_t HealthCounters::*which);
  void MakeClusters();

  Topology* topology_;
  MonitorHooks hooks_;
  std::vector<std::unique_ptr<ClusterMonitor>> clusters_;
  mutable std::mutex records_mu_;
  std::deque<CheckRecord> records_;
  std::map<std::string, HealthCounters> counters_;  // under records_mu_
};

}  // namespace sluice::health
