// sluice's entry point: parse flags, load the config, start the workers (and the control
// plane), then wait for signals: SIGHUP reloads the config file, SIGTERM/SIGINT drain.
#include <event2/event.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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
#include "health/auth_lookup.h"
#include "health/mirror_fork.h"
#include "health/monitor.h"
#include "health/preflight.h"
#include "health/scaler.h"
#include "health/schema_watch.h"
#include "health/topology.h"
#include "proxy/backend_tls.h"
#include "proxy/fleet_wiring.h"
#include "proxy/session_admin.h"
#include "proxy/shared.h"
#include "proxy/tls.h"
#include "proxy/worker.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "dev"
#endif

namespace {

constexpr char kUsage[] =
    "Usage: sluice --config FILE [--check [--connect]]\n"
    "       sluice --version | --help\n"
    "\n"
    "sluice is a MySQL/MariaDB and PostgreSQL proxy: read/write split, pooling, failover.\n"
    "\n"
    "  --config FILE  the TOML configuration (see docs/configuration.md)\n"
    "  --check        validate the configuration and its TLS files and exit (0 if valid,\n"
    "                 2 if not, one line per problem)\n"
    "  --connect      with --check: also log in to every server as monitor_user and\n"
    "                 admin_user and check the privileges health checks and failover need\n"
    "  --version      print the version and exit\n"
    "  --help         print this help and exit\n"
    "\n"
    "Signals: SIGTERM or SIGINT stop accepting, let running statements finish (up to\n"
    "sluice.drain_timeout_ms) and exit. SIGHUP re-reads the config file and applies what\n"
    "can change at runtime (as LOAD ALL TO RUNTIME); an invalid file changes nothing.\n";

struct Flags {
  std::string config;
  bool check = false;
  bool connect = false;
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
    } else if (a == "--connect") {
      flags->connect = true;
    } else if (a == "--config" && i + 1 < argc) {
      flags->config = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      flags->config = a.substr(9);
    } else {
      fprintf(stderr, "sluice: unknown argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (flags->connect && !flags->check) {
    fprintf(stderr, "sluice: --connect goes with --check\n%s", kUsage);
    return 2;
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

// The clusters' names, indexed like ProxyShared::cluster_counters (fixed from the start).
std::vector<std::string> ClusterNames(const sluice::Runtime& rt) {
  std::vector<std::string> names;
  for (const sluice::Cluster& c : rt.clusters) names.push_back(c.name);
  return names;
}

// The admin port's events and the stats collector's gauge, for health/.
sluice::health::MonitorHooks HealthHooks(sluice::ControlPlane* control) {
  sluice::health::MonitorHooks h;
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

// SHARED's clusters are fixed for the process (indexed like the runtime at START): the
// monitor of a cluster takes the word its workers left (ClusterCounters::check_requested).
sluice::health::MonitorHooks WithCheckRequests(sluice::health::MonitorHooks h,
                                               const sluice::Runtime& start,
                                               sluice::ProxyShared* shared) {
  std::vector<std::string> names;
  for (const sluice::Cluster& c : start.clusters) names.push_back(c.name);
  h.take_check_request = [shared, names](const std::string& cluster) {
    for (size_t i = 0; i < names.size() && i < shared->cluster_counters.size(); ++i)
      if (names[i] == cluster)
        return shared->cluster_counters[i]->check_requested.exchange(false,
                                                                     std::memory_order_relaxed);
    return false;
  };
  return h;
}

sluice::AdminService::HealthHooks AdminHealthHooks(sluice::health::Topology* topology,
                                                   sluice::health::HealthMonitor* monitor) {
  sluice::AdminService::HealthHooks h;
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

// PAUSE / RESUME and MIRROR START's hold: the cluster's writes held (or not) in the overlay.
sluice::Status PauseWrites(sluice::health::Topology* topology, const std::string& cluster,
                           bool on) {
  topology->Update([&](sluice::health::Overlay* o) {
    bool& paused = o->clusters[cluster].writes_paused;
    if (paused == on) return false;
    paused = on;
    return true;
  });
  return sluice::Status::Ok();
}

// MIRROR START's consistent start (health/mirror_fork.h), on the admin thread.
std::function<sluice::Result<std::string>(const sluice::MirrorConfig&,
                                          const sluice::health::MirrorSwitchOn&)>
MirrorForkHook(sluice::health::Topology* topology, const sluice::RuntimeHolder* runtime,
               sluice::ControlPlane* control) {
  return [=](const sluice::MirrorConfig& m, const sluice::health::MirrorSwitchOn& on) {
    sluice::health::ForkHooks hooks;
    hooks.make_node = [](const sluice::health::NodeOptions& o) {
      return sluice::health::MakeNode(o);
    };
    hooks.pause_writes = [topology](const std::string& cluster, bool hold) {
      return PauseWrites(topology, cluster, hold);
    };
    hooks.event = [control, source = m.source](std::string_view message) {
      control->events().Append("MIRROR_FORK", source, "", message);
    };
    return sluice::health::ForkShadow(*runtime->Load(), m, on, hooks);
  };
}

// --check beyond the file's syntax and values: what start-up would fail on later. Prints one
// line per problem to stderr and returns their count.
int CheckFiles(const sluice::Runtime& rt, const std::string& path) {
  int problems = 0;
  for (const sluice::Cluster& c : rt.clusters) {
    // The same loading start-up does: readable PEM files, and a key that matches the cert.
    auto check = [&](sluice::Result<SSL_CTX*> ctx) {
      if (ctx.ok()) {
        SSL_CTX_free(*ctx);
        return;
      }
      fprintf(stderr, "%s: cluster %s: %s\n", path.c_str(), c.name.c_str(),
              ctx.status().message().c_str());
      ++problems;
    };
    if (c.backend_tls.on()) check(sluice::MakeBackendTlsContext(c.backend_tls));
    if (!c.tls_cert.empty()) check(sluice::MakeServerTlsContext(c.tls_cert, c.tls_key));
  }
  const std::string& dir = rt.admin.data_dir;
  if (!dir.empty() && access(dir.c_str(), W_OK | X_OK) != 0 && errno != ENOENT) {
    fprintf(stderr, "%s: admin.data_dir %s: not writable: %s\n", path.c_str(), dir.c_str(),
            strerror(errno));
    ++problems;
  }
  return problems;
}

void LibeventLog(int severity, const char* message) {
  using sluice::log::Level;
  static sluice::log::RateLimiter limiter(10);
  uint64_t suppressed = 0;
  if (!limiter.Allow(static_cast<int64_t>(time(nullptr)), &suppressed)) return;
  Level level = severity >= EVENT_LOG_ERR    ? Level::kError
                : severity >= EVENT_LOG_WARN ? Level::kWarn
                : severity >= EVENT_LOG_MSG  ? Level::kInfo
                                             : Level::kDebug;
  if (level < sluice::log::GetLevel()) return;
  if (suppressed > 0)
    sluice::log::Write(
        Level::kWarn,
        fmt::format("libevent: {} messages suppressed (more than 10 a second)", suppressed));
  sluice::log::Write(level, fmt::format("libevent: {}", message));
}

// SIGHUP: the config file again, through the admin store's validation and publish. Never
// exits: a file that does not parse or validate leaves the runtime in force.
void Reload(const std::string& path, sluice::ControlPlane* control) {
  using namespace sluice;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
             static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
                 static_cast<unsigned long long>(now.tv_nsec / 1000),
             path.c_str());
  log::Reopen();
  log::Info("SIGHUP: reloading {}", path);
  Status st = Status::Ok();
  Result<Runtime> file = LoadConfigFile(path);
  if (!file.ok())
    st = file.status();
  else
    st = control->service()->ReloadFromFile(*file);
  if (st.ok()) {
    log::Info("SIGHUP: {} applied", path);
    control->events().Append("RELOAD", "", "", path + " applied");
    sd_notify(0, "READY=1\nSTATUS=serving");
  } else {
    log::Error("SIGHUP: {} not applied, the runtime in force stays: {}", path, st.message());
    control->events().Append("RELOAD_FAILED", "", "", st.message());
    sd_notify(0, "READY=1\nSTATUS=serving; the last reload failed (see the log)");
  }
}

// stats_schema and the sluice_schema_* metrics from the schema watches.
sluice::Status SchemaHooks(sluice::ControlPlane* control, sluice::health::SchemaWatchSet* set) {
  using sluice::PlainMetric;
  control->AddMetricsSource([set] {
    std::vector<PlainMetric> changes, rounds, skipped, errors;
    for (const auto& c : set->Counters()) {
      std::vector<std::pair<std::string, std::string>> l = {{"cluster", c.cluster}};
      changes.push_back({l, static_cast<double>(c.changes)});
      rounds.push_back({l, static_cast<double>(c.rounds)});
      skipped.push_back({l, static_cast<double>(c.skipped)});
      errors.push_back({l, static_cast<double>(c.errors)});
    }
    return std::vector<prometheus::MetricFamily>{
        sluice::PlainFamily("sluice_schema_changes_total",
                            "SCHEMA_CHANGED events: a schema's definitions changed.", true,
                            changes),
        sluice::PlainFamily("sluice_schema_watch_rounds_total",
                            "Schema watch rounds that read the primary's catalogs.", true, rounds),
        sluice::PlainFamily("sluice_schema_watch_skipped_total",
                            "Schema watch rounds skipped: the previous one still ran.", true,
                            skipped),
        sluice::PlainFamily("sluice_schema_watch_errors_total",
                            "Schema watch rounds that failed (no primary, connect, query).", true,
                            errors)};
  });
  return control->service()->AddStatsTable(
      "stats_schema",
      "cluster TEXT, schema TEXT, fingerprint TEXT, tables INT, columns INT, indexes INT, "
      "rounds INT, skipped INT, errors INT, last_checked TEXT, last_change TEXT, diff TEXT",
      [set] {
        std::vector<sluice::SqlRow> rows;
        auto counters = set->Counters();
        for (const auto& s : set->Schemas()) {
          sluice::health::SchemaWatchCounters c;
          for (const auto& k : counters)
            if (k.cluster == s.cluster) c = k;
          auto n = [](int64_t v) { return std::to_string(v); };
          auto t = [](int64_t ms) {
            return ms ? sluice::SqlValue(sluice::IsoTimeUtc(ms)) : std::nullopt;
          };
          rows.push_back({s.cluster, s.schema, s.fingerprint, n(s.tables), n(s.columns),
                          n(s.indexes), n(c.rounds), n(c.skipped), n(c.errors),
                          t(s.checked_unix_ms), t(s.changed_unix_ms), s.last_diff});
        }
        return rows;
      });
}

// stats_auth_lookups and the sluice_auth_lookups_* metrics from the passthrough lookups.
sluice::Status AuthLookupHooks(sluice::ControlPlane* control,
                               const std::vector<std::unique_ptr<sluice::health::AuthLookup>>* ls) {
  using sluice::PlainMetric;
  auto counters = [ls] {
    std::vector<sluice::health::AuthLookupCounters> out;
    for (const auto& l : *ls) out.push_back(l->Counters());
    return out;
  };
  control->AddMetricsSource([counters] {
    std::vector<PlainMetric> lookups, failures, entries;
    for (const auto& k : counters()) {
      auto by = [&](const char* result, int64_t v) {
        lookups.push_back({{{"cluster", k.cluster}, {"result", result}}, static_cast<double>(v)});
      };
      by("hit", k.hits);
      by("miss", k.misses);
      by("rejected", k.rejected);
      failures.push_back({{{"cluster", k.cluster}}, static_cast<double>(k.failures)});
      entries.push_back({{{"cluster", k.cluster}}, static_cast<double>(k.cache_entries)});
    }
    return std::vector<prometheus::MetricFamily>{
        sluice::PlainFamily("sluice_auth_lookups_total",
                            "Passthrough logins by how their user was found: the cache (hit), a "
                            "query on the primary (miss), or refused at once (rejected).",
                            true, lookups),
        sluice::PlainFamily("sluice_auth_lookup_failures_total",
                            "Passthrough lookups that failed (server down, lookup user refused).",
                            true, failures),
        sluice::PlainFamily("sluice_auth_cache_entries",
                            "Users in the passthrough cache (found or not found).", false,
                            entries)};
  });
  return control->service()->AddStatsTable(
      "stats_auth_lookups",
      "cluster TEXT, hits INT, misses INT, failures INT, not_found INT, rejected INT, "
      "cache_entries INT, users INT",
      [counters] {
        std::vector<sluice::SqlRow> rows;
        auto n = [](int64_t v) { return std::to_string(v); };
        for (const auto& k : counters())
          rows.push_back({k.cluster, n(k.hits), n(k.misses), n(k.failures), n(k.not_found),
                          n(k.rejected), n(k.cache_entries), n(k.users)});
        return rows;
      });
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sluice;
  Flags flags;
  if (int rc = ParseFlags(argc, argv, &flags); rc >= 0) return rc;

  // Signals are taken by sigwait() on this thread only; every thread started later inherits
  // the mask, so the workers never see them. Blocked first: a SIGHUP during start-up (a
  // logrotate) must not kill the process with its default action.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Result<Runtime> loaded = LoadConfigFile(flags.config);
  if (!loaded.ok()) {
    fprintf(stderr, "%s\n", loaded.status().message().c_str());
    return 2;
  }
  if (flags.check) {
    int problems = CheckFiles(*loaded, flags.config);
    if (flags.connect) {
      for (const std::string& line : health::PreflightConnect(*loaded)) {
        fprintf(stderr, "%s: %s\n", flags.config.c_str(), line.c_str());
        ++problems;
      }
    }
    if (problems > 0) {
      fprintf(stderr, "%s: %d problem%s\n", flags.config.c_str(), problems,
              problems == 1 ? "" : "s");
      return 2;
    }
    printf("%s: configuration is valid\n", flags.config.c_str());
    return 0;
  }
  // The log first: every line from here on goes where and how the config file says.
  log::Level level;
  if (log::ParseLevel(loaded->log_level, &level)) log::SetLevel(level);
  if (log::Format format; log::ParseFormat(loaded->log_format, &format)) log::SetFormat(format);
  if (!loaded->log_file.empty()) {
    if (Status st = log::SetFile(loaded->log_file); !st.ok()) {
      fprintf(stderr, "%s\n", st.message().c_str());
      return 2;
    }
  }
  // libevent's own warnings (accept() failing with EMFILE, …) as sluice log lines, at most
  // 10 a second (the rest are counted and reported with the next one that passes).
  event_set_log_callback(LibeventLog);
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
  // The disk store may have another log_level.
  if (log::Level level; log::ParseLevel(rt.log_level, &level)) log::SetLevel(level);

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
    SSL_CTX* backend = nullptr;
    if (c.backend_tls.on()) {
      auto made = MakeBackendTlsContext(c.backend_tls);
      if (!made.ok()) {
        fprintf(stderr, "cluster %s: %s\n", c.name.c_str(), made.status().message().c_str());
        return 2;
      }
      backend = *made;
    }
    shared->backend_tls.push_back(backend);
  }
  rt.version = 1;
  auto snapshot = std::make_shared<const Runtime>(rt);
  shared->runtime.Publish(snapshot);
  // From here on every publish is config + health overlay (health/topology.h).
  health::Topology topology(&shared->runtime);
  topology.SetConfig(rt);
  // [coordination]: declared before the monitor, which asks it, so that it outlives it.
  auto fleet = MakeFleet(rt, &topology, control->get());
  // The monitor publishes the servers' positions where the workers' causal reads look.
  health::MonitorHooks monitor_hooks =
      WithCheckRequests(HealthHooks(control->get()), rt, shared.get());
  monitor_hooks.position_board = [s = shared.get(), names = ClusterNames(rt)](
                                     const std::string& cluster) -> routing::PositionBoard* {
    for (size_t i = 0; i < names.size() && i < s->cluster_counters.size(); ++i)
      if (names[i] == cluster) return &s->cluster_counters[i]->positions;
    return nullptr;
  };
  health::HealthMonitor monitor(&topology, LendFleet(fleet.get(), std::move(monitor_hooks)));
  AdminService::HealthHooks admin_hooks = AdminHealthHooks(&topology, &monitor);
  admin_hooks.mirror_fork = MirrorForkHook(&topology, &shared->runtime, control->get());
  if (fleet) LendFleet(fleet.get(), &admin_hooks);
  (*control)->service()->SetHealthHooks(std::move(admin_hooks));
  (*control)->SetFailoverCounts([&monitor](const std::string& cluster) {
    health::HealthCounters h = monitor.Counters(cluster);
    return FailoverCounts{h.failovers,         h.switchovers,   h.adoptions,
                          h.split_brain_holds, h.fence_actions, h.failovers_refused};
  });
  AdminService::ProcessHooks process;
  process.read_config = [path = flags.config] { return LoadConfigFile(path); };
  // As a SIGTERM: sigwait() on this thread takes it and drains.
  process.shutdown = [] { kill(getpid(), SIGTERM); };
  process.pause = [&topology](const std::string& cluster, bool on) {
    return PauseWrites(&topology, cluster, on);
  };
  // KILL [CONNECTION | QUERY] <id> on the admin port: any client session (session_admin.h).
  process.kill = [s = shared.get()](uint32_t id, bool query_only) {
    return KillSession(s, id, query_only);
  };
  (*control)->service()->SetProcessHooks(std::move(process));
  health::SchemaWatchSet schemas(&topology, HealthHooks(control->get()).event);
  // Scale-out/in reads the statistics the control plane collects (never a worker's).
  // The fleet's leader alone runs the commands (proxy/fleet_wiring.h).
  health::ScalerHooks scaler_hooks;
  scaler_hooks.event = HealthHooks(control->get()).event;
  scaler_hooks.stats = [c = control->get()] {
    if (!c->stats()) return StatsDelta{};
    c->stats()->Poll();
    return c->stats()->Lifetime();
  };
  health::ScalerSet scalers(&topology, LendFleet(fleet.get(), std::move(scaler_hooks)));
  if (Status st = AttachSessionAdmin(control->get(), shared.get()); !st.ok()) {
    log::Error("{}", st.message());
    return 1;
  }
  if (Status st = SchemaHooks(control->get(), &schemas); !st.ok()) {
    log::Error("{}", st.message());
    return 1;
  }
  // Passthrough authentication: one lookup thread per cluster with a listener, idle until a
  // worker posts a user it does not know and the cluster has auth_user (it may be set later).
  std::vector<std::unique_ptr<health::AuthLookup>> lookups;
  for (const Cluster& c : rt.clusters) {
    shared->auth_lookups.push_back(nullptr);
    if (c.listen_port == 0) continue;
    lookups.push_back(std::make_unique<health::AuthLookup>(&shared->runtime, c.name));
    shared->auth_lookups.back() = lookups.back().get();
    lookups.back()->Start();
  }
  if (Status st = AuthLookupHooks(control->get(), &lookups); !st.ok()) {
    log::Error("{}", st.message());
    return 1;
  }
  if (fleet) {
    if (Status st = FleetTables(fleet.get(), control->get()); !st.ok()) {
      log::Error("{}", st.message());
      return 1;
    }
  }

  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::unique_ptr<std::atomic<bool>>> done;
  for (int i = 0; i < nworkers; ++i) {
    workers.push_back(std::make_unique<Worker>(i, shared.get()));
    shared->stats_mailboxes.push_back(&workers.back()->stats_mailbox());
    shared->workers.push_back(workers.back().get());
    (*control)->mirror_report().AddMailbox(&workers.back()->mirror_mailbox());
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
  (*control)->SetClusterClients([s = shared.get()](size_t i) -> int64_t {
    return i < s->cluster_counters.size()
               ? s->cluster_counters[i]->client_connections.load(std::memory_order_relaxed)
               : 0;
  });
  if (Status st = (*control)->Start(&shared->runtime, shared->stats_mailboxes); !st.ok()) {
    log::Error("{}", st.message());
    DrainWorkers(workers, 0, done);
    return 1;
  }
  if (fleet) fleet->Start();
  monitor.Start();
  (*control)->SetAccepting(true);
  schemas.Start();
  scalers.Start();
  for (const Cluster& c : snapshot->clusters)
    log::Info("cluster {} ({}) listening on {}:{} with {} servers", c.name,
              ProtocolName(c.protocol), c.listen_host, c.listen_port, c.servers.size());
  log::Info("sluice {} started: {} workers", SLUICE_VERSION, nworkers);
  // systemd (Type=notify): every listener accepts now. A no-op without NOTIFY_SOCKET.
  sd_notify(0, "READY=1\nSTATUS=serving");

  int sig = 0;
  for (;;) {
    sigwait(&sigs, &sig);
    if (sig != SIGHUP) break;
    Reload(flags.config, control->get());
  }
  sd_notify(0, "STOPPING=1\nSTATUS=draining");
  log::Info("received {}, draining (up to {} ms)", strsignal(sig), snapshot->drain_timeout_ms);
  // /health/ready turns 503 at once so load balancers move away while the drain runs; the
  // admin port and /metrics stay up until the workers are done.
  (*control)->SetAccepting(false);
  // The listeners close now, before the threads below stop: stopping the monitor waits for
  // its round in progress (a hung server's check takes its timeout, a failover step
  // longer), and meanwhile new clients were still accepted (issue #13 item 5). The drain
  // timeout counts from here.
  auto drain_start = std::chrono::steady_clock::now();
  for (auto& w : workers) w->RequestDrain();
  scalers.Stop();
  schemas.Stop();
  monitor.Stop();
  if (fleet) fleet->Stop();  // resigns: another instance leads at once
  auto stopping_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - drain_start)
                         .count();
  int drain_ms = shared->runtime.Load()->drain_timeout_ms;
  DrainWorkers(workers, static_cast<int>(std::max<int64_t>(0, drain_ms - stopping_ms)), done);
  for (auto& l : lookups) l->Stop();  // no answer may reach a worker after this
  (*control)->Stop();
  log::Info("sluice stopped");
  return 0;
}
