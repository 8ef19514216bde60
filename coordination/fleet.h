// Fleet: this instance's membership in a fleet of sluice instances through etcd
// ([coordination]). Two control-plane threads: the ticker (lease, heartbeat, election, and
// the leader's topology publication every 200 ms) and the watcher (PREFIX/ watched: the
// topology and config every instance applies). It is the Leadership health/ asks before it
// orchestrates. Nothing here runs on a worker thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "coordination/election.h"
#include "coordination/etcd_client.h"
#include "coordination/fleet_steps.h"
#include "coordination/fleet_topology.h"
#include "coordination/leadership.h"
#include "health/monitor.h"
#include "routing/runtime.h"

namespace sluice::coordination {

struct FleetHooks {
  // The leader's current verdict (health's overlay), published when it changes.
  std::function<FleetTopology()> verdict;
  // A follower applies the leader's published verdict.
  std::function<void(const FleetTopology&, int64_t revision)> apply_topology;
  // The leader published its verdict as REVISION.
  std::function<void(int64_t revision)> published;
  // A configuration another instance LOADed (the JSON PublishConfig was given); an error
  // keeps the previous runtime.
  std::function<Status(const std::string& tables_json)> apply_config;
  // FLEET_* and FAILOVER_RESUMED/SWITCHOVER_ABORTED events (admin's EventLog).
  std::function<void(std::string_view kind, std::string_view cluster, std::string_view server,
                     std::string_view message)>
      event;
  // The configured clusters' names (a new leader looks at their unfinished steps).
  std::function<std::vector<std::string>()> clusters;
  // Writes of CLUSTER flow again (a new leader abandoned the MIRROR START fork an earlier
  // leader left holding them).
  std::function<void(const std::string& cluster)> unpause;
};

struct FleetInstance {
  std::string instance;
  int64_t heartbeat_age_ms = -1;
  bool leader = false;
  int64_t topology_revision = 0;
  int64_t config_revision = 0;
  bool self = false;
};

std::string TopologyKey(const std::string& prefix);
std::string ConfigKey(const std::string& prefix);

class Fleet : public Leadership {
 public:
  Fleet(const CoordinationSettings& settings, std::string instance, FleetHooks hooks,
        std::unique_ptr<KvStore> store = nullptr);
  ~Fleet() override { Stop(); }

  void Start();
  void Stop();  // resigns the leadership and revokes the lease

  // LOAD ... TO RUNTIME on this instance: the tables as one revision for the whole fleet.
  Status PublishConfig(const std::string& tables_json);
  // stats_fleet: every instance with a live heartbeat key (this one even when etcd is down).
  std::vector<FleetInstance> Instances();

  const std::string& instance() const { return instance_; }
  bool leader() const { return election_.leader(); }
  bool connected() const { return election_.connected(); }
  int64_t topology_revision() const { return topology_rev_.load(); }
  int64_t config_revision() const { return config_rev_.load(); }
  uint64_t lease_renewals() const { return election_.renewals(); }
  uint64_t lease_losses() const { return election_.losses(); }
  uint64_t etcd_errors() const;

  bool MayOrchestrate(const std::string& c) override { return election_.MayOrchestrate(c); }
  std::string Leader() override { return election_.Leader(); }
  bool RecordIntent(const std::string& c, const Step& s) override {
    return election_.RecordIntent(c, s);
  }
  void RecordOutcome(const std::string& c, const Step& s) override {
    election_.RecordOutcome(c, s);
  }
  std::optional<Step> Unfinished(const std::string& c) override { return election_.Unfinished(c); }

  // health's MonitorHooks::record_step and intended_target (coordination/fleet_steps.h).
  bool RecordStep(const std::string& cluster, const health::OrchestrationStep& step) {
    return steps_.Record(cluster, step);
  }
  std::string IntendedTarget(const std::string& cluster) { return steps_.IntendedTarget(cluster); }
  // MonitorHooks::unfinished_switchover: an earlier leader's switchover health finishes or
  // rolls back.
  std::optional<health::OrchestrationStep> EarlierSwitchover(const std::string& cluster) {
    return steps_.EarlierSwitchover(cluster);
  }
  // SWITCHOVER, MIRROR START and the scaler's commands ask here (StepRecorder::Gate).
  Status Gate(std::string_view step, const std::string& cluster, bool count = true) {
    return steps_.Gate(step, cluster, count);
  }
  std::map<std::string, uint64_t> StepsRefused() { return steps_.Refused(); }
  std::map<std::string, uint64_t> StepsTaken() { return steps_.Taken(); }

 private:
  void TickLoop();
  void WatchLoop();
  void Apply(const KeyValue& kv);
  // A new leader: forks and scale commands an earlier leader left unfinished are abandoned,
  // the writes a fork held released (its switchovers are health's: EarlierSwitchover).
  void AbandonHolds();
  bool Sleep(int ms);  // false once stopping
  std::string Heartbeat() const;

  const CoordinationSettings settings_;
  const std::string instance_;
  // This process among the instance's runs: its own config revisions are skipped by this,
  // not by the name, so that a restarted instance applies what it published before.
  const std::string run_;
  FleetHooks hooks_;
  std::unique_ptr<KvStore> store_;
  EtcdClient* etcd_ = nullptr;  // store_ when it is the real client (error counter)
  Election election_;
  std::atomic<int64_t> topology_rev_{0};
  std::atomic<int64_t> config_rev_{0};
  std::atomic<uint64_t> apply_errors_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::string last_published_;  // the topology this instance last wrote or applied
  bool was_connected_ = true;
  int64_t config_seen_ = 0;  // the newest config revision judged (watcher thread only)
  StepRecorder steps_;       // on election_
  std::thread ticker_;
  std::thread watcher_;
};

}  // namespace sluice::coordination
