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
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "admin/event_log.h"
#include "admin/event_sink.h"
#include "admin/readiness.h"
#include "admin/stats_collector.h"
#include "common/status.h"
#include "mirror/report.h"
#include "routing/runtime.h"

struct mg_context;
struct mg_connection;

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

// sluice_ready and sluice_cluster_ready{cluster}: the readiness R as gauges.
std::vector<prometheus::MetricFamily> ReadinessFamilies(const Readiness& r);

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

// The mirror report's families, per mirror (no digest labels): digests per verdict, outcomes
// by side and ok/error, latency per side.
// Per source cluster (RT names each mirror's source; mirrors not in RT are left out):
// statements, sessions, cuts by reason and shadow errors.
std::vector<prometheus::MetricFamily> BuildMirrorFamilies(
    const std::vector<mirror::MirrorSummary>& mirrors, const Runtime* rt = nullptr);

class SluiceCollectable : public prometheus::Collectable {
 public:
  SluiceCollectable(const RuntimeHolder* runtime, StatsCollector* stats,
                    std::function<Readiness()> readiness, FailoverCountsFn failover,
                    std::vector<MetricsSource> sources = {})
      : runtime_(runtime),
        stats_(stats),
        readiness_(std::move(readiness)),
        failover_(std::move(failover)),
        sources_(std::move(sources)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;
  // The open client connections of the cluster at an index of the runtime's clusters (the
  // data plane's per-cluster atomic); unset: the family is not exported.
  void SetClusterClients(std::function<int64_t(size_t)> f) { cluster_clients_ = std::move(f); }

 private:
  const RuntimeHolder* runtime_;
  StatsCollector* stats_;
  std::function<Readiness()> readiness_;
  std::function<int64_t(size_t)> cluster_clients_;
  FailoverCountsFn failover_;
  const std::vector<MetricsSource> sources_;
};

class MetricsExporter {
 public:
  // ACCEPTING: whether the data plane's listeners take new clients (main clears it on drain).
  MetricsExporter(const RuntimeHolder* runtime, StatsCollector* stats,
                  const std::atomic<bool>* accepting, FailoverCountsFn failover = {},
                  std::vector<MetricsSource> sources = {});
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
