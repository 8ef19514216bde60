// StepRecorder: the fleet's orchestration steps written to etcd through a Leadership (the
// election): each intent before its step is taken, then the outcome. A step that continues
// an unfinished one of an earlier leader keeps its id (one failover, FAILOVER_RESUMED said
// once); a switchover an earlier leader left is health's to finish or roll back
// (EarlierSwitchover); a MIRROR START fork or a scale command it left is abandoned and the
// writes it held released. Gate() is the admin's and the scaler's leadership check.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "coordination/leadership.h"
#include "health/monitor.h"

namespace sluice::coordination {

// The intent key of CLUSTER's steps of KIND besides failover/switchover/adopt (which share
// intent/CLUSTER): "mirror" (MIRROR START's fork), "scale" (scale-out/in commands). Their
// own keys, so that one never overwrites another's unfinished intent.
std::string StepScope(const std::string& cluster, std::string_view kind);

class StepRecorder {
 public:
  using EventFn = std::function<void(std::string_view kind, std::string_view cluster,
                                     std::string_view server, std::string_view message)>;
  // SELF: this instance's name; NOW_MS: wall clock (a step's id is its first intent's time).
  StepRecorder(Leadership* leadership, std::string self, EventFn event,
               std::function<int64_t()> now_ms);

  // STEP of CLUSTER as an intent (false: not recorded, the step must not be taken) or an
  // outcome ("done", "abandoned": always true).
  bool Record(const std::string& cluster, const health::OrchestrationStep& step);
  // The target of an unfinished failover's promote intent on CLUSTER, "" when none.
  std::string IntendedTarget(const std::string& cluster);
  // The switchover an earlier leader left unfinished on CLUSTER (its leader's name in
  // detail), for health to finish or roll back; nullopt when none or not the leader.
  std::optional<health::OrchestrationStep> EarlierSwitchover(const std::string& cluster);
  // Just after winning the election: every MIRROR START fork and scale command of CLUSTERS an
  // earlier leader left unfinished is recorded abandoned; the clusters whose writes (held by
  // a fork) must flow again.
  std::vector<std::string> AbandonHolds(const std::vector<std::string>& clusters);
  // An operator's or the scaler's step (STEP: "switchover", "mirror_start", "scale_out",
  // "scale_in") on CLUSTER: OK on the leader; on a follower "not the fleet leader; leader is
  // X", counted by STEP unless COUNT is false (a step asked again while it stays due).
  Status Gate(std::string_view step, const std::string& cluster, bool count = true);
  // Steps Gate refused, by step; earlier leaders' steps this one finished or abandoned, by
  // "action/outcome" (stats and metrics).
  std::map<std::string, uint64_t> Refused();
  std::map<std::string, uint64_t> Taken();

 private:
  Leadership* leadership_;
  const std::string self_;
  EventFn event_;
  std::function<int64_t()> now_ms_;
  std::mutex mu_;
  std::set<int64_t> resumed_;  // ids of earlier leaders' failovers this one continued
  std::map<std::string, uint64_t> refused_;
  std::map<std::string, uint64_t> taken_;  // earlier leaders' steps: "switchover/done", ...
};

}  // namespace sluice::coordination
