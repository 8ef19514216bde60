// MetricsExporter: sluice's HTTP endpoint on metrics.listen (civetweb, a few threads, off the
// data plane): /metrics serves a Collectable that builds every sluice_* family at scrape
// time from the summed worker stats and the current runtime snapshot (prometheus-cpp's text
// format); /health/live and /health/ready answer load balancers and orchestrators with JSON
// (admin/readiness.h). Labels are bounded: clusters, hostgroups, servers, command keywords;
// never statement or digest text.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "admin/event_log.h"
#include "admin/readiness.h"
#include "admin/stats_collector.h"
#include "common/status.h"
#include "routing/runtime.h"

struct mg_context;
struct mg_connection;

namespace sluice {

// The families of one scrape; a function of the stats and the snapshot only (unit-testable).
std::vector<prometheus::MetricFamily> BuildMetricFamilies(const StatsDelta& stats,
                                                          const Runtime& rt);

// sluice_ready and sluice_cluster_ready{cluster}: the readiness R as gauges.
std::vector<prometheus::MetricFamily> ReadinessFamilies(const Readiness& r);

class SluiceCollectable : public prometheus::Collectable {
 public:
  SluiceCollectable(const RuntimeHolder* runtime, StatsCollector* stats,
                    std::function<Readiness()> readiness)
      : runtime_(runtime), stats_(stats), readiness_(std::move(readiness)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;
  // The open client connections of the cluster at an index of the runtime's clusters (the
  // data plane's per-cluster atomic); unset: the family is not exported.
  void SetClusterClients(std::function<int64_t(size_t)> f) { cluster_clients_ = std::move(f); }

 private:
  const RuntimeHolder* runtime_;
  StatsCollector* stats_;
  std::function<Readiness()> readiness_;
  std::function<int64_t(size_t)> cluster_clients_;
};

class MetricsExporter {
 public:
  // ACCEPTING: whether the data plane's listeners take new clients (main clears it on drain).
  MetricsExporter(const RuntimeHolder* runtime, StatsCollector* stats,
                  const std::atomic<bool>* accepting);
  ~MetricsExporter();
  // Binds host:port; an error when the port is taken. Port 0: disabled.
  Status Start(const MetricsSettings& settings);
  // What /health/ready answers now. Thread-safe.
  Readiness Ready();
  // Before Start: see SluiceCollectable::SetClusterClients.
  void SetClusterClients(std::function<int64_t(size_t)> f) {
    collectable_->SetClusterClients(std::move(f));
  }

 private:
  static int HandleMetrics(mg_connection* conn, void* self);
  static int HandleLive(mg_connection* conn, void* self);
  static int HandleReady(mg_connection* conn, void* self);

  const RuntimeHolder* runtime_;
  const std::atomic<bool>* accepting_;
  std::shared_ptr<SluiceCollectable> collectable_;
  std::mutex hold_mu_;
  HoldSince holds_;
  mg_context* ctx_ = nullptr;
};

}  // namespace sluice
