// Leadership: what health/ asks before it orchestrates (failover, switchover, fencing,
// discovery additions), and where it writes each step before taking it. A single instance
// (no [coordination]) has no Leadership and always orchestrates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sluice::coordination {

// One orchestration step as recorded in etcd: the intent before it is taken, then its outcome.
struct Step {
  std::string action;  // "failover" | "switchover"
  // "fence" (about to fence OLD and pause writes), "promote" (about to promote TARGET),
  // then "done" or "abandoned".
  std::string phase;
  std::string old_primary;
  std::string target;
  std::string leader;  // the instance that wrote it
  std::string detail;
  int64_t id = 0;  // wall-clock ms of the step's first intent; one id per failover
  bool finished() const { return phase == "done" || phase == "abandoned"; }
};

class Leadership {
 public:
  virtual ~Leadership() = default;
  // Whether this instance may orchestrate CLUSTER now: it holds the leader key on a lease it
  // renewed recently enough that no other instance can hold it. Cheap (no etcd call).
  virtual bool MayOrchestrate(const std::string& cluster) = 0;
  // The instance that leads, "" when unknown (for messages).
  virtual std::string Leader() = 0;
  // Writes STEP as CLUSTER's intent while this instance still holds the leader key. False:
  // not written (leadership lost, etcd unreachable): the caller must not take the step.
  virtual bool RecordIntent(const std::string& cluster, const Step& step) = 0;
  // Writes STEP's outcome (phase "done" or "abandoned"); best effort.
  virtual void RecordOutcome(const std::string& cluster, const Step& step) = 0;
  // The step a previous leader left unfinished on CLUSTER (intent without outcome), if any.
  virtual std::optional<Step> Unfinished(const std::string& cluster) = 0;
};

}  // namespace sluice::coordination
