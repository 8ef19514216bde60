#include "coordination/fleet_metrics.h"

#include <map>
#include <string>

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
// One counter per KEY of COUNTS, labelled LABEL=KEY (and the instance).
MetricFamily Labelled(const char* name, const char* help, const char* label,
                      const std::map<std::string, uint64_t>& counts, const std::string& instance) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = MetricType::Counter;
  for (const auto& [key, n] : counts) {
    ClientMetric m;
    m.label = {{"instance_name", instance}, {label, key}};
    m.counter.value = double(n);
    f.metric.push_back(m);
  }
  return f;
}
}  // namespace

std::vector<MetricFamily> FleetMetrics::Collect() const {
  const std::string& me = fleet_->instance();
  return {
      Labelled("sluice_fleet_steps_refused_total",
               "Orchestration steps refused because this instance does not lead the fleet "
               "(SWITCHOVER, MIRROR START, scale-out/in), by step.",
               "step", fleet_->StepsRefused(), me),
      Labelled("sluice_fleet_steps_taken_over_total",
               "Steps an earlier leader left unfinished that this instance finished or abandoned, "
               "by action/outcome (switchover/done, switchover/abandoned, mirror/abandoned, ...).",
               "step", fleet_->StepsTaken(), me),
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
