// MetricsExporter: sluice's Prometheus endpoint. A prometheus-cpp pull Exposer on
// metrics.listen serves a Collectable that builds every sluice_* family at scrape time from
// the summed worker stats and the current runtime snapshot. Labels are bounded: clusters,
// hostgroups, servers, command keywords; never statement or digest text.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "admin/event_log.h"
#include "admin/stats_collector.h"
#include "common/status.h"
#include "routing/runtime.h"

namespace prometheus {
class Exposer;
}

namespace sluice {

// What the control plane's failover did in one cluster since start (health/'s counters,
// handed over by main() so that admin/ does not depend on health/).
struct FailoverCounts {
  int64_t failovers = 0;
  int64_t switchovers = 0;
  int64_t adoptions = 0;
  int64_t split_brain_holds = 0;
  int64_t fence_actions = 0;
  int64_t failovers_refused = 0;
};
using FailoverCountsFn = std::function<FailoverCounts(const std::string& cluster)>;

// The families of one scrape; a function of the stats, the snapshot and the failover counts
// only (unit-testable).
std::vector<prometheus::MetricFamily> BuildMetricFamilies(const StatsDelta& stats,
                                                          const Runtime& rt,
                                                          const FailoverCountsFn& failover = {});

class SluiceCollectable : public prometheus::Collectable {
 public:
  SluiceCollectable(const RuntimeHolder* runtime, StatsCollector* stats, FailoverCountsFn failover)
      : runtime_(runtime), stats_(stats), failover_(std::move(failover)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const RuntimeHolder* runtime_;
  StatsCollector* stats_;
  FailoverCountsFn failover_;
};

class MetricsExporter {
 public:
  MetricsExporter(const RuntimeHolder* runtime, StatsCollector* stats,
                  FailoverCountsFn failover = {});
  ~MetricsExporter();
  // Binds host:port; an error when the port is taken.
  Status Start(const MetricsSettings& settings);

 private:
  std::shared_ptr<SluiceCollectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace sluice
