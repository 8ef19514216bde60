// ControlPlane: what main() starts beside the workers: the admin store and port, the stats
// collector (polls the workers' mailboxes once a second) and the Prometheus exporter.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "admin/admin_server.h"
#include "admin/admin_service.h"
#include "admin/event_log.h"
#include "admin/metrics_exporter.h"
#include "admin/stats_collector.h"
#include "common/status.h"
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
  // More families for the metrics endpoint (the fleet's); set before Start.
  void AddMetrics(std::shared_ptr<prometheus::Collectable> c) { extra_metrics_.push_back(c); }

  EventLog& events() { return events_; }
  StatsCollector* stats() { return stats_.get(); }
  AdminService* service() { return service_.get(); }
  uint16_t admin_port() const { return server_ ? server_->port() : 0; }

 private:
  ControlPlane() = default;
  void PollLoop();

  Runtime config_;
  EventLog events_;
  std::unique_ptr<AdminService> service_;
  std::unique_ptr<StatsCollector> stats_;
  std::unique_ptr<AdminServer> server_;
  std::unique_ptr<MetricsExporter> metrics_;
  std::vector<std::shared_ptr<prometheus::Collectable>> extra_metrics_;
  std::thread poller_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace sluice
