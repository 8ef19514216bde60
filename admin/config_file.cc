#include "admin/config_file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <initializer_list>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "admin/runtime_validation.h"
#include "admin/toml_reader.h"
#include "common/host_port.h"
#include "common/log.h"

namespace sluice {
namespace {

using config::EnumName;
using config::ErrorAt;
using config::FirstError;
using config::LineOf;
using config::Need;
using config::TableReader;

// A config file is a few kilobytes; the cap only bounds the read loop.
constexpr size_t kMaxFileBytes = 16 << 20;

constexpr EnumName<Protocol> kProtocols[] = {{"mysql", Protocol::kMysql},
                                             {"postgresql", Protocol::kPostgres}};
constexpr EnumName<ServerRole> kRoles[] = {{"primary", ServerRole::kPrimary},
                                           {"replica", ServerRole::kReplica}};
constexpr EnumName<PoolMode> kPoolModes[] = {{"session", PoolMode::kSession},
                                             {"transaction", PoolMode::kTransaction}};
constexpr EnumName<Consistency> kConsistencies[] = {{"eventual", Consistency::kEventual},
                                                    {"session", Consistency::kSession},
                                                    {"global", Consistency::kGlobal}};
constexpr EnumName<BackendTlsMode> kBackendTlsModes[] = {
    {"disable", BackendTlsMode::kDisable},
    {"prefer", BackendTlsMode::kPrefer},
    {"require", BackendTlsMode::kRequire},
    {"verify-ca", BackendTlsMode::kVerifyCa},
    {"verify-full", BackendTlsMode::kVerifyFull}};
constexpr EnumName<MirrorMode> kMirrorModes[] = {{"all", MirrorMode::kAll},
                                                 {"reads", MirrorMode::kReads}};
constexpr EnumName<RuleAction> kActions[] = {{"route", RuleAction::kRoute},
                                             {"reject", RuleAction::kReject}};
constexpr EnumName<log::Level> kLogLevels[] = {{"debug", log::Level::kDebug},
                                               {"info", log::Level::kInfo},
                                               {"warn", log::Level::kWarn},
                                               {"error", log::Level::kError}};
constexpr EnumName<log::Format> kLogFormats[] = {{"text", log::Format::kText},
                                                 {"json", log::Format::kJson}};

Status ReadSluice(const TableReader& t, Runtime* rt) {
  log::Level level = log::Level::kInfo;
  log::Format format = log::Format::kText;
  SLUICE_RETURN_IF_ERROR(
      t.CheckKeys({"workers", "log_level", "log_format", "log_file", "drain_timeout_ms",
                   "max_unauthenticated_connections", "client_preauth_bytes"}));
  SLUICE_RETURN_IF_ERROR(FirstError({
      t.Int("workers", Need::kOptional, limits::kWorkers, &rt->workers),
      t.Enum("log_level", Need::kOptional, kLogLevels, &level),
      t.Enum("log_format", Need::kOptional, kLogFormats, &format),
      t.String("log_file", Need::kOptional, &rt->log_file),
      t.Int("drain_timeout_ms", Need::kOptional, limits::kDrainTimeoutMs, &rt->drain_timeout_ms),
      t.Int("max_unauthenticated_connections", Need::kOptional, limits::kMaxUnauthenticated,
            &rt->max_unauthenticated_connections),
      t.Int("client_preauth_bytes", Need::kOptional, limits::kClientPreAuthBytes,
            &rt->client_preauth_bytes),
  }));
  for (const auto& e : kLogLevels)
    if (e.value == level) rt->log_level = std::string(e.name);
  for (const auto& e : kLogFormats)
    if (e.value == format) rt->log_format = std::string(e.name);
  return Status::Ok();
}

Status ReadAdmin(const TableReader& t, AdminSettings* a) {
  SLUICE_RETURN_IF_ERROR(
      t.CheckKeys({"listen", "user", "password", "data_dir", "login_timeout_ms", "pg_listen"}));
  std::string listen, pg_listen;
  SLUICE_RETURN_IF_ERROR(FirstError({
      t.String("listen", Need::kOptional, &listen),
      t.NonEmptyString("user", Need::kOptional, &a->user),
      t.String("password", Need::kOptional, &a->password),
      t.String("data_dir", Need::kOptional, &a->data_dir),
      t.Int("login_timeout_ms", Need::kOptional, limits::kConnectTimeoutMs, &a->login_timeout_ms),
      t.String("pg_listen", Need::kOptional, &pg_listen),
  }));
  if (!pg_listen.empty()) {  // "" (the default) leaves the PostgreSQL admin console off
    if (!ParseHostPort(pg_listen, &a->pg_listen_host, &a->pg_listen_port) || a->pg_listen_port == 0)
      return t.BadListen("pg_listen", pg_listen);
    if (a->password.empty())
      return t.ErrorAtKey("pg_listen",
                          "the PostgreSQL admin console listens on TCP: admin.password is "
                          "required with it");
  }
  if (!listen.empty() && listen.front() == '/') {
    a->listen_path = listen;
    a->listen_host.clear();
    a->listen_port = 0;
    return Status::Ok();  // the socket file's permissions guard it; no password needed
  }
  if (t.Get("listen") && !ParseHostPort(listen, &a->listen_host, &a->listen_port)) {
    return t.BadListen("listen", listen);
  }
  if (!a->password.empty()) return Status::Ok();
  const char* why = "required unless admin.listen is a Unix socket path";
  if (!t.Get("password")) {
    return t.Error(t.line(), "password", fmt::format("missing required key ({})", why));
  }
  return t.ErrorAtKey("password", fmt::format("expected a non-empty password ({})", why));
}

Status ReadMetrics(const TableReader& t, MetricsSettings* m) {
  SLUICE_RETURN_IF_ERROR(t.CheckKeys({"listen"}));
  std::string listen;
  SLUICE_RETURN_IF_ERROR(t.String("listen", Need::kOptional, &listen));
  if (listen.empty()) return Status::Ok();  // "" disables the exporter
  if (!ParseHostPort(listen, &m->listen_host, &m->listen_port)) {
    return t.BadListen("listen", listen);
  }
  return Status::Ok();
}

// [coordination]: every etcd endpoint must parse as host:port; the prefix is an absolute
// key path without a trailing slash (keys are PREFIX/leader, PREFIX/instances/NAME, ...).
Status ReadCoordination(const TableReader& t, CoordinationSettings* c) {
  SLUICE_RETURN_IF_ERROR(t.CheckKeys({"etcd", "prefix", "instance", "lease_ttl_s"}));
  SLUICE_RETURN_IF_ERROR(FirstError({
      t.NonEmptyString("etcd", Need::kOptional, &c->etcd),
      t.NonEmptyString("prefix", Need::kOptional, &c->prefix),
      t.NonEmptyString("instance", Need::kOptional, &c->instance),
      t.Int("lease_ttl_s", Need::kOptional, Limit{2, 60}, &c->lease_ttl_s),
  }));
  if (!t.Get("etcd")) {
    if (t.Get("prefix") || t.Get("instance") || t.Get("lease_ttl_s")) return t.Missing("etcd");
    return Status::Ok();
  }
  size_t start = 0;
  while (start <= c->etcd.size()) {
    size_t comma = c->etcd.find(',', start);
    if (comma == std::string::npos) comma = c->etcd.size();
    std::string one = c->etcd.substr(start, comma - start);
    one.erase(0, one.find_first_not_of(' '));
    one.erase(one.find_last_not_of(' ') + 1);
    std::string host;
    uint16_t port = 0;
    if (!ParseHostPort(one, &host, &port))
      return t.ErrorAtKey("etcd", fmt::format("expected \"host:port,host:port...\", got \"{}\" in "
                                              "\"{}\"",
                                              one, c->etcd));
    start = comma + 1;
  }
  if (c->prefix.front() != '/' || c->prefix.back() == '/')
    return t.ErrorAtKey("prefix", fmt::format("expected a key path such as \"/sluice\" (leading "
                                              "slash, none at the end), got \"{}\"",
                                              c->prefix));
  for (char ch : c->instance)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.' ||
          ch == ':'))
      return t.ErrorAtKey(
          "instance",
          fmt::format("expected letters, digits and -_.: only, got \"{}\"", c->instance));
  return Status::Ok();
}

Status ReadServer(const TableReader& t, const Cluster& c, Server* s) {
  SLUICE_RETURN_IF_ERROR(
      t.CheckKeys({"host", "port", "role", "weight", "max_connections", "max_lag_ms", "priority"}));
  SLUICE_RETURN_IF_ERROR(FirstError({
      t.NonEmptyString("host", Need::kRequired, &s->host),
      t.Int("port", Need::kRequired, limits::kPort, &s->port),
      t.Enum("role", Need::kRequired, kRoles, &s->role),
      t.Int("weight", Need::kOptional, limits::kWeight, &s->weight),
      t.Int("max_connections", Need::kOptional, limits::kServerMaxConnections, &s->max_connections),
      t.Int("max_lag_ms", Need::kOptional, limits::kMaxLagMs, &s->max_lag_ms),
      t.Int("priority", Need::kOptional, Limit{-1000, 1000}, &s->priority),
  }));
  s->hostgroup = s->role == ServerRole::kPrimary ? c.writer_hostgroup : c.reader_hostgroup;
  return Status::Ok();
}

// A file the backend TLS context loads at start: it must be there and readable now, so the
// error names the file's line and key (its PEM content is checked when the context is made).
Status CheckReadable(const TableReader& t, std::string_view key, const std::string& path) {
  if (path.empty() || access(path.c_str(), R_OK) == 0) return Status::Ok();
  return t.ErrorAtKey(key, fmt::format("cannot read \"{}\": {}", path, std::strerror(errno)));
}

Status CheckBackendTls(const TableReader& t, const BackendTls& tls) {
  if (tls.cert_file.empty() != tls.key_file.empty())
    return tls.cert_file.empty() ? t.Missing("backend_tls_cert_file")
                                 : t.Missing("backend_tls_key_file");
  return FirstError({
      CheckReadable(t, "backend_tls_ca_file", tls.ca_file),
      CheckReadable(t, "backend_tls_cert_file", tls.cert_file),
      CheckReadable(t, "backend_tls_key_file", tls.key_file),
  });
}

// Passthrough authentication (auth_*; the cross-key checks are ValidateRuntime's).
Status ReadPassthroughKeys(const TableReader& t, Cluster* c) {
  return FirstError({
      t.String("auth_user", Need::kOptional, &c->auth_user),
      t.String("auth_password", Need::kOptional, &c->auth_password),
      t.String("auth_query", Need::kOptional, &c->auth_query),
      t.NonEmptyString("auth_dbname", Need::kOptional, &c->auth_dbname),
      t.Int("auth_cache_ttl_ms", Need::kOptional, limits::kAuthCacheTtlMs, &c->auth_cache_ttl_ms),
      t.Int("auth_cache_size", Need::kOptional, limits::kAuthCount, &c->auth_cache_size),
      t.Int("auth_max_pending", Need::kOptional, limits::kAuthCount, &c->auth_max_pending),
      t.Int("auth_max_users", Need::kOptional, limits::kAuthCount, &c->auth_max_users),
  });
}

Status ReadCluster(const TableReader& t, Cluster* c, std::vector<TableReader>& servers) {
  SLUICE_RETURN_IF_ERROR(t.CheckKeys({"name",
                                      "protocol",
                                      "listen",
                                      "pool_mode",
                                      "writer_hostgroup",
                                      "reader_hostgroup",
                                      "reader_fallback_to_writer",
                                      "max_client_connections",
                                      "connect_timeout_ms",
                                      "client_login_timeout_ms",
                                      "query_timeout_ms",
                                      "idle_in_transaction_timeout_ms",
                                      "read_your_writes_ms",
                                      "consistency",
                                      "consistency_wait_ms",
                                      "monitor_position_interval_ms",
                                      "monitor_user",
                                      "monitor_password",
                                      "tls_cert",
                                      "tls_key",
                                      "backend_tls",
                                      "backend_tls_ca_file",
                                      "backend_tls_cert_file",
                                      "backend_tls_key_file",
                                      "backend_tls_server_name",
                                      "local_infile",
                                      "monitor_interval_ms",
                                      "monitor_fail_threshold",
                                      "monitor_recover_threshold",
                                      "failover_window_ms",
                                      "auto_failover",
                                      "admin_user",
                                      "admin_password",
                                      "replication_user",
                                      "replication_password",
                                      "discovery",
                                      "discovery_allow",
                                      "write_hold_timeout_ms",
                                      "fence_command",
                                      "schema_watch_interval_ms",
                                      "schema_watch_databases",
                                      "scale_out_command",
                                      "scale_in_command",
                                      "scale_out_reads_per_replica",
                                      "scale_out_pool_waits_per_s",
                                      "scale_out_p95_ms",
                                      "scale_in_reads_per_replica",
                                      "scale_out_window_ms",
                                      "scale_in_window_ms",
                                      "scale_cooldown_ms",
                                      "scale_command_timeout_ms",
                                      "min_replicas",
                                      "max_replicas",
                                      "replica_ramp_ms",
                                      "auth_user",
                                      "auth_password",
                                      "auth_query",
                                      "auth_dbname",
                                      "auth_cache_ttl_ms",
                                      "auth_cache_size",
                                      "auth_max_pending",
                                      "auth_max_users",
                                      "server"}));
  SLUICE_RETURN_IF_ERROR(FirstError({
      t.NonEmptyString("name", Need::kRequired, &c->name),
      t.Enum("protocol", Need::kRequired, kProtocols, &c->protocol),
      // No listen: no client connects (a mirror's shadow cluster).
      t.HostPort("listen", Need::kOptional, &c->listen_host, &c->listen_port),
      t.Enum("pool_mode", Need::kOptional, kPoolModes, &c->pool_mode),
      t.Int("writer_hostgroup", Need::kOptional, limits::kHostgroup, &c->writer_hostgroup),
      t.Int("reader_hostgroup", Need::kOptional, limits::kHostgroup, &c->reader_hostgroup),
      t.Bool("reader_fallback_to_writer", &c->reader_fallback_to_writer),
      t.Int("max_client_connections", Need::kOptional, limits::kMaxClientConnections,
            &c->max_client_connections),
      t.Int("connect_timeout_ms", Need::kOptional, limits::kConnectTimeoutMs,
            &c->connect_timeout_ms),
      t.Int("client_login_timeout_ms", Need::kOptional, limits::kClientLoginTimeoutMs,
            &c->client_login_timeout_ms),
      t.Int("query_timeout_ms", Need::kOptional, limits::kSessionTimeoutMs, &c->query_timeout_ms),
      t.Int("idle_in_transaction_timeout_ms", Need::kOptional, limits::kSessionTimeoutMs,
            &c->idle_in_transaction_timeout_ms),
      t.Int("read_your_writes_ms", Need::kOptional, limits::kReadYourWritesMs,
            &c->read_your_writes_ms),
      t.Enum("consistency", Need::kOptional, kConsistencies, &c->consistency),
      t.Int("consistency_wait_ms", Need::kOptional, limits::kConsistencyWaitMs,
            &c->consistency_wait_ms),
      t.Int("monitor_position_interval_ms", Need::kOptional, limits::kPositionIntervalMs,
            &c->monitor_position_interval_ms),
      t.NonEmptyString("monitor_user", Need::kRequired, &c->monitor_user),
      t.String("monitor_password", Need::kOptional, &c->monitor_password),
      t.String("tls_cert", Need::kOptional, &c->tls_cert),
      t.String("tls_key", Need::kOptional, &c->tls_key),
      t.Enum("backend_tls", Need::kOptional, kBackendTlsModes, &c->backend_tls.mode),
      t.String("backend_tls_ca_file", Need::kOptional, &c->backend_tls.ca_file),
      t.String("backend_tls_cert_file", Need::kOptional, &c->backend_tls.cert_file),
      t.String("backend_tls_key_file", Need::kOptional, &c->backend_tls.key_file),
      t.String("backend_tls_server_name", Need::kOptional, &c->backend_tls.server_name),
      t.Bool("local_infile", &c->local_infile),
      t.Int("monitor_interval_ms", Need::kOptional, Limit{50, 60'000}, &c->monitor_interval_ms),
      t.Int("monitor_fail_threshold", Need::kOptional, Limit{1, 100}, &c->monitor_fail_threshold),
      t.Int("monitor_recover_threshold", Need::kOptional, Limit{1, 100},
            &c->monitor_recover_threshold),
      t.Int("failover_window_ms", Need::kOptional, Limit{100, limits::kMaxMs},
            &c->failover_window_ms),
      t.Bool("auto_failover", &c->auto_failover),
      t.String("admin_user", Need::kOptional, &c->admin_user),
      t.String("admin_password", Need::kOptional, &c->admin_password),
      t.String("replication_user", Need::kOptional, &c->replication_user),
      t.String("replication_password", Need::kOptional, &c->replication_password),
      t.String("discovery", Need::kOptional, &c->discovery),
      t.String("discovery_allow", Need::kOptional, &c->discovery_allow),
      t.Int("write_hold_timeout_ms", Need::kOptional, Limit{0, limits::kMaxMs},
            &c->write_hold_timeout_ms),
      t.String("fence_command", Need::kOptional, &c->fence_command),
      t.Int("schema_watch_interval_ms", Need::kOptional, limits::kSchemaWatchIntervalMs,
            &c->schema_watch_interval_ms),
      t.String("schema_watch_databases", Need::kOptional, &c->schema_watch_databases),
      t.String("scale_out_command", Need::kOptional, &c->scale_out_command),
      t.String("scale_in_command", Need::kOptional, &c->scale_in_command),
      t.Int("scale_out_reads_per_replica", Need::kOptional, limits::kScaleRate,
            &c->scale_out_reads_per_replica),
      t.Int("scale_out_pool_waits_per_s", Need::kOptional, limits::kScaleRate,
            &c->scale_out_pool_waits_per_s),
      t.Int("scale_out_p95_ms", Need::kOptional, limits::kScaleRate, &c->scale_out_p95_ms),
      t.Int("scale_in_reads_per_replica", Need::kOptional, limits::kScaleRate,
            &c->scale_in_reads_per_replica),
      t.Int("scale_out_window_ms", Need::kOptional, limits::kScaleWindowMs,
            &c->scale_out_window_ms),
      t.Int("scale_in_window_ms", Need::kOptional, limits::kScaleWindowMs, &c->scale_in_window_ms),
      t.Int("scale_cooldown_ms", Need::kOptional, limits::kScaleWindowMs, &c->scale_cooldown_ms),
      t.Int("scale_command_timeout_ms", Need::kOptional, limits::kScaleWindowMs,
            &c->scale_command_timeout_ms),
      t.Int("min_replicas", Need::kOptional, limits::kReplicaCount, &c->min_replicas),
      t.Int("max_replicas", Need::kOptional, limits::kReplicaCount, &c->max_replicas),
      t.Int("replica_ramp_ms", Need::kOptional, limits::kScaleWindowMs, &c->replica_ramp_ms),
      t.Tables("server", &servers),
      ReadPassthroughKeys(t, c),
  }));
  // A certificate without its key (or the reverse) cannot serve TLS.
  if (c->tls_cert.empty() != c->tls_key.empty())
    return c->tls_cert.empty() ? t.Missing("tls_cert") : t.Missing("tls_key");
  SLUICE_RETURN_IF_ERROR(CheckBackendTls(t, c->backend_tls));
  c->servers.resize(servers.size());
  for (size_t i = 0; i < servers.size(); ++i) {
    SLUICE_RETURN_IF_ERROR(ReadServer(servers[i], *c, &c->servers[i]));
  }
  return Status::Ok();
}

Status ReadUser(const TableReader& t, User* u) {
  SLUICE_RETURN_IF_ERROR(
      t.CheckKeys({"name", "password", "cluster", "default_schema", "pool_mode", "max_connections",
                   "backend_user", "backend_password", "pg_auth"}));
  PoolMode mode = PoolMode::kTransaction;
  SLUICE_RETURN_IF_ERROR(FirstError({
      t.NonEmptyString("name", Need::kRequired, &u->name),
      t.String("password", Need::kRequired, &u->password),
      t.NonEmptyString("cluster", Need::kRequired, &u->cluster),
      t.String("default_schema", Need::kOptional, &u->default_schema),
      t.Enum("pool_mode", Need::kOptional, kPoolModes, &mode),
      t.Int("max_connections", Need::kOptional, limits::kUserMaxConnections, &u->max_connections),
      t.String("backend_user", Need::kOptional, &u->backend_user),
      t.String("backend_password", Need::kOptional, &u->backend_password),
      t.String("pg_auth", Need::kOptional, &u->pg_auth),
  }));
  if (u->pg_auth != "scram-sha-256" && u->pg_auth != "md5")
    return t.ErrorAtKey("pg_auth",
                        fmt::format("expected one of scram-sha-256|md5, got \"{}\"", u->pg_auth));
  if (t.Get("pool_mode")) u->pool_mode = mode;
  if (u->backend_user.empty()) u->backend_user = u->name;
  if (u->backend_password.empty()) u->backend_password = u->password;
  return Status::Ok();
}

Status ReadRule(const TableReader& t, QueryRule* r) {
  SLUICE_RETURN_IF_ERROR(
      t.CheckKeys({"id", "active", "cluster", "user", "schema", "match_pattern", "match_digest",
                   "action", "destination_hostgroup", "error_message", "mirror", "apply"}));
  SLUICE_RETURN_IF_ERROR(FirstError({
      t.Int("id", Need::kRequired, limits::kRuleId, &r->id),
      t.Bool("active", &r->active),
      t.String("cluster", Need::kOptional, &r->cluster),
      t.String("user", Need::kOptional, &r->user),
      t.String("schema", Need::kOptional, &r->schema),
      t.String("match_pattern", Need::kOptional, &r->match_pattern),
      t.String("match_digest", Need::kOptional, &r->match_digest),
      t.Enum("action", Need::kOptional, kActions, &r->action),
      t.Int("destination_hostgroup", Need::kOptional, limits::kDestinationHostgroup,
            &r->destination_hostgroup),
      t.String("error_message", Need::kOptional, &r->error_message),
      t.Bool("mirror", &r->mirror),
      t.Bool("apply", &r->apply),
  }));
  return Status::Ok();
}

// [[event_sink]]: kinds is an array of strings (range checks are ValidateRuntime's).
Status ReadEventSink(const TableReader& t, EventSinkConfig* e) {
  SLUICE_RETURN_IF_ERROR(t.CheckKeys({"name", "url", "kinds", "format", "queue_size", "timeout_ms",
                                      "retry_backoff_ms", "retry_max_backoff_ms"}));
  SLUICE_RETURN_IF_ERROR(FirstError({
      t.NonEmptyString("name", Need::kRequired, &e->name),
      t.NonEmptyString("url", Need::kRequired, &e->url),
      t.String("format", Need::kOptional, &e->format),
      t.Int("queue_size", Need::kOptional, limits::kSinkQueueSize, &e->queue_size),
      t.Int("timeout_ms", Need::kOptional, limits::kSinkTimeoutMs, &e->timeout_ms),
      t.Int("retry_backoff_ms", Need::kOptional, limits::kSinkBackoffMs, &e->retry_backoff_ms),
      t.Int("retry_max_backoff_ms", Need::kOptional, limits::kSinkBackoffMs,
            &e->retry_max_backoff_ms),
  }));
  if (const toml::node* k = t.Get("kinds")) {
    const toml::array* a = k->as_array();
    if (!a) return t.ErrorAtKey("kinds", "expected an array of strings such as [\"FAILOVER\"]");
    for (const toml::node& item : *a) {
      if (!item.is_string())
        return t.Error(LineOf(item), "kinds",
                       "expected an array of strings such as [\"FAILOVER\"]");
      e->kinds.push_back(item.as_string()->get());
    }
  }
  return Status::Ok();
}

// [[mirror]] (ranges and references are ValidateRuntime's).
Status ReadMirror(const TableReader& t, MirrorConfig* m) {
  SLUICE_RETURN_IF_ERROR(t.CheckKeys({"name", "source", "shadow", "exposure", "mode", "queue_bytes",
                                      "queue_statements", "enabled", "slower_ratio",
                                      "slower_min_ms", "min_samples", "max_digests"}));
  return FirstError({
      t.NonEmptyString("name", Need::kRequired, &m->name),
      t.NonEmptyString("source", Need::kRequired, &m->source),
      t.NonEmptyString("shadow", Need::kRequired, &m->shadow),
      t.Float("exposure", &m->exposure),
      t.Enum("mode", Need::kOptional, kMirrorModes, &m->mode),
      t.Int("queue_bytes", Need::kOptional, limits::kMirrorQueueBytes, &m->queue_bytes),
      t.Int("queue_statements", Need::kOptional, limits::kMirrorQueueStatements,
            &m->queue_statements),
      t.Bool("enabled", &m->enabled),
      t.Float("slower_ratio", &m->slower_ratio),
      t.Int("slower_min_ms", Need::kOptional, limits::kMirrorSlowerMinMs, &m->slower_min_ms),
      t.Int("min_samples", Need::kOptional, limits::kMirrorMinSamples, &m->min_samples),
      t.Int("max_digests", Need::kOptional, limits::kMirrorMaxDigests, &m->max_digests),
  });
}

// Names a Runtime field by the table it was read from: "FILE:LINE: cluster[0].weight: ...".
class ConfigNamer : public FieldNamer {
 public:
  ConfigNamer(const TableReader& sluice, const TableReader& admin, const TableReader& metrics,
              const std::vector<TableReader>& clusters,
              const std::vector<std::vector<TableReader>>& servers,
              const std::vector<TableReader>& users, const std::vector<TableReader>& rules,
              const std::vector<TableReader>& sinks, const std::vector<TableReader>& mirrors)
      : sluice_(sluice),
        admin_(admin),
        metrics_(metrics),
        clusters_(clusters),
        servers_(servers),
        users_(users),
        rules_(rules),
        sinks_(sinks),
        mirrors_(mirrors) {}

  Status Error(const Field& f, std::string_view what) const override {
    const TableReader& t = Reader(f);
    // A cluster's server list is blamed on the cluster's own line: the list may be absent.
    if (f.entity == Field::Entity::kCluster && f.name == "server") {
      return t.Error(t.line(), f.name, what);
    }
    return t.ErrorAtKey(f.name, what);
  }
  std::string Name(const Field& f) const override {
    const TableReader& t = Reader(f);
    return f.name.empty() ? t.path() : t.Key(f.name);
  }

 private:
  const TableReader& Reader(const Field& f) const {
    switch (f.entity) {
      case Field::Entity::kSettings:
        return sluice_;
      case Field::Entity::kAdmin:
        return admin_;
      case Field::Entity::kMetrics:
        return metrics_;
      case Field::Entity::kCluster:
        return clusters_[f.cluster];
      case Field::Entity::kServer:
        return servers_[f.cluster][f.index];
      case Field::Entity::kUser:
        return users_[f.index];
      case Field::Entity::kRule:
        return rules_[f.index];
      case Field::Entity::kEventSink:
        return sinks_[f.index];
      case Field::Entity::kMirror:
        return mirrors_[f.index];
    }
    return sluice_;
  }

  const TableReader& sluice_;
  const TableReader& admin_;
  const TableReader& metrics_;
  const std::vector<TableReader>& clusters_;
  const std::vector<std::vector<TableReader>>& servers_;
  const std::vector<TableReader>& users_;
  const std::vector<TableReader>& rules_;
  const std::vector<TableReader>& sinks_;
  const std::vector<TableReader>& mirrors_;
};

// The order of the checks: top-level keys, each section read on its own, then
// ValidateRuntime (the checks the admin tables share), which needs every section read.
Status ReadRoot(const std::string& file, const toml::table& table, Runtime* rt) {
  TableReader root(&file, &table, "");
  SLUICE_RETURN_IF_ERROR(root.CheckKeys({"sluice", "admin", "metrics", "coordination", "cluster",
                                         "user", "query_rule", "event_sink", "mirror"}));
  const toml::table* sluice = nullptr;
  const toml::table* coordination = nullptr;
  const toml::table* admin = nullptr;
  const toml::table* metrics = nullptr;
  std::vector<TableReader> clusters, users, rules, sinks, mirrors;
  SLUICE_RETURN_IF_ERROR(FirstError({
      root.Table("sluice", &sluice),
      root.Table("admin", &admin),
      root.Table("metrics", &metrics),
      root.Table("coordination", &coordination),
      root.Tables("cluster", &clusters),
      root.Tables("user", &users),
      root.Tables("query_rule", &rules),
      root.Tables("event_sink", &sinks),
      root.Tables("mirror", &mirrors),
  }));
  // An absent section reads as an empty one (an absent [admin] still lacks its password);
  // its errors point at the root table.
  const toml::table empty;
  auto section = [&](const toml::table* t, const char* name) {
    return t ? TableReader(&file, t, name) : TableReader(&file, &empty, name, root.line());
  };
  TableReader sluice_reader = section(sluice, "sluice");
  TableReader admin_reader = section(admin, "admin");
  TableReader metrics_reader = section(metrics, "metrics");
  SLUICE_RETURN_IF_ERROR(FirstError({
      ReadSluice(sluice_reader, rt),
      ReadAdmin(admin_reader, &rt->admin),
      ReadMetrics(metrics_reader, &rt->metrics),
      ReadCoordination(section(coordination, "coordination"), &rt->coordination),
  }));
  rt->clusters.resize(clusters.size());
  std::vector<std::vector<TableReader>> servers(clusters.size());
  for (size_t i = 0; i < clusters.size(); ++i) {
    SLUICE_RETURN_IF_ERROR(ReadCluster(clusters[i], &rt->clusters[i], servers[i]));
  }
  rt->users.resize(users.size());
  for (size_t i = 0; i < users.size(); ++i)
    SLUICE_RETURN_IF_ERROR(ReadUser(users[i], &rt->users[i]));
  rt->rules.resize(rules.size());
  for (size_t i = 0; i < rules.size(); ++i)
    SLUICE_RETURN_IF_ERROR(ReadRule(rules[i], &rt->rules[i]));
  rt->event_sinks.resize(sinks.size());
  for (size_t i = 0; i < sinks.size(); ++i)
    SLUICE_RETURN_IF_ERROR(ReadEventSink(sinks[i], &rt->event_sinks[i]));
  rt->mirrors.resize(mirrors.size());
  for (size_t i = 0; i < mirrors.size(); ++i)
    SLUICE_RETURN_IF_ERROR(ReadMirror(mirrors[i], &rt->mirrors[i]));
  ConfigNamer namer{sluice_reader, admin_reader, metrics_reader, clusters, servers,
                    users,         rules,        sinks,          mirrors};
  return ValidateRuntime(*rt, namer);
}

}  // namespace

Result<Runtime> ParseConfig(std::string_view text, const std::string& path_for_errors) {
  toml::table table;
  try {
    table = toml::parse(text, std::string_view(path_for_errors));
  } catch (const toml::parse_error& e) {
    return ErrorAt(path_for_errors, e.source().begin.line, "-", e.description());
  }
  Runtime rt;
  Status s = ReadRoot(path_for_errors, table, &rt);
  if (!s.ok()) return s;
  return rt;
}

Result<Runtime> LoadConfigFile(const std::string& path) {
  auto cannot_read = [&path](int err) {
    return ErrorAt(path, 0, "-", fmt::format("cannot read: {}", std::strerror(err)));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cannot_read(errno);
  std::string text;
  char buf[65536];
  while (text.size() <= kMaxFileBytes) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return cannot_read(err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (text.size() > kMaxFileBytes) return cannot_read(EFBIG);
  return ParseConfig(text, path);
}

}  // namespace sluice
