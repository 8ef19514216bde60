#include "health/monitor.h"

#include "common/log.h"
#include "health/cluster_monitor.h"

namespace sluice::health {

namespace {
constexpr size_t kMaxRecords = 2000;
}

HealthMonitor::HealthMonitor(Topology* topology, MonitorHooks hooks)
    : topology_(topology), hooks_(std::move(hooks)) {}

HealthMonitor::~HealthMonitor() {
  Stop();
}

void HealthMonitor::MakeClusters() {
  if (!clusters_.empty()) return;
  Runtime cfg = topology_->config();
  for (const Cluster& c : cfg.clusters) {
    clusters_.push_back(std::make_unique<ClusterMonitor>(this, c.name));
    std::lock_guard<std::mutex> lock(records_mu_);
    counters_[c.name];
  }
}

void HealthMonitor::Start() {
  MakeClusters();
  for (auto& c : clusters_) c->Start();
}

void HealthMonitor::RunRoundForTest() {
  MakeClusters();
  for (auto& c : clusters_) c->RunRound();
}

int64_t HealthMonitor::PrimaryWindowEndForTest(size_t i) {
  MakeClusters();
  return i < clusters_.size() ? clusters_[i]->PrimaryWindowEndMs() : 0;
}

void HealthMonitor::Stop() {
  for (auto& c : clusters_) c->Stop();
  clusters_.clear();
}

Result<std::string> HealthMonitor::Switchover(const std::string& cluster,
                                              const std::string& target) {
  for (auto& c : clusters_)
    if (c->name() == cluster) return c->Switchover(target);
  return NotFound("no cluster " + cluster);
}

std::vector<CheckRecord> HealthMonitor::RecentChecks() const {
  std::lock_guard<std::mutex> lock(records_mu_);
  return {records_.begin(), records_.end()};
}

HealthCounters HealthMonitor::Counters(const std::string& cluster) const {
  std::lock_guard<std::mutex> lock(records_mu_);
  auto it = counters_.find(cluster);
  return it == counters_.end() ? HealthCounters{} : it->second;
}

void HealthMonitor::Count(const std::string& cluster, int64_t HealthCounters::*which) {
  std::lock_guard<std::mutex> lock(records_mu_);
  ++(counters_[cluster].*which);
}

void HealthMonitor::Record(CheckRecord r) {
  std::lock_guard<std::mutex> lock(records_mu_);
  records_.push_back(std::move(r));
  while (records_.size() > kMaxRecords) records_.pop_front();
}

void HealthMonitor::Event(std::string_view kind, std::string_view cluster, std::string_view server,
                          const std::string& message) {
  if (kind == "FAILOVER_REFUSED" || kind == "FAILOVER_BLOCKED" || kind == "SWITCHOVER_ABORTED" ||
      kind == "SPLIT_BRAIN" || kind == "SERVER_UNRESOLVED")
    log::Error("{} cluster {} {}: {}", kind, cluster, server, message);
  else
    log::Info("{} cluster {} {}: {}", kind, cluster, server, message);
  if (hooks_.event) hooks_.event(kind, cluster, server, message);
}

}  // namespace sluice::health
