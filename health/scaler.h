// Scaler: workload-driven scale-out and scale-in of a cluster's reader side. Once a second it
// turns the statistics the workers hand over into reads per replica, pool waits per second
// and the replicas' p95 latency; above a threshold for scale_out_window_ms it runs the
// operator's scale_out_command, below the lower threshold for scale_in_window_ms it drains
// the least useful discovered replica and runs scale_in_command for it. It also ramps a
// joining replica's share of reads up over replica_ramp_ms. Its own thread per cluster.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/stats.h"
#include "common/status.h"
#include "health/monitor.h"
#include "health/topology.h"

namespace sluice::health {

// One second of a cluster's reader side.
struct ScaleSample {
  int64_t now_ms = 0;
  int replicas = 0;  // ONLINE replicas in the reader hostgroup
  double reads_per_replica = 0;
  double pool_waits_per_s = 0;
  double p95_ms = 0;
  bool busy = false;  // a failover or switchover holds writes
};

// The decision part, pure: thresholds, windows, cooldown, bounds.
class ScalePolicy {
 public:
  enum class Action { kNone, kScaleOut, kScaleIn };
  // REMOVABLE: discovered replicas scale-in may take. *WHY says what the window saw.
  Action Observe(const Cluster& c, const ScaleSample& s, int removable, std::string* why);
  // An action finished at NOW_MS: the cooldown starts, the windows start over.
  void ActionDone(int64_t now_ms);

 private:
  int64_t high_since_ = -1;
  int64_t low_since_ = -1;
  int64_t last_action_ms_ = -1;
};

// The p95 of H in milliseconds (a bucket's upper bound; 2000 for the +Inf bucket); 0 if empty.
double P95Ms(const LatencyHistogram& h);

struct ScalerHooks {
  std::function<void(std::string_view kind, std::string_view cluster, std::string_view server,
                     const std::string& message)>
      event;
  // The statistics since start (counters only grow); gauges as of the last hand-over.
  std::function<StatsDelta()> stats;
  // A fleet ([coordination]): whether this instance may run CLUSTER's STEP ("scale_out",
  // "scale_in"): the leader runs the commands, the others only observe (the error names the
  // leader). COUNT: a refusal is counted (once per stretch of time the step is due). Null:
  // always.
  std::function<Status(const std::string& cluster, std::string_view step, bool count)> gate;
  // Records a command as an intent before it runs (false: not recorded, not run) and its
  // outcome after (monitor.h's OrchestrationStep: action "scale_out"/"scale_in", phase
  // "command", then "done"/"abandoned"). Null: nothing recorded.
  std::function<bool(const std::string& cluster, const OrchestrationStep& step)> record_step;
};

class Scaler {
 public:
  Scaler(Topology* topology, std::string cluster, ScalerHooks hooks);
  ~Scaler() { Stop(); }
  void Start();
  void Stop();
  // Tests: one tick at NOW (monotonic ms) on the caller's thread, then the action it started
  // (if any) waited for.
  void TickForTest(int64_t now);

 private:
  void Loop();
  void Tick(int64_t now);
  // The action's outcome recorded in the fleet (record_step); true without a fleet.
  bool Record(const char* action, const char* phase, const std::string& server,
              const std::string& detail);
  void Sample(const Cluster& c, int64_t now);
  void Ramp(const Cluster& c, int64_t now);
  // Run on action_ (one at a time) so that the ramp keeps moving meanwhile.
  void ScaleOut(Cluster c, std::string why);
  void ScaleIn(Cluster c, std::string victim, std::string why);
  std::string Victim(const Cluster& c) const;
  void Event(std::string_view kind, std::string_view server, const std::string& msg) {
    if (hooks_.event) hooks_.event(kind, cluster_, server, msg);
  }

  Topology* topology_;
  const std::string cluster_;
  ScalerHooks hooks_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  // The scaler's thread only.
  ScalePolicy policy_;
  bool started_ = false;
  int64_t last_sample_ms_ = 0;
  StatsDelta prev_;
  std::map<std::string, uint64_t> recent_queries_;  // per replica, the last sample's
  std::set<std::string> online_;                    // reader servers ONLINE last tick
  std::map<std::string, int64_t> ramping_;          // server -> when it joined
  bool left_to_leader_ = false;  // an action due while following: said once until it passes
  std::thread action_;
  std::atomic<bool> action_running_{false};
  std::atomic<bool> stopping_{false};        // ends a running command and the drain wait
  std::atomic<int64_t> action_done_ms_{-1};  // set by the action, read by the loop
};

// One Scaler per cluster of the configuration (main starts it beside the monitor).
class ScalerSet {
 public:
  ScalerSet(Topology* topology, ScalerHooks hooks)
      : topology_(topology), hooks_(std::move(hooks)) {}
  ~ScalerSet() { Stop(); }
  void Start();
  void Stop();

 private:
  Topology* topology_;
  ScalerHooks hooks_;
  std::vector<std::unique_ptr<Scaler>> scalers_;
};

}  // namespace sluice::health
