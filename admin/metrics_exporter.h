// MetricsExporter: sluice's Prometheus endpoint. A prometheus-cpp pull Exposer on
// metrics.listen serves a Collectable that builds every sluice_* family at scrape time from
// the summed worker stats and the current runtime snapshot. Labels are bounded: clusters,
// hostgroups, servers, command keywords; never statement or digest text.
#pragma once

#include <memory>
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

// The families of one scrape; a function of the stats and the snapshot only (unit-testable).
std::vector<prometheus::MetricFamily> BuildMetricFamilies(const StatsDelta& stats,
                                                          const Runtime& rt);

class SluiceCollectable : public prometheus::Collectable {
 public:
  SluiceCollectable(const RuntimeHolder* runtime, StatsCollector* stats)
      : runtime_(runtime), stats_(stats) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const RuntimeHolder* runtime_;
  StatsCollector* stats_;
};

class MetricsExporter {
 public:
  MetricsExporter(const RuntimeHolder* runtime, StatsCollector* stats);
  ~MetricsExporter();
  // Binds host:port; an error when the port is taken.
  Status Start(const MetricsSettings& settings);
  // Another source of families on the same endpoint (no-op while the endpoint is disabled).
  void Register(const std::shared_ptr<prometheus::Collectable>& c);

 private:
  std::shared_ptr<SluiceCollectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace sluice
