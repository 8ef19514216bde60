#include "proxy/router.h"

#include <fmt/format.h>

#include "proxy/backend_pool.h"
#include "routing/balancer.h"
#include "routing/digest.h"
#include "routing/rules.h"

namespace sluice {
namespace {
routing::Dialect dialect_of(const Cluster& c) {
  return c.protocol == Protocol::kMysql ? routing::Dialect::kMysql : routing::Dialect::kPostgres;
}
// How long a worker avoids a server after a failed connect, before the monitor decides.
constexpr int64_t kLocalShunMs = 2000;
}  // namespace

StatementInfo ClassifyStatement(std::string_view sql, routing::Dialect dialect) {
  routing::Classification c = routing::Classify(sql, dialect);
  StatementInfo info;
  info.is_read = c.kind == routing::StatementKind::kRead;
  info.read_only_txn = c.read_only_txn_start;
  info.writes = !info.is_read && c.first_keyword != "SET" && c.first_keyword != "RESET";
  info.multi_statement = c.multi_statement;
  info.kind = c.kind;
  info.pins = c.pins;
  info.txn = c.txn;
  info.command = c.first_keyword;
  info.use_schema = std::string(c.schema);
  for (const routing::SetVar& v : c.set_vars) {
    if (v.scope != routing::SetScope::kSession) continue;
    info.session_vars.emplace_back(std::string(v.name), v.reset ? "DEFAULT" : std::string(v.value));
  }
  return info;
}

Router::ClusterState& Router::StateFor(const Runtime& rt, size_t cluster_index) {
  if (clusters_.size() < rt.clusters.size()) clusters_.resize(rt.clusters.size());
  ClusterState& cs = clusters_[cluster_index];
  size_t n = rt.clusters[cluster_index].servers.size();
  if (cs.outstanding.size() != n) cs.outstanding.assign(n, 0);
  return cs;
}

void Router::RefreshRules(const Runtime& rt) {
  if (rules_version_ == rt.version && rules_) return;
  rules_version_ = rt.version;
  if (rt.rule_set) {
    rules_ = rt.rule_set;  // compiled by the control plane when it published the snapshot
  } else {
    // Rules were validated when the snapshot was built; a failure here keeps no rules.
    auto compiled = routing::RuleSet::Compile(rt.rules);
    rules_ = compiled.ok() ? std::make_shared<const routing::RuleSet>(std::move(compiled).value())
                           : std::make_shared<const routing::RuleSet>();
  }
  rules_need_digest_ = false;
  for (const QueryRule& r : rt.rules) rules_need_digest_ |= r.active && !r.match_digest.empty();
}

RouteResult Router::Route(const Runtime& rt, size_t cluster_index, const RouteRequest& req) {
  const Cluster& cluster = rt.clusters[cluster_index];
  ClusterState& cs = StateFor(rt, cluster_index);
  RouteResult out;
  routing::RouteInput in;
  if (!rt.rules.empty() && !req.text.empty()) {
    RefreshRules(rt);
    routing::RuleContext ctx;
    ctx.cluster = cluster.name;
    ctx.user = req.user;
    ctx.schema = req.schema;
    ctx.client_address = req.client_addr;
    ctx.statement = req.text;
    if (rules_need_digest_) {
      routing::Digest(req.text, dialect_of(cluster), &digest_);
      ctx.digest = digest_;
    }
    routing::RuleDecision d = rules_->Match(ctx);
    if (d.reject) {
      out.reject = true;
      out.message = std::string(d.error_message);
      return out;
    }
    in.rule_hostgroup = d.destination_hostgroup;
    out.mirror = d.mirror;
  }
  // A read-only transaction may run on a replica: its BEGIN routes like a read.
  in.kind = req.info && (req.info->is_read || req.info->read_only_txn)
                ? routing::StatementKind::kRead
                : routing::StatementKind::kWrite;
  in.now_ms = MonotonicMs();
  in.last_write_ms =
      cluster.read_your_writes_ms > 0 && req.last_write_ms > 0 ? req.last_write_ms : -1;
  // Servers this worker saw fail a moment ago take the statement only when no other server
  // can (routing::RouteInput::avoid). Usually there are none: then no server name is built
  // per statement.
  for (auto it = cs.failed_until_ms.begin(); it != cs.failed_until_ms.end();) {
    if (it->second <= in.now_ms) {
      it = cs.failed_until_ms.erase(it);
      continue;
    }
    for (size_t i = 0; i < cluster.servers.size() && i < 64; ++i)
      if (cluster.servers[i].name() == it->first) in.avoid |= uint64_t{1} << i;
    ++it;
  }
  in.outstanding = cs.outstanding;
  in.causal_needed = req.causal_needed;
  in.causal_known = req.causal_known;
  in.causal_failed = req.causal_failed;
  routing::RouteDecision d = routing::Route(cluster, in, &cs.rr_cursor);
  if (cluster.writes_paused && d.hostgroup == cluster.writer_hostgroup && d.fell_back &&
      in.avoid != 0) {
    // The writer is held: a read that fell back to it tries a replica that failed instead.
    in.avoid = 0;
    routing::RouteDecision again = routing::Route(cluster, in, &cs.rr_cursor);
    if (again.server >= 0 && again.hostgroup != cluster.writer_hostgroup) d = again;
  }
  if (cluster.writes_paused && d.hostgroup == cluster.writer_hostgroup) {
    out.hold = true;
    return out;
  }
  out.server = d.server;
  out.causal_check = d.causal_check;
  out.kept_for_consistency = d.kept_for_consistency;
  out.read_on_replica = d.server >= 0 && in.kind == routing::StatementKind::kRead &&
                        cluster.servers[d.server].role == ServerRole::kReplica;
  if (d.server < 0)
    out.message = fmt::format("sluice: {} (cluster {})", d.error ? d.error : "no usable server",
                              cluster.name);
  return out;
}

void Router::Started(size_t cluster_index, int server) {
  if (cluster_index < clusters_.size() && server >= 0 &&
      server < static_cast<int>(clusters_[cluster_index].outstanding.size()))
    ++clusters_[cluster_index].outstanding[server];
}

void Router::Finished(size_t cluster_index, int server) {
  if (cluster_index < clusters_.size() && server >= 0 &&
      server < static_cast<int>(clusters_[cluster_index].outstanding.size()) &&
      clusters_[cluster_index].outstanding[server] > 0)
    --clusters_[cluster_index].outstanding[server];
}

void Router::MarkFailed(size_t cluster_index, const std::string& server) {
  if (cluster_index >= clusters_.size()) clusters_.resize(cluster_index + 1);
  clusters_[cluster_index].failed_until_ms[server] = MonotonicMs() + kLocalShunMs;
}

}  // namespace sluice
