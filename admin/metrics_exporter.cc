#include "admin/metrics_exporter.h"

#include <prometheus/exposer.h>

#include <map>
#include <string>

#include <fmt/format.h>

#include "common/log.h"

namespace sluice {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Command keywords become label values only from this bounded set; others are "OTHER".
const char* const kCommands[] = {"SELECT",       "INSERT",     "UPDATE",     "DELETE",
                                 "REPLACE",      "BEGIN",      "START",      "COMMIT",
                                 "ROLLBACK",     "SET",        "SHOW",       "CALL",
                                 "WITH",         "CREATE",     "ALTER",      "DROP",
                                 "TRUNCATE",     "USE",        "PREPARE",    "EXECUTE",
                                 "DEALLOCATE",   "LOCK",       "UNLOCK",     "EXPLAIN",
                                 "COPY",         "PING",       "INIT_DB",    "STMT_PREPARE",
                                 "STMT_EXECUTE", "STMT_CLOSE", "STMT_RESET", "RESET_CONNECTION",
                                 "CHANGE_USER",  "PARSE",      "BIND",       "DISCARD",
                                 "LISTEN",       "NOTIFY",     "VACUUM",     "ANALYZE"};

std::string BoundedCommand(const std::string& c) {
  for (const char* k : kCommands)
    if (c == k) return c;
  return "OTHER";
}

MetricFamily Family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

void AddValue(MetricFamily* f, Labels labels, double v) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f->type == MetricType::Counter)
    m.counter.value = v;
  else
    m.gauge.value = v;
  f->metric.push_back(std::move(m));
}

void AddHistogram(MetricFamily* f, Labels labels, const LatencyHistogram& h) {
  ClientMetric m;
  m.label = std::move(labels);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBucketsUs.size(); ++i) {
    cumulative += h.buckets[i];
    m.histogram.bucket.push_back({cumulative, static_cast<double>(kLatencyBucketsUs[i]) / 1e6});
  }
  m.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
  m.histogram.sample_count = h.count;
  m.histogram.sample_sum = static_cast<double>(h.sum_us) / 1e6;
  f->metric.push_back(std::move(m));
}

}  // namespace

std::vector<MetricFamily> BuildMetricFamilies(const StatsDelta& d, const Runtime& rt) {
  auto clients = Family("sluice_client_connections", "Open client connections, all workers.",
                        MetricType::Gauge);
  AddValue(&clients, {}, static_cast<double>(d.client_connections));
  auto accepted = Family("sluice_client_connections_accepted_total", "Client connections accepted.",
                         MetricType::Counter);
  AddValue(&accepted, {}, static_cast<double>(d.client_connections_accepted));
  auto refused =
      Family("sluice_client_connections_refused_total",
             "Client connections refused (over a limit, or failed login).", MetricType::Counter);
  AddValue(&refused, {}, static_cast<double>(d.client_connections_refused));
  auto used = Family("sluice_backend_connections_used", "Backend connections lent to a session.",
                     MetricType::Gauge);
  auto free = Family("sluice_backend_connections_free", "Idle backend connections in the pools.",
                     MetricType::Gauge);
  auto queries =
      Family("sluice_server_queries_total", "Statements sent to a server.", MetricType::Counter);
  auto errors = Family("sluice_server_errors_total", "Statements a server answered with an error.",
                       MetricType::Counter);
  auto connect_errors = Family("sluice_server_connect_errors_total",
                               "Failed connects or logins to a server.", MetricType::Counter);
  auto state = Family("sluice_server_state", "Server state, one-hot over the state label.",
                      MetricType::Gauge);
  auto role =
      Family("sluice_server_role", "Server role, one-hot over the role label.", MetricType::Gauge);
  auto lag = Family("sluice_server_replication_lag_seconds",
                    "Replication lag the monitor measured (0 until measured).", MetricType::Gauge);
  auto hg_latency =
      Family("sluice_statement_latency_seconds",
             "Statement latency per cluster and hostgroup, first byte sent to last byte received.",
             MetricType::Histogram);
  auto cmd_latency = Family("sluice_command_latency_seconds",
                            "Statement latency per command keyword.", MetricType::Histogram);
  auto failovers =
      Family("sluice_failovers_total", "Failovers performed (none until the failover lands).",
             MetricType::Counter);
  auto mirror_sent =
      Family("sluice_mirror_statements_total",
             "Statements copied to the shadow (mirror not built yet: 0).", MetricType::Counter);
  auto mirror_dropped =
      Family("sluice_mirror_dropped_total",
             "Mirror copies dropped because the shadow fell behind (0 until the mirror exists).",
             MetricType::Counter);

  for (const Cluster& c : rt.clusters) {
    std::map<int, LatencyHistogram> by_hostgroup;
    AddValue(&failovers, {{"cluster", c.name}}, 0);
    AddValue(&mirror_sent, {{"cluster", c.name}}, 0);
    AddValue(&mirror_dropped, {{"cluster", c.name}}, 0);
    for (const Server& s : c.servers) {
      Labels l = {
          {"cluster", c.name}, {"hostgroup", std::to_string(s.hostgroup)}, {"server", s.name()}};
      ServerStats st;
      if (auto it = d.servers.find(c.name + "/" + s.name()); it != d.servers.end()) st = it->second;
      AddValue(&used, l, static_cast<double>(st.conns_used));
      AddValue(&free, l, static_cast<double>(st.conns_free));
      AddValue(&queries, l, static_cast<double>(st.queries));
      AddValue(&errors, l, static_cast<double>(st.errors));
      AddValue(&connect_errors, l, static_cast<double>(st.connect_errors));
      AddValue(&lag, l, static_cast<double>(s.lag_ms) / 1000.0);
      by_hostgroup[s.hostgroup].Merge(st.latency);
      for (ServerState x : {ServerState::kOnline, ServerState::kShunned, ServerState::kOfflineSoft,
                            ServerState::kOfflineHard}) {
        Labels ls = l;
        ls.push_back({"state", StateName(x)});
        AddValue(&state, ls, s.state == x ? 1 : 0);
      }
      for (ServerRole x : {ServerRole::kPrimary, ServerRole::kReplica}) {
        Labels lr = l;
        lr.push_back({"role", RoleName(x)});
        AddValue(&role, lr, s.role == x ? 1 : 0);
      }
    }
    for (const auto& [hg, h] : by_hostgroup) {
      AddHistogram(&hg_latency, {{"cluster", c.name}, {"hostgroup", std::to_string(hg)}}, h);
    }
  }
  std::map<std::string, LatencyHistogram> by_command;
  for (const auto& [name, c] : d.commands) by_command[BoundedCommand(name)].Merge(c.latency);
  for (const auto& [name, h] : by_command) AddHistogram(&cmd_latency, {{"command", name}}, h);

  auto pool_waits = Family("sluice_pool_waits_total",
                           "Statements that waited for a backend connection.", MetricType::Counter);
  AddValue(&pool_waits, {}, static_cast<double>(d.pool_waits));
  auto pool_timeouts =
      Family("sluice_pool_wait_timeouts_total", "Waits for a backend connection that timed out.",
             MetricType::Counter);
  AddValue(&pool_timeouts, {}, static_cast<double>(d.pool_wait_timeouts));
  auto retries =
      Family("sluice_retries_total", "Statements moved to another server before any byte was sent.",
             MetricType::Counter);
  AddValue(&retries, {}, static_cast<double>(d.retries));
  auto protocol_errors =
      Family("sluice_protocol_errors_total", "Malformed client input.", MetricType::Counter);
  AddValue(&protocol_errors, {}, static_cast<double>(d.protocol_errors));
  auto version = Family("sluice_runtime_version", "Version of the runtime snapshot in force.",
                        MetricType::Gauge);
  AddValue(&version, {}, static_cast<double>(rt.version));

  return {clients,     accepted,        refused,     used,           free,       queries,
          errors,      connect_errors,  state,       role,           lag,        hg_latency,
          cmd_latency, failovers,       mirror_sent, mirror_dropped, pool_waits, pool_timeouts,
          retries,     protocol_errors, version};
}

std::vector<MetricFamily> SluiceCollectable::Collect() const {
  stats_->Poll();
  RuntimePtr rt = runtime_->Load();
  if (!rt) return {};
  return BuildMetricFamilies(stats_->Lifetime(), *rt);
}

MetricsExporter::MetricsExporter(const RuntimeHolder* runtime, StatsCollector* stats)
    : collectable_(std::make_shared<SluiceCollectable>(runtime, stats)) {}

MetricsExporter::~MetricsExporter() = default;

Status MetricsExporter::Start(const MetricsSettings& m) {
  if (m.listen_port == 0) return Status::Ok();
  std::string addr = fmt::format("{}:{}", m.listen_host, m.listen_port);
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(addr, 1);
  } catch (const std::exception& e) {
    return Unavailable(fmt::format("metrics: cannot listen on {}: {}", addr, e.what()));
  }
  exposer_->RegisterCollectable(collectable_);
  log::Info("metrics: Prometheus endpoint on http://{}/metrics", addr);
  return Status::Ok();
}

void MetricsExporter::Register(const std::shared_ptr<prometheus::Collectable>& c) {
  if (exposer_) exposer_->RegisterCollectable(c);
}

}  // namespace sluice
