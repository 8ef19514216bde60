// FleetMetrics: the fleet's Prometheus families, built at scrape time from the Fleet's
// counters: sluice_fleet_leader, lease renewals and losses, applied revisions, etcd errors.
#pragma once

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace sluice::coordination {

class Fleet;

class FleetMetrics : public prometheus::Collectable {
 public:
  explicit FleetMetrics(Fleet* fleet) : fleet_(fleet) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  Fleet* fleet_;
};

}  // namespace sluice::coordination
