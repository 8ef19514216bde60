#include "admin/runtime_validation.h"

#include <map>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <re2/re2.h>

#include "admin/event_log.h"
#include "protocol/mysql/auth.h"
#include "protocol/pgsql/scram.h"

namespace sluice {
namespace {

using Entity = Field::Entity;

Field At(Entity e, std::string name, size_t cluster = 0, size_t index = 0) {
  return Field{e, cluster, index, std::move(name)};
}

Status CheckInt(const FieldNamer& n, const Field& f, Limit limit, int64_t v) {
  std::string what = CheckLimit(limit, v);
  return what.empty() ? Status::Ok() : n.Error(f, what);
}

Status CheckSettings(const Runtime& rt, const FieldNamer& n) {
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, At(Entity::kSettings, "workers"), limits::kWorkers, rt.workers));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, At(Entity::kSettings, "drain_timeout_ms"),
                                  limits::kDrainTimeoutMs, rt.drain_timeout_ms));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, At(Entity::kSettings, "max_unauthenticated_connections"),
                                  limits::kMaxUnauthenticated, rt.max_unauthenticated_connections));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, At(Entity::kSettings, "client_preauth_bytes"),
                                  limits::kClientPreAuthBytes, rt.client_preauth_bytes));
  // admin.password may be the stored verifier "*<hex SHA1(SHA1(pw))>" (the admin port speaks
  // mysql_native_password only).
  if (mysql::LooksLikeNativeVerifier(rt.admin.password) &&
      !mysql::ParseNativeVerifier(rt.admin.password))
    return n.Error(At(Entity::kAdmin, "password"),
                   "looks like a mysql_native_password verifier (\"*\" and 40 characters) but is "
                   "not \"*\" and 40 hex digits");
  for (const char* level : {"debug", "info", "warn", "error"})
    if (rt.log_level == level) return Status::Ok();
  return n.Error(At(Entity::kSettings, "log_level"),
                 BadChoice("debug|info|warn|error", rt.log_level));
}

Status CheckServer(const Cluster& c, size_t ci, size_t si, const FieldNamer& n) {
  const Server& s = c.servers[si];
  auto f = [&](const char* name) { return At(Entity::kServer, name, ci, si); };
  if (s.host.empty()) return n.Error(f("host"), "expected a non-empty string");
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("port"), limits::kPort, s.port));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("weight"), limits::kWeight, s.weight));
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, f("max_connections"), limits::kServerMaxConnections, s.max_connections));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("max_lag_ms"), limits::kMaxLagMs, s.max_lag_ms));
  int want = s.role == ServerRole::kPrimary ? c.writer_hostgroup : c.reader_hostgroup;
  if (s.hostgroup != want) {
    return n.Error(
        f("hostgroup"),
        fmt::format("expected {} (the {} hostgroup of cluster \"{}\" for role {}), got {}", want,
                    s.role == ServerRole::kPrimary ? "writer" : "reader", c.name, RoleName(s.role),
                    s.hostgroup));
  }
  for (size_t j = 0; j < si; ++j) {
    if (c.servers[j].host == s.host && c.servers[j].port == s.port) {
      return n.Error(f("port"), fmt::format("duplicate server {} (the first is {})", s.name(),
                                            n.Name(At(Entity::kServer, "", ci, j))));
    }
  }
  return Status::Ok();
}

// Exactly one primary: the writer hostgroup is that one node.
Status CheckPrimaries(const Cluster& c, size_t ci, const FieldNamer& n) {
  std::optional<size_t> first;
  for (size_t i = 0; i < c.servers.size(); ++i) {
    if (c.servers[i].role != ServerRole::kPrimary) continue;
    if (first) {
      return n.Error(At(Entity::kServer, "role", ci, i),
                     fmt::format("second primary in cluster \"{}\" (the first is {})", c.name,
                                 n.Name(At(Entity::kServer, "", ci, *first))));
    }
    first = i;
  }
  if (first) return Status::Ok();
  return n.Error(At(Entity::kCluster, "server", ci),
                 "expected exactly one server with role = \"primary\", got none");
}

// The scale-out/in policy's keys (health/scaler.h).
Status CheckScaling(const Cluster& c, size_t ci, const FieldNamer& n) {
  auto f = [&](const char* name) { return At(Entity::kCluster, name, ci); };
  const std::pair<const char*, int> rates[] = {
      {"scale_out_reads_per_replica", c.scale_out_reads_per_replica},
      {"scale_out_pool_waits_per_s", c.scale_out_pool_waits_per_s},
      {"scale_out_p95_ms", c.scale_out_p95_ms},
      {"scale_in_reads_per_replica", c.scale_in_reads_per_replica}};
  for (const auto& [key, v] : rates)
    SLUICE_RETURN_IF_ERROR(CheckInt(n, f(key), limits::kScaleRate, v));
  const std::pair<const char*, int> times[] = {
      {"scale_out_window_ms", c.scale_out_window_ms},
      {"scale_in_window_ms", c.scale_in_window_ms},
      {"scale_cooldown_ms", c.scale_cooldown_ms},
      {"scale_command_timeout_ms", c.scale_command_timeout_ms},
      {"replica_ramp_ms", c.replica_ramp_ms}};
  for (const auto& [key, v] : times)
    SLUICE_RETURN_IF_ERROR(CheckInt(n, f(key), limits::kScaleWindowMs, v));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("min_replicas"), limits::kReplicaCount, c.min_replicas));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("max_replicas"), limits::kReplicaCount, c.max_replicas));
  if (c.max_replicas < c.min_replicas)
    return n.Error(f("max_replicas"), fmt::format("expected at least min_replicas ({}), got {}",
                                                  c.min_replicas, c.max_replicas));
  if (!c.scale_out_command.empty() && c.scale_out_reads_per_replica == 0 &&
      c.scale_out_pool_waits_per_s == 0 && c.scale_out_p95_ms == 0)
    return n.Error(f("scale_out_command"),
                   "set with no threshold: set scale_out_reads_per_replica, "
                   "scale_out_pool_waits_per_s or scale_out_p95_ms");
  if (!c.scale_in_command.empty() && c.scale_in_reads_per_replica == 0)
    return n.Error(f("scale_in_command"), "set without scale_in_reads_per_replica");
  if (c.scale_in_reads_per_replica > 0 && c.scale_out_reads_per_replica > 0 &&
      c.scale_in_reads_per_replica >= c.scale_out_reads_per_replica)
    return n.Error(f("scale_in_reads_per_replica"),
                   fmt::format("expected less than scale_out_reads_per_replica ({}), got {}",
                               c.scale_out_reads_per_replica, c.scale_in_reads_per_replica));
  if (c.scale_command_timeout_ms == 0 &&
      (!c.scale_out_command.empty() || !c.scale_in_command.empty()))
    return n.Error(f("scale_command_timeout_ms"),
                   "expected 1..86400000 with a scale command, got 0");
  return Status::Ok();
}

Status CheckCluster(const Cluster& c, size_t ci, const FieldNamer& n) {
  auto f = [&](const char* name) { return At(Entity::kCluster, name, ci); };
  if (c.name.empty()) return n.Error(f("name"), "expected a non-empty string");
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, f("writer_hostgroup"), limits::kHostgroup, c.writer_hostgroup));
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, f("reader_hostgroup"), limits::kHostgroup, c.reader_hostgroup));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("max_client_connections"), limits::kMaxClientConnections,
                                  c.max_client_connections));
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, f("connect_timeout_ms"), limits::kConnectTimeoutMs, c.connect_timeout_ms));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("client_login_timeout_ms"), limits::kClientLoginTimeoutMs,
                                  c.client_login_timeout_ms));
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, f("query_timeout_ms"), limits::kSessionTimeoutMs, c.query_timeout_ms));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("idle_in_transaction_timeout_ms"), limits::kSessionTimeoutMs,
                                  c.idle_in_transaction_timeout_ms));
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, f("read_your_writes_ms"), limits::kReadYourWritesMs, c.read_your_writes_ms));
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, f("consistency_wait_ms"), limits::kConsistencyWaitMs, c.consistency_wait_ms));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("monitor_position_interval_ms"), limits::kPositionIntervalMs,
                                  c.monitor_position_interval_ms));
  if (c.monitor_user.empty()) return n.Error(f("monitor_user"), "expected a non-empty string");
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("schema_watch_interval_ms"), limits::kSchemaWatchIntervalMs,
                                  c.schema_watch_interval_ms));
  if (c.schema_watch_interval_ms > 0 && c.schema_watch_interval_ms < 100)
    return n.Error(f("schema_watch_interval_ms"),
                   fmt::format("expected 0 (off) or 100..{}, got {}",
                               limits::kSchemaWatchIntervalMs.max, c.schema_watch_interval_ms));
  SLUICE_RETURN_IF_ERROR(CheckScaling(c, ci, n));
  if (c.reader_hostgroup == c.writer_hostgroup) {
    return n.Error(
        f("reader_hostgroup"),
        fmt::format("expected a hostgroup other than writer_hostgroup ({})", c.writer_hostgroup));
  }
  if (c.servers.empty()) return n.Missing(f("server"));
  for (size_t i = 0; i < c.servers.size(); ++i) SLUICE_RETURN_IF_ERROR(CheckServer(c, ci, i, n));
  return CheckPrimaries(c, ci, n);
}

Status CheckUser(const User& u, size_t i, const FieldNamer& n) {
  auto f = [&](const char* name) { return At(Entity::kUser, name, 0, i); };
  if (u.name.empty()) return n.Error(f("name"), "expected a non-empty string");
  if (u.cluster.empty()) return n.Error(f("cluster"), "expected a non-empty string");
  return CheckInt(n, f("max_connections"), limits::kUserMaxConnections, u.max_connections);
}

Status CheckRegex(const FieldNamer& n, const Field& f, const std::string& pattern) {
  if (pattern.empty()) return Status::Ok();
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);
  if (re.ok()) return Status::Ok();
  return n.Error(f, fmt::format("invalid regular expression: {}", re.error()));
}

Status CheckRule(const QueryRule& r, size_t i, const FieldNamer& n) {
  auto f = [&](const char* name) { return At(Entity::kRule, name, 0, i); };
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("id"), limits::kRuleId, r.id));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("destination_hostgroup"), limits::kDestinationHostgroup,
                                  r.destination_hostgroup));
  SLUICE_RETURN_IF_ERROR(CheckRegex(n, f("match_pattern"), r.match_pattern));
  return CheckRegex(n, f("match_digest"), r.match_digest);
}

// Names and hostgroups identify a cluster in rules, admin tables and metrics: both are unique.
Status CheckClusterIdentity(const Runtime& rt, const FieldNamer& n) {
  std::map<std::string, size_t> names;
  std::map<int, size_t> hostgroups;
  for (size_t i = 0; i < rt.clusters.size(); ++i) {
    const Cluster& c = rt.clusters[i];
    auto [it, fresh] = names.emplace(c.name, i);
    if (!fresh) {
      return n.Error(At(Entity::kCluster, "name", i),
                     fmt::format("duplicate cluster \"{}\" (the first is {})", c.name,
                                 n.Name(At(Entity::kCluster, "", it->second))));
    }
    const std::pair<const char*, int> groups[] = {{"writer_hostgroup", c.writer_hostgroup},
                                                  {"reader_hostgroup", c.reader_hostgroup}};
    for (const auto& [key, hg] : groups) {
      auto [owner, unused] = hostgroups.emplace(hg, i);
      if (owner->second != i) {
        return n.Error(At(Entity::kCluster, key, i),
                       fmt::format("hostgroup {} is already used by {}", hg,
                                   n.Name(At(Entity::kCluster, "", owner->second))));
      }
    }
  }
  return Status::Ok();
}

Status CheckListenPorts(const Runtime& rt, const FieldNamer& n) {
  std::vector<std::pair<Field, uint16_t>> listeners;
  if (rt.admin.listen_path.empty()) {
    listeners.emplace_back(At(Entity::kAdmin, "listen"), rt.admin.listen_port);
  }
  if (rt.metrics.listen_port != 0) {
    listeners.emplace_back(At(Entity::kMetrics, "listen"), rt.metrics.listen_port);
  }
  for (size_t i = 0; i < rt.clusters.size(); ++i) {
    if (rt.clusters[i].listen_port == 0) continue;  // no listener (a mirror's shadow)
    listeners.emplace_back(At(Entity::kCluster, "listen", i), rt.clusters[i].listen_port);
  }
  for (size_t i = 0; i < listeners.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (listeners[j].second != listeners[i].second) continue;
      return n.Error(listeners[i].first,
                     fmt::format("port {} is already used by {}", listeners[i].second,
                                 n.Name(listeners[j].first)));
    }
  }
  return Status::Ok();
}

Status CheckUserReferences(const Runtime& rt, const FieldNamer& n) {
  std::map<std::pair<std::string, std::string>, size_t> names;  // (cluster, name)
  for (size_t i = 0; i < rt.users.size(); ++i) {
    const User& u = rt.users[i];
    auto [it, fresh] = names.emplace(std::make_pair(u.cluster, u.name), i);
    if (!fresh) {
      return n.Error(At(Entity::kUser, "name", 0, i),
                     fmt::format("duplicate user \"{}\" in cluster \"{}\" (the first is {})",
                                 u.name, u.cluster, n.Name(At(Entity::kUser, "", 0, it->second))));
    }
    if (!rt.FindCluster(u.cluster)) {
      return n.Error(At(Entity::kUser, "cluster", 0, i),
                     fmt::format("no cluster named \"{}\"", u.cluster));
    }
  }
  return Status::Ok();
}

// A user's password may be a stored verifier instead of the plaintext: MySQL's
// "*<SHA1(SHA1(pw)) in hex>" (mysql.user) for a MySQL cluster, PostgreSQL's
// "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>" (pg_authid) for a PostgreSQL
// one. Sluice can check a client against it but cannot log in to a server with it, so
// backend_password must then hold the plaintext.
Status CheckUserSecrets(const Runtime& rt, const FieldNamer& n) {
  for (size_t i = 0; i < rt.users.size(); ++i) {
    const User& u = rt.users[i];
    auto f = [&](const char* name) { return At(Entity::kUser, name, 0, i); };
    const Cluster* c = rt.FindCluster(u.cluster);
    bool scram = u.password.rfind(std::string(pgsql::kScramSha256) + "$", 0) == 0;
    bool native = mysql::LooksLikeNativeVerifier(u.password);
    if (!scram && !native) continue;
    if (native && !mysql::ParseNativeVerifier(u.password))
      return n.Error(f("password"),
                     "looks like a mysql_native_password verifier (\"*\" and 40 characters) but "
                     "is not \"*\" and 40 hex digits");
    if (scram) {
      if (auto v = pgsql::ParseVerifier(u.password); !v.ok())
        return n.Error(f("password"),
                       "not a valid SCRAM-SHA-256 verifier (expected "
                       "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, base64): " +
                           v.status().message());
    }
    if (c && c->protocol == Protocol::kMysql && scram)
      return n.Error(f("password"),
                     fmt::format("a SCRAM-SHA-256 verifier is for PostgreSQL users; cluster \"{}\" "
                                 "speaks MySQL: give \"*\" + hex(SHA1(SHA1(password))) or the "
                                 "plaintext",
                                 c->name));
    if (c && c->protocol == Protocol::kPostgres && native)
      return n.Error(f("password"),
                     fmt::format("a mysql_native_password verifier is for MySQL users; cluster "
                                 "\"{}\" speaks PostgreSQL: give a SCRAM-SHA-256 verifier or the "
                                 "plaintext",
                                 c->name));
    if (scram && u.pg_auth == "md5")
      return n.Error(f("pg_auth"),
                     "md5 cannot be checked against a SCRAM-SHA-256 verifier (the md5 challenge "
                     "needs the plaintext password): use scram-sha-256 or give the plaintext");
    // (An absent backend_password defaults to password, the verifier here.)
    if (u.backend_password.empty() || u.backend_password == u.password)
      return n.Error(f("backend_password"),
                     "required when password is a stored verifier: sluice logs in to the "
                     "servers with the plaintext");
  }
  return Status::Ok();
}

// Passthrough authentication (auth_user): the lookup needs a password to log in with and a
// query that takes the user name; the counts are bounded.
Status CheckPassthrough(const Runtime& rt, size_t ci, const FieldNamer& n) {
  const Cluster& c = rt.clusters[ci];
  auto f = [&](const char* name) { return At(Entity::kCluster, name, ci); };
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, f("auth_cache_ttl_ms"), limits::kAuthCacheTtlMs, c.auth_cache_ttl_ms));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("auth_cache_size"), limits::kAuthCount, c.auth_cache_size));
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, f("auth_max_pending"), limits::kAuthCount, c.auth_max_pending));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("auth_max_users"), limits::kAuthCount, c.auth_max_users));
  if (!c.passthrough()) return Status::Ok();  // off: the other auth_* keys wait unused
  if (c.auth_dbname.empty()) return n.Error(f("auth_dbname"), "expected a non-empty string");
  const char* placeholder = c.protocol == Protocol::kPostgres ? "$1" : "?";
  if (!c.auth_query.empty() && c.auth_query.find(placeholder) == std::string::npos)
    return n.Error(f("auth_query"),
                   fmt::format("expected a query that takes the user name as {} (such as \"{}\")",
                               placeholder, DefaultAuthQuery(c.protocol)));
  if (!c.auth_password.empty()) return Status::Ok();
  const User* u = rt.FindUser(c.name, c.auth_user);
  if (!u)
    return n.Error(f("auth_user"),
                   fmt::format("the lookup user \"{}\" needs a password: set auth_password or "
                               "configure the user for cluster \"{}\"",
                               c.auth_user, c.name));
  return Status::Ok();
}

bool HasHostgroup(const Cluster& c, int hg) {
  return c.writer_hostgroup == hg || c.reader_hostgroup == hg;
}

Status CheckRuleTargets(const Runtime& rt, size_t i, const FieldNamer& n) {
  const QueryRule& r = rt.rules[i];
  auto f = [&](const char* name) { return At(Entity::kRule, name, 0, i); };
  const Cluster* cluster = nullptr;
  if (!r.cluster.empty() && !(cluster = rt.FindCluster(r.cluster))) {
    return n.Error(f("cluster"), fmt::format("no cluster named \"{}\"", r.cluster));
  }
  if (!r.user.empty()) {
    bool known = false;  // in the rule's cluster, or in any when the rule names none
    for (const User& u : rt.users)
      known = known || (u.name == r.user && (r.cluster.empty() || u.cluster == r.cluster));
    if (!known) {
      return n.Error(f("user"), r.cluster.empty()
                                    ? fmt::format("no user named \"{}\"", r.user)
                                    : fmt::format("no user named \"{}\" in cluster \"{}\"", r.user,
                                                  r.cluster));
    }
  }
  int hg = r.destination_hostgroup;
  if (hg < 0) return Status::Ok();
  if (cluster && !HasHostgroup(*cluster, hg)) {
    return n.Error(
        f("destination_hostgroup"),
        fmt::format("hostgroup {} is not one of cluster \"{}\" ({} or {})", hg, cluster->name,
                    cluster->writer_hostgroup, cluster->reader_hostgroup));
  }
  for (const Cluster& c : rt.clusters)
    if (HasHostgroup(c, hg)) return Status::Ok();
  return n.Error(f("destination_hostgroup"), fmt::format("no cluster has hostgroup {}", hg));
}

Status CheckRuleReferences(const Runtime& rt, const FieldNamer& n) {
  std::map<int, size_t> ids;
  for (size_t i = 0; i < rt.rules.size(); ++i) {
    auto [it, fresh] = ids.emplace(rt.rules[i].id, i);
    if (!fresh) {
      return n.Error(At(Entity::kRule, "id", 0, i),
                     fmt::format("duplicate id {} (the first is {})", rt.rules[i].id,
                                 n.Name(At(Entity::kRule, "", 0, it->second))));
    }
    SLUICE_RETURN_IF_ERROR(CheckRuleTargets(rt, i, n));
  }
  return Status::Ok();
}

Status CheckEventSink(const Runtime& rt, size_t i, const FieldNamer& n) {
  const EventSinkConfig& e = rt.event_sinks[i];
  auto f = [&](const char* name) { return At(Entity::kEventSink, name, 0, i); };
  if (e.name.empty()) return n.Error(f("name"), "expected a non-empty string");
  for (size_t j = 0; j < i; ++j) {
    if (rt.event_sinks[j].name == e.name)
      return n.Error(f("name"), fmt::format("duplicate event sink \"{}\" (the first is {})", e.name,
                                            n.Name(At(Entity::kEventSink, "", 0, j))));
  }
  std::string_view url = e.url;
  size_t scheme = url.rfind("http://", 0) == 0 ? 7 : url.rfind("https://", 0) == 0 ? 8 : 0;
  if (scheme == 0 || url.size() == scheme || url[scheme] == '/')
    return n.Error(f("url"), fmt::format("expected an http:// or https:// URL, got \"{}\"", e.url));
  if (e.format != "json" && e.format != "slack")
    return n.Error(f("format"), BadChoice("json|slack", e.format));
  for (const std::string& k : e.kinds) {
    bool prefix = !k.empty() && k.back() == '*';
    std::string_view stem = prefix ? std::string_view(k).substr(0, k.size() - 1) : k;
    bool known = false;
    for (std::string_view kind : EventKinds())
      known = known || (prefix ? kind.substr(0, stem.size()) == stem : kind == stem);
    if (!known || k.empty()) {
      std::string all;
      for (std::string_view kind : EventKinds())
        all += fmt::format("{}{}", all.empty() ? "" : "|", kind);
      return n.Error(
          f("kinds"),
          fmt::format("unknown event kind \"{}\" (expected {}, or a prefix ending in *)", k, all));
    }
  }
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("queue_size"), limits::kSinkQueueSize, e.queue_size));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("timeout_ms"), limits::kSinkTimeoutMs, e.timeout_ms));
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, f("retry_backoff_ms"), limits::kSinkBackoffMs, e.retry_backoff_ms));
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, f("retry_max_backoff_ms"), limits::kSinkBackoffMs, e.retry_max_backoff_ms));
  if (e.retry_max_backoff_ms < e.retry_backoff_ms)
    return n.Error(f("retry_max_backoff_ms"),
                   fmt::format("expected at least retry_backoff_ms ({}), got {}",
                               e.retry_backoff_ms, e.retry_max_backoff_ms));
  return Status::Ok();
}

}  // namespace

std::string CheckLimit(Limit limit, int64_t v) {
  if (v >= limit.min && v <= limit.max) return "";
  return fmt::format("expected {}..{}, got {}", limit.min, limit.max, v);
}

std::string BadChoice(std::string_view choices, std::string_view got) {
  return fmt::format("expected one of {}, got \"{}\"", choices, got);
}

// Each entity on its own first, then the references between entities.
Status CheckMirror(const Runtime& rt, size_t i, const FieldNamer& n) {
  const MirrorConfig& m = rt.mirrors[i];
  auto f = [&](const char* name) { return At(Entity::kMirror, name, 0, i); };
  if (m.name.empty()) return n.Error(f("name"), "expected a non-empty string");
  for (size_t j = 0; j < i; ++j) {
    const MirrorConfig& o = rt.mirrors[j];
    if (o.name == m.name)
      return n.Error(f("name"), fmt::format("duplicate mirror \"{}\" (the first is {})", m.name,
                                            n.Name(At(Entity::kMirror, "", 0, j))));
    if (o.source == m.source)
      return n.Error(f("source"),
                     fmt::format("cluster \"{}\" is already the source of {}: a session is "
                                 "mirrored to one shadow",
                                 m.source, n.Name(At(Entity::kMirror, "", 0, j))));
  }
  const Cluster* src = rt.FindCluster(m.source);
  if (!src) return n.Error(f("source"), fmt::format("no cluster named \"{}\"", m.source));
  const Cluster* sh = rt.FindCluster(m.shadow);
  if (!sh) return n.Error(f("shadow"), fmt::format("no cluster named \"{}\"", m.shadow));
  if (src == sh) return n.Error(f("shadow"), "the shadow must be another cluster than the source");
  if (src->protocol != sh->protocol)
    return n.Error(f("shadow"),
                   fmt::format("cluster \"{}\" speaks {}, the source \"{}\" {}", sh->name,
                               ProtocolName(sh->protocol), src->name, ProtocolName(src->protocol)));
  for (const MirrorConfig& o : rt.mirrors)
    if (o.shadow == m.source)
      return n.Error(f("source"), fmt::format("cluster \"{}\" is the shadow of mirror \"{}\"",
                                              m.source, o.name));
  if (!(m.exposure >= 0.0 && m.exposure <= 1.0))
    return n.Error(f("exposure"), fmt::format("expected 0.0..1.0, got {}", m.exposure));
  if (!(m.slower_ratio > 1.0 && m.slower_ratio <= 1000.0))
    return n.Error(f("slower_ratio"),
                   fmt::format("expected > 1.0 (at most 1000), got {}", m.slower_ratio));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("queue_bytes"), limits::kMirrorQueueBytes, m.queue_bytes));
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, f("queue_statements"), limits::kMirrorQueueStatements, m.queue_statements));
  SLUICE_RETURN_IF_ERROR(
      CheckInt(n, f("slower_min_ms"), limits::kMirrorSlowerMinMs, m.slower_min_ms));
  SLUICE_RETURN_IF_ERROR(CheckInt(n, f("min_samples"), limits::kMirrorMinSamples, m.min_samples));
  return CheckInt(n, f("max_digests"), limits::kMirrorMaxDigests, m.max_digests);
}

Status ValidateRuntime(const Runtime& rt, const FieldNamer& n) {
  SLUICE_RETURN_IF_ERROR(CheckSettings(rt, n));
  for (size_t i = 0; i < rt.clusters.size(); ++i)
    SLUICE_RETURN_IF_ERROR(CheckCluster(rt.clusters[i], i, n));
  for (size_t i = 0; i < rt.users.size(); ++i) SLUICE_RETURN_IF_ERROR(CheckUser(rt.users[i], i, n));
  for (size_t i = 0; i < rt.rules.size(); ++i) SLUICE_RETURN_IF_ERROR(CheckRule(rt.rules[i], i, n));
  SLUICE_RETURN_IF_ERROR(CheckClusterIdentity(rt, n));
  SLUICE_RETURN_IF_ERROR(CheckListenPorts(rt, n));
  SLUICE_RETURN_IF_ERROR(CheckUserReferences(rt, n));
  SLUICE_RETURN_IF_ERROR(CheckUserSecrets(rt, n));
  for (size_t i = 0; i < rt.clusters.size(); ++i)
    SLUICE_RETURN_IF_ERROR(CheckPassthrough(rt, i, n));
  for (size_t i = 0; i < rt.event_sinks.size(); ++i)
    SLUICE_RETURN_IF_ERROR(CheckEventSink(rt, i, n));
  for (size_t i = 0; i < rt.mirrors.size(); ++i) SLUICE_RETURN_IF_ERROR(CheckMirror(rt, i, n));
  return CheckRuleReferences(rt, n);
}

}  // namespace sluice
