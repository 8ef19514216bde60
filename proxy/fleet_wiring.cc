#include "proxy/fleet_wiring.h"

#include <unistd.h>

#include <climits>

#include "coordination/fleet_metrics.h"
#include "coordination/fleet_overlay.h"

namespace sluice {

std::unique_ptr<coordination::Fleet> MakeFleet(const Runtime& rt, health::Topology* topology,
                                               ControlPlane* control) {
  if (!rt.coordination.enabled()) return nullptr;
  std::string name = rt.coordination.instance;
  if (name.empty()) {  // the host name and admin port: unique per host and instance
    char host[HOST_NAME_MAX + 1] = {};
    gethostname(host, sizeof host - 1);
    name = std::string(host) + ":" + std::to_string(rt.admin.listen_port);
  }
  coordination::FleetHooks fh;
  fh.verdict = [topology] { return coordination::VerdictOf(topology->overlay()); };
  fh.apply_topology = [topology](const coordination::FleetTopology& t, int64_t revision) {
    topology->Update([&](health::Overlay* o) {
      bool changed = coordination::ApplyVerdict(t, o) || o->fleet_revision != revision;
      o->fleet_revision = revision;
      return changed;
    });
  };
  fh.published = [topology](int64_t revision) {
    topology->Update([&](health::Overlay* o) {
      o->fleet_revision = revision;
      return true;
    });
  };
  fh.apply_config = [control](const std::string& tables) {
    return control->service()->ApplyFleetTables(tables);
  };
  fh.event = [control](std::string_view kind, std::string_view cluster, std::string_view server,
                       std::string_view message) {
    control->events().Append(kind, cluster, server, message);
  };
  fh.clusters = [topology] {
    std::vector<std::string> names;
    for (const Cluster& c : topology->config().clusters) names.push_back(c.name);
    return names;
  };
  fh.unpause = [topology](const std::string& cluster) {
    topology->Update([&](health::Overlay* o) {
      bool& paused = o->clusters[cluster].writes_paused;
      if (!paused) return false;
      paused = false;
      return true;
    });
  };
  return std::make_unique<coordination::Fleet>(rt.coordination, name, std::move(fh));
}

health::MonitorHooks LendFleet(coordination::Fleet* fleet, health::MonitorHooks hooks) {
  if (!fleet) return hooks;
  hooks.may_orchestrate = [fleet](const std::string& cluster) {
    return fleet->MayOrchestrate(cluster);
  };
  hooks.record_step = [fleet](const std::string& cluster, const health::OrchestrationStep& step) {
    return fleet->RecordStep(cluster, step);
  };
  hooks.intended_target = [fleet](const std::string& cluster) {
    return fleet->IntendedTarget(cluster);
  };
  hooks.unfinished_switchover = [fleet](const std::string& cluster) {
    return fleet->EarlierSwitchover(cluster);
  };
  return hooks;
}

health::ScalerHooks LendFleet(coordination::Fleet* fleet, health::ScalerHooks hooks) {
  if (!fleet) return hooks;
  hooks.gate = [fleet](const std::string& cluster, std::string_view step, bool count) {
    return fleet->Gate(step, cluster, count);
  };
  hooks.record_step = [fleet](const std::string& cluster, const health::OrchestrationStep& step) {
    return fleet->RecordStep(coordination::StepScope(cluster, "scale"), step);
  };
  return hooks;
}

void LendFleet(coordination::Fleet* fleet, AdminService::HealthHooks* hooks) {
  hooks->fleet_publish = [fleet](const std::string& tables) {
    return fleet->PublishConfig(tables);
  };
  auto switchover = std::move(hooks->switchover);
  hooks->switchover = [fleet, switchover](const std::string& cluster,
                                          const std::string& target) -> Result<std::string> {
    if (Status g = fleet->Gate("switchover", cluster); !g.ok())
      return Status(g.code(), g.message() + ": run SWITCHOVER there");
    return switchover(cluster, target);
  };
  // MIRROR START's fork holds the source's writes fleet-wide and detaches the shadow: the
  // leader's alone, recorded as intent then outcome under intent/SOURCE/mirror.
  auto fork = std::move(hooks->mirror_fork);
  if (!fork) return;
  hooks->mirror_fork =
      [fleet, fork](const MirrorConfig& m,
                    const std::function<Status(const std::string&)>& on) -> Result<std::string> {
    if (Status g = fleet->Gate("mirror_start", m.source); !g.ok())
      return Status(g.code(), g.message() + ": run MIRROR START there");
    const std::string scope = coordination::StepScope(m.source, "mirror");
    health::OrchestrationStep step{"mirror", "fork", "", m.shadow, m.name};
    if (!fleet->RecordStep(scope, step))
      return Unavailable("the fleet did not record MIRROR START's intent: nothing done");
    auto r = fork(m, on);
    step.phase = r.ok() ? "done" : "abandoned";
    fleet->RecordStep(scope, step);
    return r;
  };
}

Status FleetTables(coordination::Fleet* fleet, ControlPlane* control) {
  control->AddMetricsSource(
      [m = std::make_shared<coordination::FleetMetrics>(fleet)] { return m->Collect(); });
  return control->service()->AddStatsTable(
      "stats_fleet",
      "instance TEXT, heartbeat_age_ms INT, leader INT, topology_revision INT, "
      "config_revision INT, self INT",
      [fleet] {
        std::vector<SqlRow> rows;
        for (const auto& f : fleet->Instances())
          rows.push_back({f.instance, std::to_string(f.heartbeat_age_ms), f.leader ? "1" : "0",
                          std::to_string(f.topology_revision), std::to_string(f.config_revision),
                          f.self ? "1" : "0"});
        return rows;
      });
}

}  // namespace sluice
