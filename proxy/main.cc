// sluice's entry point: parse flags, load the config, start the workers (and the control
// plane), then wait for SIGTERM/SIGINT and drain.
#include <signal.h>
#include <unistd.h>

#include <climits>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "admin/config_file.h"
#include "admin/control_plane.h"
#include "common/log.h"
#include "coordination/fleet.h"
#include "coordination/fleet_metrics.h"
#include "health/fleet_overlay.h"
#include "health/monitor.h"
#include "health/topology.h"
#include "proxy/shared.h"
#include "proxy/tls.h"
#include "proxy/worker.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace {

constexpr char kUsage[] =
    "Usage: sluice --config FILE [--check]\n"
    "       sluice --version | --help\n"
    "\n"
    "sluice is a MySQL/MariaDB and PostgreSQL proxy: read/write split, pooling, failover.\n"
    "\n"
    "  --config FILE  the TOML configuration (see docs/configuration.md)\n"
    "  --check        validate the configuration and exit (0 if valid, 2 if not)\n"
    "  --version      print the version and exit\n"
    "  --help         print this help and exit\n"
    "\n"
    "Signals: SIGTERM or SIGINT stop accepting, let running statements finish (up to\n"
    "sluice.drain_timeout_ms) and exit.\n";

struct Flags {
  std::string config;
  bool check = false;
};

// Returns -1 to go on, else the exit status.
int ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--version") {
      printf("sluice %s\n", SLUICE_VERSION);
      return 0;
    }
    if (a == "--check") {
      flags->check = true;
    } else if (a == "--config" && i + 1 < argc) {
      flags->config = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      flags->config = a.substr(9);
    } else {
      fprintf(stderr, "sluice: unknown argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (flags->config.empty()) {
    fprintf(stderr, "sluice: --config FILE is required\n%s", kUsage);
    return 2;
  }
  return -1;
}

// Waits for the workers to finish their drain, at most timeout; then stops the rest.
void DrainWorkers(std::vector<std::unique_ptr<sluice::Worker>>& workers, int timeout_ms,
                  const std::vector<std::unique_ptr<std::atomic<bool>>>& done) {
  for (auto& w : workers) w->RequestDrain();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    for (auto& d : done) all = all && d->load();
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& w : workers) w->RequestStop();
  for (auto& w : workers) w->Join();
}

// The admin port's events and the stats collector's gauge, for health/.
sluice::health::MonitorHooks HealthHooks(sluice::ControlPlane* control,
                                         sluice::coordination::Fleet* fleet) {
  sluice::health::MonitorHooks h;
  h.leadership = fleet;
  h.event = [control](std::string_view kind, std::string_view cluster, std::string_view server,
                      std::string_view message) {
    control->events().Append(kind, cluster, server, message);
  };
  h.in_flight = [control](const std::string& cluster, const std::string& server) -> int64_t {
    if (!control->stats()) return 0;
    control->stats()->Poll();
    auto d = control->stats()->SinceReset();
    auto it = d.servers.find(cluster + "/" + server);
    return it == d.servers.end() ? 0 : it->second.conns_used;
  };
  return h;
}

sluice::AdminService::HealthHooks AdminHealthHooks(sluice::health::Topology* topology,
                                                   sluice::health::HealthMonitor* monitor,
                                                   sluice::coordination::Fleet* fleet) {
  sluice::AdminService::HealthHooks h;
  if (fleet) {
    h.fleet_rows = [fleet] {
      std::vector<sluice::SqlRow> rows;
      for (const auto& f : fleet->Instances())
        rows.push_back({f.instance, std::to_string(f.heartbeat_age_ms), f.leader ? "1" : "0",
                        std::to_string(f.topology_revision), std::to_string(f.config_revision),
                        f.self ? "1" : "0"});
      return rows;
    };
    h.fleet_publish = [fleet](const std::string& tables) { return fleet->PublishConfig(tables); };
  }
  h.config = [topology] { return topology->config(); };
  h.publish = [topology](sluice::Runtime rt) { topology->SetConfig(std::move(rt)); };
  h.switchover = [monitor](const std::string& cluster, const std::string& target) {
    return monitor->Switchover(cluster, target);
  };
  h.monitor_rows = [monitor] {
    std::vector<sluice::SqlRow> rows;
    for (const auto& r : monitor->RecentChecks())
      rows.push_back({std::to_string(r.time_unix_ms), r.cluster, r.server, r.ok ? "1" : "0",
                      std::to_string(r.latency_us), r.role_seen, std::to_string(r.lag_ms),
                      r.error});
    return rows;
  };
  return h;
}

// [coordination]: this instance in a fleet, its verdicts shared through etcd.
std::unique_ptr<sluice::coordination::Fleet> MakeFleet(const sluice::Runtime& rt,
                                                       sluice::health::Topology* topology,
                                                       sluice::ControlPlane* control) {
  using namespace sluice;
  if (!rt.coordination.enabled()) return nullptr;
  std::string name = rt.coordination.instance;
  if (name.empty()) {  // the host name and admin port: unique per host and instance
    char host[HOST_NAME_MAX + 1] = {};
    gethostname(host, sizeof host - 1);
    name = std::string(host) + ":" + std::to_string(rt.admin.listen_port);
  }
  coordination::FleetHooks fh;
  fh.verdict = [topology] { return health::VerdictOf(topology->overlay()); };
  fh.apply_topology = [topology](const coordination::FleetTopology& t, int64_t revision) {
    topology->Update([&](health::Overlay* o) {
      bool changed = health::ApplyVerdict(t, o) || o->fleet_revision != revision;
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
  fh.event = [control](std::string_view kind, std::string_view message) {
    control->events().Append(kind, "", "", message);
  };
  return std::make_unique<coordination::Fleet>(rt.coordination, name, std::move(fh));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice;
  Flags flags;
  if (int rc = ParseFlags(argc, argv, &flags); rc >= 0) return rc;

  Result<Runtime> loaded = LoadConfigFile(flags.config);
  if (!loaded.ok()) {
    fprintf(stderr, "%s\n", loaded.status().message().c_str());
    return 2;
  }
  if (flags.check) {
    printf("%s: configuration is valid\n", flags.config.c_str());
    return 0;
  }
  Runtime rt = std::move(loaded).value();
  // The admin store: its disk tables, when they have rows, win over the config file.
  auto control = ControlPlane::Open(rt);
  if (!control.ok()) {
    fprintf(stderr, "%s\n", control.status().message().c_str());
    return 2;
  }
  if (auto start = (*control)->StartupRuntime(); start.ok()) {
    rt = std::move(start).value();
  } else {
    fprintf(stderr, "%s\n", start.status().message().c_str());
    return 2;
  }
  log::Level level;
  if (log::ParseLevel(rt.log_level, &level)) log::SetLevel(level);

  // Signals are taken by sigwait() on this thread only; the workers never see them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  int nworkers =
      rt.workers > 0 ? rt.workers : static_cast<int>(std::thread::hardware_concurrency());
  if (nworkers < 1) nworkers = 1;
  auto shared = std::make_unique<ProxyShared>();
  shared->worker_count = nworkers;
  for (const Cluster& c : rt.clusters) {
    shared->cluster_counters.push_back(std::make_unique<ClusterCounters>());
    SSL_CTX* ctx = nullptr;
    if (!c.tls_cert.empty()) {
      auto made = MakeServerTlsContext(c.tls_cert, c.tls_key);
      if (!made.ok()) {
        fprintf(stderr, "%s\n", made.status().message().c_str());
        return 2;
      }
      ctx = *made;
    }
    shared->tls.push_back(ctx);
  }
  rt.version = 1;
  auto snapshot = std::make_shared<const Runtime>(rt);
  shared->runtime.Publish(snapshot);
  // From here on every publish is config + health overlay (health/topology.h).
  health::Topology topology(&shared->runtime);
  topology.SetConfig(rt);
  // Declared before the monitor, which asks it, so that it outlives it.
  auto fleet = MakeFleet(rt, &topology, control->get());
  health::HealthMonitor monitor(&topology, HealthHooks(control->get(), fleet.get()));
  (*control)->service()->SetHealthHooks(AdminHealthHooks(&topology, &monitor, fleet.get()));
  if (fleet) (*control)->AddMetrics(std::make_shared<coordination::FleetMetrics>(fleet.get()));

  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::unique_ptr<std::atomic<bool>>> done;
  for (int i = 0; i < nworkers; ++i) {
    workers.push_back(std::make_unique<Worker>(i, shared.get()));
    shared->stats_mailboxes.push_back(&workers.back()->stats_mailbox());
    if (Status st = workers.back()->Listen(*snapshot); !st.ok()) {
      log::Error("{}", st.message());
      return 1;
    }
  }
  for (int i = 0; i < nworkers; ++i) {
    done.push_back(std::make_unique<std::atomic<bool>>(false));
    workers[i]->SetOnExit([d = done.back().get()] { d->store(true); });
    workers[i]->Start();
  }
  if (Status st = (*control)->Start(&shared->runtime, shared->stats_mailboxes); !st.ok()) {
    log::Error("{}", st.message());
    DrainWorkers(workers, 0, done);
    return 1;
  }
  if (fleet) fleet->Start();
  monitor.Start();
  for (const Cluster& c : snapshot->clusters)
    log::Info("cluster {} ({}) listening on {}:{} with {} servers", c.name,
              ProtocolName(c.protocol), c.listen_host, c.listen_port, c.servers.size());
  log::Info("sluice {} started: {} workers", SLUICE_VERSION, nworkers);

  int sig = 0;
  sigwait(&sigs, &sig);
  log::Info("received {}, draining (up to {} ms)", strsignal(sig), snapshot->drain_timeout_ms);
  monitor.Stop();
  if (fleet) fleet->Stop();
  (*control)->Stop();
  DrainWorkers(workers, shared->runtime.Load()->drain_timeout_ms, done);
  log::Info("sluice stopped");
  return 0;
}
