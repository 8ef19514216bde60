// StatsCollector: the control plane's end of the workers' stats mailboxes. Takes each worker's
// delta, keeps per-worker totals (lifetime for Prometheus, since-reset for the admin tables)
// and sums them across workers on request: counters add up, gauges are each worker's latest.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "common/stats.h"

namespace sluice {

class StatsCollector {
 public:
  enum class Section { kServers, kDigests, kCommands, kUsers, kGlobal, kConsistency };

  explicit StatsCollector(std::vector<StatsMailbox*> mailboxes);
  // Called (on the polling thread) for each rejected statement the workers report.
  void SetRejectionSink(std::function<void(const RejectedStatement&)> sink) {
    rejection_sink_ = std::move(sink);
  }
  // Takes whatever each mailbox holds. Called once a second and before every read.
  void Poll();
  // Summed across workers: everything since start (never reset; Prometheus counters).
  StatsDelta Lifetime() const;
  // Summed across workers since the last Reset of each section (the admin tables).
  StatsDelta SinceReset() const;
  // SinceReset(), then zeroes SECTION's counters (gauges stay: they are not counts).
  StatsDelta TakeSinceReset(Section section);

 private:
  static StatsDelta Sum(const std::vector<StatsDelta>& per_worker);

  mutable std::mutex mu_;
  std::vector<StatsMailbox*> mailboxes_;
  std::function<void(const RejectedStatement&)> rejection_sink_;
  std::vector<StatsDelta> lifetime_;
  std::vector<StatsDelta> since_reset_;
};

// Adds W's counters to TOTAL and W's gauges to TOTAL's gauges (one worker's share).
void AddWorkerStats(StatsDelta* total, const StatsDelta& w);

}  // namespace sluice
