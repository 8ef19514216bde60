// StepRecorder: health's orchestration steps written to etcd through a Leadership (the
// election): each intent before its step is taken, then the outcome. A step that continues
// an unfinished one of an earlier leader keeps its id (one failover, FAILOVER_RESUMED said
// once); a switchover a new leader cannot finish is abandoned and its writes released.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "coordination/leadership.h"
#include "health/monitor.h"

namespace sluice::coordination {

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
  // Just after winning the election: every switchover of CLUSTERS an earlier leader left
  // unfinished is recorded abandoned; the clusters whose writes must flow again.
  std::vector<std::string> AbandonSwitchovers(const std::vector<std::string>& clusters);

 private:
  Leadership* leadership_;
  const std::string self_;
  EventFn event_;
  std::function<int64_t()> now_ms_;
  std::mutex mu_;
  std::set<int64_t> resumed_;  // ids of earlier leaders' failovers this one continued
};

}  // namespace sluice::coordination
