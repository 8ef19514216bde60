#include "proxy/session_admin.h"

#include <fmt/format.h>

#include <map>

#include "admin/control_plane.h"
#include "admin/metrics_exporter.h"
#include "common/clock.h"
#include "proxy/shared.h"
#include "proxy/worker.h"

namespace sluice {

const char* const kSessionColumns =
    "id INT, protocol TEXT, cluster TEXT, user TEXT, schema TEXT, client_addr TEXT, state TEXT, "
    "time_in_state_ms INT, backend TEXT, hostgroup INT, backend_thread_id INT, digest_text "
    "TEXT, worker INT";

std::vector<SqlRow> SessionRows(const ProxyShared& shared, int64_t now_ms) {
  RuntimePtr rt = shared.runtime.Load();
  std::vector<SqlRow> rows;
  for (const SessionInfo& s : shared.sessions.Snapshot()) {
    const Cluster* c =
        rt && s.cluster_index < rt->clusters.size() ? &rt->clusters[s.cluster_index] : nullptr;
    SqlValue hostgroup;
    if (c && !s.backend.empty()) {
      size_t colon = s.backend.rfind(':');
      if (colon != std::string::npos) {
        int port = std::atoi(s.backend.c_str() + colon + 1);
        hostgroup = std::to_string(c->HostgroupOf(std::string_view(s.backend).substr(0, colon),
                                                  static_cast<uint16_t>(port)));
      }
    }
    auto n = [](int64_t v) { return SqlValue(std::to_string(v)); };
    rows.push_back(
        {n(s.id), SqlValue(s.pgsql ? "pgsql" : "mysql"), c ? SqlValue(c->name) : std::nullopt,
         s.user, s.schema, s.client_addr, SqlValue(SessionPhaseName(s.phase)),
         n(now_ms > s.phase_since_ms ? now_ms - s.phase_since_ms : 0), s.backend, hostgroup,
         s.backend.empty() ? std::nullopt : n(s.backend_thread), s.digest, n(s.worker)});
  }
  return rows;
}

const char* const kBackendColumns =
    "id INT, protocol TEXT, cluster TEXT, server TEXT, hostgroup INT, user TEXT, database TEXT, "
    "state TEXT, time_in_state_ms INT, age_ms INT, remote_id INT, tls INT, client_id INT, "
    "worker INT";

std::vector<SqlRow> BackendRows(const ProxyShared& shared, int64_t now_ms) {
  RuntimePtr rt = shared.runtime.Load();
  // Which session holds which connection: (server, thread id or pid) -> session.
  std::map<std::pair<std::string, uint32_t>, const SessionInfo*> holders;
  std::vector<SessionInfo> sessions = shared.sessions.Snapshot();
  for (const SessionInfo& s : sessions)
    if (!s.backend.empty()) holders[{s.backend, s.backend_thread}] = &s;
  auto n = [](int64_t v) { return SqlValue(std::to_string(v)); };
  std::vector<SqlRow> rows;
  for (const BackendInfo& b : shared.backends.Snapshot()) {
    size_t colon = b.server.rfind(':');
    std::string_view host = std::string_view(b.server).substr(0, colon);
    auto port = static_cast<uint16_t>(
        colon == std::string::npos ? 0 : std::atoi(b.server.c_str() + colon + 1));
    SqlValue cluster, hostgroup;
    if (rt) {
      for (const Cluster& c : rt->clusters) {
        int hg = c.HostgroupOf(host, port);
        if (hg < 0 || (c.protocol == Protocol::kPostgres) != b.pgsql) continue;
        cluster = c.name;
        hostgroup = std::to_string(hg);
        break;
      }
    }
    auto holder = holders.find({b.server, b.remote_id});
    SqlValue client = b.phase == BackendPhase::kActive && holder != holders.end()
                          ? n(holder->second->id)
                          : SqlValue();
    rows.push_back({n(static_cast<int64_t>(b.id)), SqlValue(b.pgsql ? "pgsql" : "mysql"), cluster,
                    b.server, hostgroup, b.user, b.database, SqlValue(BackendPhaseName(b.phase)),
                    n(now_ms > b.phase_since_ms ? now_ms - b.phase_since_ms : 0),
                    n(now_ms > b.opened_ms ? now_ms - b.opened_ms : 0),
                    b.phase == BackendPhase::kNew ? SqlValue() : n(b.remote_id), n(b.tls ? 1 : 0),
                    client, n(b.worker)});
  }
  return rows;
}

Status KillSession(ProxyShared* shared, uint32_t id, bool query_only) {
  SessionRegistry& reg = shared->sessions;
  int w = reg.WorkerOf(id);
  if (!reg.Find(id) || w < 0 || static_cast<size_t>(w) >= shared->workers.size()) {
    reg.kills().refused.fetch_add(1, std::memory_order_relaxed);
    return NotFound(
        fmt::format("Unknown thread id: {} (no client session has it; see stats_sessions)", id));
  }
  (query_only ? reg.kills().query : reg.kills().connection).fetch_add(1, std::memory_order_relaxed);
  shared->workers[w]->Post([id, query_only](Worker* o) { o->KillLocal(id, query_only); });
  return Status::Ok();
}

Status AttachSessionAdmin(ControlPlane* control, ProxyShared* shared) {
  control->AddMetricsSource([shared] {
    RuntimePtr rt = shared->runtime.Load();
    std::map<std::pair<std::string, std::string>, int64_t> by_state;
    if (rt) {  // every state of every cluster, 0 included, so the series do not come and go
      for (const Cluster& c : rt->clusters)
        for (SessionPhase p : {SessionPhase::kLogin, SessionPhase::kIdle, SessionPhase::kWaiting,
                               SessionPhase::kActive, SessionPhase::kIdleInTxn})
          by_state[{c.name, SessionPhaseName(p)}] = 0;
    }
    for (const SessionInfo& s : shared->sessions.Snapshot()) {
      if (rt && s.cluster_index < rt->clusters.size())
        ++by_state[{rt->clusters[s.cluster_index].name, SessionPhaseName(s.phase)}];
    }
    std::vector<PlainMetric> sessions;
    for (const auto& [key, v] : by_state)
      sessions.push_back({{{"cluster", key.first}, {"state", key.second}}, static_cast<double>(v)});
    const auto& k = shared->sessions.kills();
    std::vector<PlainMetric> kills = {
        {{{"kind", "query"}}, static_cast<double>(k.query.load(std::memory_order_relaxed))},
        {{{"kind", "connection"}},
         static_cast<double>(k.connection.load(std::memory_order_relaxed))},
        {{{"kind", "refused"}}, static_cast<double>(k.refused.load(std::memory_order_relaxed))}};
    return std::vector<prometheus::MetricFamily>{
        PlainFamily("sluice_client_sessions",
                    "Open client sessions by cluster and state (stats_sessions).", false, sessions),
        PlainFamily("sluice_session_kills_total",
                    "KILLs carried out (query, connection) and refused (unknown id, not the "
                    "caller's), from clients and the admin port.",
                    true, kills)};
  });
  Status st = control->service()->AddStatsTable(
      "stats_sessions", kSessionColumns, [shared] { return SessionRows(*shared, MonotonicMs()); });
  if (!st.ok()) return st;
  return control->service()->AddStatsTable(
      "stats_backends", kBackendColumns, [shared] { return BackendRows(*shared, MonotonicMs()); });
}

}  // namespace sluice
