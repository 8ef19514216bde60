// MetricsExporter: sluice's Prometheus endpoint. A prometheus-cpp pull Exposer on
// metrics.listen serves a Collectable that builds every sluice_* family at scrape time from
// the summed worker stats and the current runtime snapshot. Labels are bounded: clusters,
// hostgroups, servers, command keywords; never statement or digest text.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "admin/event_log.h"
#include "admin/event_sink.h"
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

// sluice_event_sink_* per sink: sent, dropped, rejected, failed attempts, queue depth.
std::vector<prometheus::MetricFamily> EventSinkFamilies(const std::vector<EventSinkStats>& sinks);

// One value of a family built from plain numbers, for sources outside admin/ (health/).
struct PlainMetric {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};
prometheus::MetricFamily PlainFamily(const char* name, const char* help, bool counter,
                                     const std::vector<PlainMetric>& values);

// More families from another part of the control plane, built at scrape time.
using MetricsSource = std::function<std::vector<prometheus::MetricFamily>()>;

class SluiceCollectable : public prometheus::Collectable {
 public:
  SluiceCollectable(const RuntimeHolder* runtime, StatsCollector* stats,
                    std::vector<MetricsSource> sources)
      : runtime_(runtime), stats_(stats), sources_(std::move(sources)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const RuntimeHolder* runtime_;
  StatsCollector* stats_;
  const std::vector<MetricsSource> sources_;
};

class MetricsExporter {
 public:
  MetricsExporter(const RuntimeHolder* runtime, StatsCollector* stats,
                  std::vector<MetricsSource> sources = {});
  ~MetricsExporter();
  // Binds host:port; an error when the port is taken.
  Status Start(const MetricsSettings& settings);

 private:
  std::shared_ptr<SluiceCollectable> collectable_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace sluice
