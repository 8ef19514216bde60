// ControlPlane: what main() starts beside the workers: the admin store and port, the stats
// collector (polls the workers' mailboxes once a second), the event sinks (webhooks) and the
// Prometheus exporter.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "admin/admin_server.h"
#include "admin/admin_service.h"
#include "admin/event_log.h"
#include "admin/event_sink.h"
#include "admin/metrics_exporter.h"
#include "admin/stats_collector.h"
#include "common/status.h"
#include "mirror/report.h"
#include "routing/runtime.h"

namespace sluice {

class ControlPlane {
 public:
  // Opens the admin store for the validated CONFIG.
  static Result<std::unique_ptr<ControlPlane>> Open(const Runtime& config);
  ~ControlPlane() { Stop(); }

  // The runtime to publish first (disk store where it has rows, else the config file).
  Result<Runtime> StartupRuntime() { return service_->StartupRuntime(); }

  // After the first Publish and once the workers exist: starts polling, the admin port and
  // the metrics endpoint.
  Status Start(RuntimeHolder* runtime, std::vector<StatsMailbox*> mailboxes);
  void Stop();
  // More Prometheus families (health/'s, through main); before Start.
  void AddMetricsSource(MetricsSource source) { metrics_sources_.push_back(std::move(source)); }

  // Whether the data plane takes new clients: /health/ready is 503 while false. main sets
  // it once the workers listen and clears it when it starts draining.
  void SetAccepting(bool on) { accepting_.store(on, std::memory_order_release); }
  // Before Start: the data plane's per-cluster open client count, for /metrics.
  void SetClusterClients(std::function<int64_t(size_t)> f) { cluster_clients_ = std::move(f); }

  // The failover counters for the metrics endpoint (health/); before Start().
  void SetFailoverCounts(FailoverCountsFn f) { failover_counts_ = std::move(f); }
  EventLog& events() { return events_; }
  StatsCollector* stats() { return stats_.get(); }
  AdminService* service() { return service_.get(); }
  // The mirror report: the shadow sessions' mailboxes are added to it (issue #15).
  mirror::MirrorReport& mirror_report() { return mirror_report_; }
  uint16_t admin_port() const { return server_ ? server_->port() : 0; }
  uint16_t admin_pg_port() const { return pg_server_ ? pg_server_->port() : 0; }

 private:
  ControlPlane() = default;
  void PollLoop();
  // Gives the event sinks the runtime's [[event_sink]] list when it changed.
  void ConfigureSinks();
  void ConfigureMirrors();

  Runtime config_;
  // Declared before events_: the log's listener points at it, so it outlives the log's use.
  EventSinks sinks_;
  EventLog events_;
  RuntimeHolder* runtime_ = nullptr;
  uint64_t sinks_version_ = 0;
  uint64_t mirrors_version_ = ~uint64_t{0};
  std::vector<MetricsSource> metrics_sources_;
  mirror::MirrorReport mirror_report_;
  std::unique_ptr<AdminService> service_;
  std::unique_ptr<StatsCollector> stats_;
  LoginThrottle login_throttle_;  // both admin ports': one back-off per client address
  std::unique_ptr<AdminServer> server_;
  std::unique_ptr<AdminServer> pg_server_;  // admin.pg_listen
  std::unique_ptr<MetricsExporter> metrics_;
  FailoverCountsFn failover_counts_;
  std::thread poller_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<bool> accepting_{false};
  std::function<int64_t(size_t)> cluster_clients_;
};

}  // namespace sluice
