#include "coordination/fleet_metrics.h"

#include "coordination/fleet.h"

namespace sluice::coordination {

namespace {
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily One(const char* name, const char* help, MetricType type, double v,
                 const std::string& instance) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  ClientMetric m;
  m.label = {{"instance_name", instance}};
  if (type == MetricType::Counter)
    m.counter.value = v;
  else
    m.gauge.value = v;
  f.metric.push_back(m);
  return f;
}
}  // namespace

std::vector<MetricFamily> FleetMetrics::Collect() const {
  const std::string& me = fleet_->instance();
  return {
      One("sluice_fleet_leader", "1 while this instance leads the fleet, else 0.",
          MetricType::Gauge, fleet_->leader() ? 1 : 0, me),
      One("sluice_fleet_lease_renewals_total", "Lease keepalives etcd accepted.",
          MetricType::Counter, double(fleet_->lease_renewals()), me),
      One("sluice_fleet_lease_losses_total",
          "Leases lost (expired before renewal, or not renewed within the TTL).",
          MetricType::Counter, double(fleet_->lease_losses()), me),
      One("sluice_fleet_topology_revision", "etcd revision of the applied topology.",
          MetricType::Gauge, double(fleet_->topology_revision()), me),
      One("sluice_fleet_config_revision", "etcd revision of the applied fleet config.",
          MetricType::Gauge, double(fleet_->config_revision()), me),
      One("sluice_fleet_etcd_errors_total",
          "etcd requests that failed, and published revisions that could not be applied.",
          MetricType::Counter, double(fleet_->etcd_errors()), me),
  };
}

}  // namespace sluice::coordination
