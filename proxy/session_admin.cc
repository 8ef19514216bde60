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
  return control->service()->AddStatsTable(
      "stats_sessions", kSessionColumns, [shared] { return SessionRows(*shared, MonotonicMs()); });
}

}  // namespace sluice
