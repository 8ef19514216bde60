#include "admin/metrics_exporter.h"

#include <civetweb.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <cstring>
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

std::vector<MetricFamily> BuildMetricFamilies(const StatsDelta& d, const Runtime& rt,
                                              const FailoverCountsFn& failover) {
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
  auto hostgroup =
      Family("sluice_server_hostgroup",
             "The hostgroup a server is in now (it moves with the role).", MetricType::Gauge);
  auto lag = Family("sluice_server_replication_lag_seconds",
                    "Replication lag the monitor measured (0 until measured).", MetricType::Gauge);
  auto hg_latency =
      Family("sluice_statement_latency_seconds",
             "Statement latency per cluster and hostgroup, first byte sent to last byte received.",
             MetricType::Histogram);
  auto cmd_latency = Family("sluice_command_latency_seconds",
                            "Statement latency per command keyword.", MetricType::Histogram);
  auto failovers = Family("sluice_failovers_total", "Automatic failovers that promoted a replica.",
                          MetricType::Counter);
  auto switchovers =
      Family("sluice_switchovers_total", "SWITCHOVER commands completed.", MetricType::Counter);
  auto adoptions = Family("sluice_topology_adoptions_total",
                          "Primaries changed outside sluice and adopted (TOPOLOGY_ADOPTED).",
                          MetricType::Counter);
  auto split_brain =
      Family("sluice_split_brain_holds_total",
             "Times writes were held because two nodes reported themselves writable.",
             MetricType::Counter);
  auto fences =
      Family("sluice_fence_actions_total",
             "Fencing actions that succeeded (read-only + sessions ended, fence_command).",
             MetricType::Counter);
  auto fo_refused = Family("sluice_failovers_refused_total",
                           "Failover attempts refused or aborted (no safe candidate, fence_command "
                           "failed, promotion failed).",
                           MetricType::Counter);

  for (const Cluster& c : rt.clusters) {
    std::map<int, LatencyHistogram> by_hostgroup;
    FailoverCounts fc = failover ? failover(c.name) : FailoverCounts{};
    Labels cl = {{"cluster", c.name}};
    AddValue(&failovers, cl, static_cast<double>(fc.failovers));
    AddValue(&switchovers, cl, static_cast<double>(fc.switchovers));
    AddValue(&adoptions, cl, static_cast<double>(fc.adoptions));
    AddValue(&split_brain, cl, static_cast<double>(fc.split_brain_holds));
    AddValue(&fences, cl, static_cast<double>(fc.fence_actions));
    AddValue(&fo_refused, cl, static_cast<double>(fc.failovers_refused));
    for (const Server& s : c.servers) {
      // A server's series are named by cluster and server only: a failover changes its role
      // and hostgroup (their own gauges), not the identity of its counters.
      Labels l = {{"cluster", c.name}, {"server", s.name()}};
      AddValue(&hostgroup, l, s.hostgroup);
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
  auto protocol_errors = Family("sluice_protocol_errors_total",
                                "Malformed client input, by client protocol.", MetricType::Counter);
  AddValue(&protocol_errors, {{"protocol", "mysql"}}, static_cast<double>(d.protocol_errors_mysql));
  AddValue(&protocol_errors, {{"protocol", "postgresql"}},
           static_cast<double>(d.protocol_errors_postgresql));
  auto timeouts = Family("sluice_session_timeouts_total",
                         "Client sessions a timeout acted on, by reason.", MetricType::Counter);
  AddValue(&timeouts, {{"reason", "client_login_timeout"}},
           static_cast<double>(d.client_login_timeouts));
  AddValue(&timeouts, {{"reason", "query_timeout"}}, static_cast<double>(d.query_timeouts));
  AddValue(&timeouts, {{"reason", "idle_in_transaction_timeout"}},
           static_cast<double>(d.idle_transaction_timeouts));
  auto evictions = Family("sluice_preauth_evictions_total",
                          "Unauthenticated client connections closed to make room for newer ones.",
                          MetricType::Counter);
  AddValue(&evictions, {}, static_cast<double>(d.preauth_evictions));
  auto version = Family("sluice_runtime_version", "Version of the runtime snapshot in force.",
                        MetricType::Gauge);
  AddValue(&version, {}, static_cast<double>(rt.version));
  auto pins = Family("sluice_session_pins_total",
                     "Sessions pinned to one backend connection in transaction pooling, by "
                     "reason.",
                     MetricType::Counter);
  for (const auto& [key, n] : d.session_pins) {
    size_t slash = key.rfind('/');
    AddValue(&pins, {{"cluster", key.substr(0, slash)}, {"reason", key.substr(slash + 1)}},
             static_cast<double>(n));
  }

  // Causal reads (consistency): reads on replicas vs kept on the primary, waits, their time.
  auto reads_replica = Family("sluice_consistency_reads_replica_total",
                              "Reads that ran on a replica.", MetricType::Counter);
  auto reads_kept = Family("sluice_consistency_reads_kept_primary_total",
                           "Reads kept on the primary for consistency.", MetricType::Counter);
  auto waits =
      Family("sluice_consistency_waits_total",
             "Position checks (waits) on a replica before a causal read.", MetricType::Counter);
  auto wait_timeouts =
      Family("sluice_consistency_wait_timeouts_total",
             "Position checks that did not find the position: the read ran on the primary.",
             MetricType::Counter);
  auto wait_seconds = Family("sluice_consistency_wait_seconds_total",
                             "Time spent in position checks.", MetricType::Counter);
  auto by_position =
      Family("sluice_consistency_reads_by_position_total",
             "Reads on a replica without a check: the monitor's position covered them.",
             MetricType::Counter);
  for (const Cluster& c : rt.clusters) {
    auto it = d.consistency.find(c.name);
    ConsistencyStats st = it == d.consistency.end() ? ConsistencyStats{} : it->second;
    Labels l = {{"cluster", c.name}};
    AddValue(&reads_replica, l, static_cast<double>(st.reads_replica));
    AddValue(&reads_kept, l, static_cast<double>(st.reads_kept_primary));
    AddValue(&waits, l, static_cast<double>(st.waits));
    AddValue(&wait_timeouts, l, static_cast<double>(st.wait_timeouts));
    AddValue(&wait_seconds, l, static_cast<double>(st.wait_us) / 1e6);
    AddValue(&by_position, l, static_cast<double>(st.reads_by_position));
  }

  return {clients,         accepted,       refused,      used,       free,          queries,
          errors,          connect_errors, state,        role,       hostgroup,     lag,
          hg_latency,      cmd_latency,    failovers,    pool_waits, pool_timeouts, retries,
          protocol_errors, version,        switchovers,  adoptions,  split_brain,   fences,
          fo_refused,      timeouts,       evictions,    pins,       reads_replica, reads_kept,
          waits,           wait_timeouts,  wait_seconds, by_position};
}

std::vector<MetricFamily> ReadinessFamilies(const Readiness& r) {
  auto ready = Family("sluice_ready",
                      "1 when /health/ready answers 200: accepting, and every cluster has a "
                      "writable primary or is in a bounded hold.",
                      MetricType::Gauge);
  AddValue(&ready, {}, r.ready ? 1 : 0);
  auto cluster = Family("sluice_cluster_ready",
                        "1 when the cluster has a writable primary or is in a bounded hold.",
                        MetricType::Gauge);
  for (const ClusterReadiness& c : r.clusters)
    AddValue(&cluster, {{"cluster", c.name}}, c.ready ? 1 : 0);
  return {ready, cluster};
}

MetricFamily PlainFamily(const char* name, const char* help, bool counter,
                         const std::vector<PlainMetric>& values) {
  MetricFamily f = Family(name, help, counter ? MetricType::Counter : MetricType::Gauge);
  for (const PlainMetric& v : values) {
    Labels l;
    for (const auto& [k, val] : v.labels) l.push_back({k, val});
    AddValue(&f, std::move(l), v.value);
  }
  return f;
}

std::vector<MetricFamily> EventSinkFamilies(const std::vector<EventSinkStats>& sinks) {
  auto sent = Family("sluice_event_sink_sent_total",
                     "Events an event sink's endpoint accepted (2xx).", MetricType::Counter);
  auto dropped = Family("sluice_event_sink_dropped_total",
                        "Events dropped because the sink's queue was full (endpoint slow or down).",
                        MetricType::Counter);
  auto rejected =
      Family("sluice_event_sink_rejected_total",
             "Events the endpoint refused for good (4xx other than 408/429).", MetricType::Counter);
  auto failed = Family("sluice_event_sink_failed_attempts_total",
                       "POSTs that failed and were retried.", MetricType::Counter);
  auto queued =
      Family("sluice_event_sink_queue_depth", "Events waiting to be sent.", MetricType::Gauge);
  for (const EventSinkStats& s : sinks) {
    Labels l = {{"sink", s.name}};
    AddValue(&sent, l, static_cast<double>(s.sent));
    AddValue(&dropped, l, static_cast<double>(s.dropped));
    AddValue(&rejected, l, static_cast<double>(s.rejected));
    AddValue(&failed, l, static_cast<double>(s.failed_attempts));
    AddValue(&queued, l, static_cast<double>(s.queued));
  }
  return {sent, dropped, rejected, failed, queued};
}

std::vector<MetricFamily> BuildMirrorFamilies(const std::vector<mirror::MirrorSummary>& mirrors,
                                              const Runtime* rt) {
  // Per source cluster (no digest labels): the mirror's traffic.
  auto statements = Family("sluice_mirror_statements_total",
                           "Statements of mirrored sessions recorded for the report (paired "
                           "with the shadow's outcome or not), by source cluster.",
                           MetricType::Counter);
  auto sessions =
      Family("sluice_mirror_sessions_total",
             "Client sessions sampled for mirroring, by source cluster.", MetricType::Counter);
  auto cuts = Family("sluice_mirror_sessions_cut_total",
                     "Mirrored sessions whose mirroring was cut as a whole, by reason "
                     "(queue_full, shadow_down, other).",
                     MetricType::Counter);
  auto shadow_errors = Family("sluice_mirror_shadow_errors_total",
                              "Statements the shadow answered with an error, by source cluster.",
                              MetricType::Counter);
  for (const mirror::MirrorSummary& m : mirrors) {
    const MirrorConfig* mc = rt ? rt->FindMirror(m.name) : nullptr;
    if (!mc) continue;
    Labels cl = {{"cluster", mc->source}, {"mirror", m.name}};
    AddValue(&statements, cl, static_cast<double>(m.lifetime.statements));
    AddValue(&sessions, cl, static_cast<double>(m.lifetime.sessions));
    AddValue(&shadow_errors, cl, static_cast<double>(m.shadow_totals.error));
    for (size_t i = 0; i < mirror::kCutReasons; ++i) {
      Labels l = cl;
      l.push_back({"reason", mirror::CutReasonName(static_cast<mirror::CutReason>(i))});
      AddValue(&cuts, l, static_cast<double>(m.lifetime.cuts[i]));
    }
  }
  auto per_cluster = std::vector<MetricFamily>{statements, sessions, cuts, shadow_errors};
  auto digests = Family("sluice_mirror_digests",
                        "Digests of the mirror report per verdict (a digest with several "
                        "findings counts under each).",
                        MetricType::Gauge);
  auto outcomes = Family("sluice_mirror_outcomes_total",
                         "Mirrored statements' outcomes by side (source, shadow) and outcome.",
                         MetricType::Counter);
  auto latency =
      Family("sluice_mirror_latency_seconds",
             "Mirrored statements' latency by side (source, shadow).", MetricType::Histogram);
  for (const mirror::MirrorSummary& m : mirrors) {
    const std::pair<const char*, uint64_t> verdicts[] = {
        {"ok", m.verdict_ok},
        {"slower", m.verdict_slower},
        {"new_errors", m.verdict_new_errors},
        {"different_results", m.verdict_different_results}};
    for (const auto& [v, n] : verdicts)
      AddValue(&digests, {{"mirror", m.name}, {"verdict", v}}, static_cast<double>(n));
    for (const auto& [side, t] :
         {std::pair{"source", &m.source_totals}, std::pair{"shadow", &m.shadow_totals}}) {
      AddValue(&outcomes, {{"mirror", m.name}, {"side", side}, {"outcome", "ok"}},
               static_cast<double>(t->ok));
      AddValue(&outcomes, {{"mirror", m.name}, {"side", side}, {"outcome", "error"}},
               static_cast<double>(t->error));
      AddHistogram(&latency, {{"mirror", m.name}, {"side", side}}, t->latency);
    }
  }
  per_cluster.insert(per_cluster.end(), {digests, outcomes, latency});
  return per_cluster;
}

std::vector<MetricFamily> SluiceCollectable::Collect() const {
  stats_->Poll();
  RuntimePtr rt = runtime_->Load();
  if (!rt) return {};
  auto out = BuildMetricFamilies(stats_->Lifetime(), *rt, failover_);
  if (readiness_)
    for (MetricFamily& f : ReadinessFamilies(readiness_())) out.push_back(std::move(f));
  if (cluster_clients_) {
    auto f = Family("sluice_cluster_client_connections",
                    "Open client connections on the cluster's listener, logged in or not.",
                    MetricType::Gauge);
    for (size_t i = 0; i < rt->clusters.size(); ++i)
      AddValue(&f, {{"cluster", rt->clusters[i].name}}, static_cast<double>(cluster_clients_(i)));
    out.push_back(std::move(f));
  }
  for (const MetricsSource& source : sources_) {
    for (MetricFamily& f : source()) out.push_back(std::move(f));
  }
  return out;
}

namespace {

int Reply(mg_connection* conn, int status, const char* reason, const char* type,
          const std::string& body) {
  const mg_request_info* ri = mg_get_request_info(conn);
  bool head = ri && ri->request_method && std::strcmp(ri->request_method, "HEAD") == 0;
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            status, reason, type, body.size());
  if (!head) mg_write(conn, body.data(), body.size());
  return status;
}

// Only GET and HEAD; anything else is 405.
bool Readable(mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  const char* m = ri ? ri->request_method : nullptr;
  if (m && (std::strcmp(m, "GET") == 0 || std::strcmp(m, "HEAD") == 0)) return true;
  Reply(conn, 405, "Method Not Allowed", "text/plain", "GET or HEAD only\n");
  return false;
}

int LogMessage(const mg_connection*, const char* message) {
  log::Warn("metrics: {}", message);
  return 1;
}

}  // namespace

MetricsExporter::MetricsExporter(const RuntimeHolder* runtime, StatsCollector* stats,
                                 const std::atomic<bool>* accepting, FailoverCountsFn failover,
                                 std::vector<MetricsSource> sources)
    : runtime_(runtime), accepting_(accepting) {
  collectable_ = std::make_shared<SluiceCollectable>(
      runtime, stats, [this] { return Ready(); }, std::move(failover), std::move(sources));
}

MetricsExporter::~MetricsExporter() {
  if (ctx_) mg_stop(ctx_);
}

Readiness MetricsExporter::Ready() {
  RuntimePtr rt = runtime_->Load();
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  bool accepting = accepting_ && accepting_->load(std::memory_order_acquire);
  std::lock_guard<std::mutex> lock(hold_mu_);
  if (!rt) {
    Readiness r;
    r.reason = "no runtime published yet";
    return r;
  }
  return CheckReadiness(*rt, accepting, now, &holds_);
}

int MetricsExporter::HandleMetrics(mg_connection* conn, void* self) {
  if (!Readable(conn)) return 405;
  auto* me = static_cast<MetricsExporter*>(self);
  std::string body = prometheus::TextSerializer().Serialize(me->collectable_->Collect());
  return Reply(conn, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
}

int MetricsExporter::HandleLive(mg_connection* conn, void*) {
  if (!Readable(conn)) return 405;
  return Reply(conn, 200, "OK", "application/json",
               "{\"status\":\"live\",\"reason\":\"the process answers\"}\n");
}

int MetricsExporter::HandleReady(mg_connection* conn, void* self) {
  if (!Readable(conn)) return 405;
  Readiness r = static_cast<MetricsExporter*>(self)->Ready();
  return r.ready ? Reply(conn, 200, "OK", "application/json", r.Json())
                 : Reply(conn, 503, "Service Unavailable", "application/json", r.Json());
}

Status MetricsExporter::Start(const MetricsSettings& m) {
  if (m.listen_port == 0) return Status::Ok();
  bool v6 = m.listen_host.find(':') != std::string::npos;
  std::string addr = v6 ? fmt::format("[{}]:{}", m.listen_host, m.listen_port)
                        : fmt::format("{}:{}", m.listen_host, m.listen_port);
  // Bounded: two request threads, a 5 s limit per request, no keep-alive.
  const char* options[] = {"listening_ports",
                           addr.c_str(),
                           "num_threads",
                           "2",
                           "request_timeout_ms",
                           "5000",
                           "enable_keep_alive",
                           "no",
                           "listen_backlog",
                           "64",
                           nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof callbacks);
  callbacks.log_message = LogMessage;
  ctx_ = mg_start(&callbacks, this, options);
  if (!ctx_) return Unavailable(fmt::format("metrics: cannot listen on {}", addr));
  mg_set_request_handler(ctx_, "/metrics$", HandleMetrics, this);
  mg_set_request_handler(ctx_, "/health/live$", HandleLive, this);
  mg_set_request_handler(ctx_, "/health/ready$", HandleReady, this);
  log::Info("metrics: http://{}/metrics, /health/live, /health/ready", addr);
  return Status::Ok();
}

}  // namespace sluice
