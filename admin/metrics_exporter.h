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
#include "mirror/report.h"
#include "routing/runtime.h"

namespace prometheus {
class Exposer;
}

namespace sluice {

// The families of one scrape; a function of the stats and the snapshot only (unit-testable).
std::vector<prometheus::MetricFamily> BuildMetricFamilies(const StatsDelta& stats,
                                                          const Runtime& rt);

// The mirror report's families, per mirror (no digest labels): digests per verdict, outcomes
// by side and ok/error, latency per side.
std::vector<prometheus::MetricFamily> BuildMirrorFamilies(
    const std::vector<mirror::MirrorSummary>& mirrors);

class SluiceCollectable : public prometheus::Collectable {
 public:
  SluiceCollectable(const RuntimeHolder* runtime, StatsCollector* stats,
                    mirror::MirrorReport* mirror = nullptr)
      : runtime_(runtime), stats_(stats), mirror_(mirror) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const RuntimeHolder* runtime_;
  StatsCollector* stats_;
  mirror::MirrorReport* mirror_;
};

class MetricsExporter {
 public:
  MetricsExporter(const RuntimeHolder* runtime, StatsCollector* stats,
                  mirror::MirrorReport* mirror = nullptr);
  ~MetricsExporter();
  // Binds host:port; an error when the port is taken.
  Status Start(const MetricsSettings& settings);

 private:
  std::shared_ptr<SluiceCollectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace sluice
