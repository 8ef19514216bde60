#include "admin/admin_tables.h"

#include <sqlite3.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "admin/event_sink_table.h"
#include "admin/mirror_table.h"
#include "admin/runtime_validation.h"

namespace sluice {
namespace {

constexpr const char* kServersColumns =
    "cluster TEXT NOT NULL, hostgroup INT, host TEXT NOT NULL, port INT NOT NULL, "
    "role TEXT NOT NULL DEFAULT 'replica', weight INT NOT NULL DEFAULT 1, "
    "max_connections INT NOT NULL DEFAULT 50, max_lag_ms INT NOT NULL DEFAULT 10000, "
    "status TEXT NOT NULL DEFAULT 'ONLINE'";
constexpr const char* kUsersColumns =
    "name TEXT NOT NULL, password TEXT NOT NULL DEFAULT '', cluster TEXT NOT NULL, "
    "default_schema TEXT NOT NULL DEFAULT '', pool_mode TEXT, "
    "max_connections INT NOT NULL DEFAULT 10000, backend_user TEXT NOT NULL DEFAULT '', "
    "backend_password TEXT NOT NULL DEFAULT ''";
constexpr const char* kRulesColumns =
    "id INT NOT NULL, active INT NOT NULL DEFAULT 1, cluster TEXT NOT NULL DEFAULT '', "
    "user TEXT NOT NULL DEFAULT '', schema TEXT NOT NULL DEFAULT '', "
    "client_addr TEXT NOT NULL DEFAULT '', match_pattern TEXT NOT NULL DEFAULT '', "
    "match_digest TEXT NOT NULL DEFAULT '', action TEXT NOT NULL DEFAULT 'route', "
    "destination_hostgroup INT NOT NULL DEFAULT -1, error_message TEXT NOT NULL DEFAULT '', "
    "mirror INT NOT NULL DEFAULT 0, apply INT NOT NULL DEFAULT 1";
constexpr const char* kSettingsColumns = "name TEXT NOT NULL, value TEXT NOT NULL";

struct TableDef {
  TableGroup group;
  const char* name;
  const char* columns;
  const char* key;
};

constexpr TableDef kTables[] = {
    {kGroupServers, "servers", kServersColumns, "cluster, host, port"},
    {kGroupUsers, "users", kUsersColumns, "cluster, name"},
    {kGroupRules, "query_rules", kRulesColumns, "id"},
    {kGroupSettings, "global_settings", kSettingsColumns, "name"},
    {kGroupMirror, "mirrors", kMirrorsColumns, "name"},
    {kGroupEventSinks, "event_sinks", kEventSinksColumns, "name"},
};

std::string Int(int64_t v) {
  return std::to_string(v);
}

// One row being read: knows the table and the row's key, so errors name both.
class RowReader {
 public:
  RowReader(std::string where, const SqlResult* r, size_t row)
      : where_(std::move(where)), r_(r), row_(row) {}

  Status Error(std::string_view column, std::string_view what) const {
    return InvalidArgument(fmt::format("{}: {}: {}", where_, column, what));
  }
  const SqlValue& Raw(std::string_view column) const { return r_->rows[row_][Index(column)]; }
  std::string Text(std::string_view column) const { return Raw(column).value_or(""); }
  bool IsNull(std::string_view column) const { return !Raw(column).has_value(); }

  Status Integer(std::string_view column, int64_t* out) const {
    size_t i = Index(column);
    const SqlValue& v = r_->rows[row_][i];
    if (!v || r_->types[row_][i] != SQLITE_INTEGER) {
      return Error(column, v ? fmt::format("expected integer, got \"{}\"", *v)
                             : "expected integer, got NULL");
    }
    *out = std::strtoll(v->c_str(), nullptr, 10);
    return Status::Ok();
  }
  // Into an int: values outside LIMIT are refused here so they never wrap.
  template <typename T>
  Status Bounded(std::string_view column, Limit limit, T* out) const {
    int64_t v = 0;
    SLUICE_RETURN_IF_ERROR(Integer(column, &v));
    if (std::string what = CheckLimit(limit, v); !what.empty()) return Error(column, what);
    *out = static_cast<T>(v);
    return Status::Ok();
  }
  Status Bool(std::string_view column, bool* out) const {
    int64_t v = 0;
    SLUICE_RETURN_IF_ERROR(Integer(column, &v));
    if (v != 0 && v != 1) return Error(column, fmt::format("expected 0 or 1, got {}", v));
    *out = v == 1;
    return Status::Ok();
  }

 private:
  size_t Index(std::string_view column) const {
    for (size_t i = 0; i < r_->columns.size(); ++i)
      if (r_->columns[i] == column) return i;
    return 0;  // every caller names a column of the schema above
  }
  std::string where_;
  const SqlResult* r_;
  size_t row_;
};

const Limit kAnyInt{std::numeric_limits<int>::min(), std::numeric_limits<int>::max()};

bool ParseRole(const std::string& s, ServerRole* out) {
  if (s == "primary")
    *out = ServerRole::kPrimary;
  else if (s == "replica")
    *out = ServerRole::kReplica;
  else
    return false;
  return true;
}

bool ParseState(const std::string& s, ServerState* out) {
  for (ServerState st : {ServerState::kOnline, ServerState::kShunned, ServerState::kOfflineSoft,
                         ServerState::kOfflineHard}) {
    if (s == StateName(st)) {
      *out = st;
      return true;
    }
  }
  return false;
}

bool ParsePoolMode(const std::string& s, PoolMode* out) {
  if (s == "session")
    *out = PoolMode::kSession;
  else if (s == "transaction")
    *out = PoolMode::kTransaction;
  else
    return false;
  return true;
}

std::string Listen(const std::string& host, uint16_t port) {
  if (port == 0) return "";
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                             : fmt::format("{}:{}", host, port);
}

// The scaler's integer keys of a cluster (global_settings cluster.<name>.<key>).
constexpr std::pair<const char*, int Cluster::*> kScaleInts[] = {
    {"scale_out_reads_per_replica", &Cluster::scale_out_reads_per_replica},
    {"scale_out_pool_waits_per_s", &Cluster::scale_out_pool_waits_per_s},
    {"scale_out_p95_ms", &Cluster::scale_out_p95_ms},
    {"scale_in_reads_per_replica", &Cluster::scale_in_reads_per_replica},
    {"scale_out_window_ms", &Cluster::scale_out_window_ms},
    {"scale_in_window_ms", &Cluster::scale_in_window_ms},
    {"scale_cooldown_ms", &Cluster::scale_cooldown_ms},
    {"scale_command_timeout_ms", &Cluster::scale_command_timeout_ms},
    {"min_replicas", &Cluster::min_replicas},
    {"max_replicas", &Cluster::max_replicas},
    {"replica_ramp_ms", &Cluster::replica_ramp_ms}};

// Passthrough authentication's integer keys (the string ones are spelled out below).
constexpr std::pair<const char*, int Cluster::*> kAuthInts[] = {
    {"auth_cache_ttl_ms", &Cluster::auth_cache_ttl_ms},
    {"auth_cache_size", &Cluster::auth_cache_size},
    {"auth_max_pending", &Cluster::auth_max_pending},
    {"auth_max_users", &Cluster::auth_max_users}};

// global_settings as name -> value; read-only ones are marked.
struct Setting {
  std::string name;
  std::string value;
  bool read_only;
};

std::vector<Setting> SettingsOf(const Runtime& rt) {
  std::vector<Setting> out = {
      {"workers", Int(rt.workers), true},
      {"drain_timeout_ms", Int(rt.drain_timeout_ms), false},
      {"max_unauthenticated_connections", Int(rt.max_unauthenticated_connections), false},
      {"client_preauth_bytes", Int(rt.client_preauth_bytes), false},
      {"log_level", rt.log_level, false},
      {"admin.listen",
       rt.admin.listen_path.empty() ? Listen(rt.admin.listen_host, rt.admin.listen_port)
                                    : rt.admin.listen_path,
       true},
      {"admin.pg_listen", Listen(rt.admin.pg_listen_host, rt.admin.pg_listen_port), true},
      {"metrics.listen", Listen(rt.metrics.listen_host, rt.metrics.listen_port), true},
  };
  for (const Cluster& c : rt.clusters) {
    auto add = [&](const char* key, std::string v, bool ro) {
      out.push_back({fmt::format("cluster.{}.{}", c.name, key), std::move(v), ro});
    };
    add("protocol", ProtocolName(c.protocol), true);
    add("listen", Listen(c.listen_host, c.listen_port), true);
    add("writer_hostgroup", Int(c.writer_hostgroup), false);
    add("reader_hostgroup", Int(c.reader_hostgroup), false);
    add("reader_fallback_to_writer", c.reader_fallback_to_writer ? "true" : "false", false);
    add("pool_mode", PoolModeName(c.pool_mode), false);
    add("max_client_connections", Int(c.max_client_connections), false);
    add("connect_timeout_ms", Int(c.connect_timeout_ms), false);
    add("client_login_timeout_ms", Int(c.client_login_timeout_ms), false);
    add("query_timeout_ms", Int(c.query_timeout_ms), false);
    add("idle_in_transaction_timeout_ms", Int(c.idle_in_transaction_timeout_ms), false);
    add("read_your_writes_ms", Int(c.read_your_writes_ms), false);
    add("consistency", ConsistencyName(c.consistency), false);
    add("consistency_wait_ms", Int(c.consistency_wait_ms), false);
    add("monitor_position_interval_ms", Int(c.monitor_position_interval_ms), false);
    add("monitor_user", c.monitor_user, false);
    add("monitor_password", c.monitor_password, false);
    // Backend TLS contexts are made at start (proxy/backend_tls.h): read-only here.
    add("backend_tls", BackendTlsModeName(c.backend_tls.mode), true);
    add("backend_tls_ca_file", c.backend_tls.ca_file, true);
    add("backend_tls_cert_file", c.backend_tls.cert_file, true);
    add("backend_tls_key_file", c.backend_tls.key_file, true);
    add("backend_tls_server_name", c.backend_tls.server_name, true);
    add("write_hold_timeout_ms", Int(c.write_hold_timeout_ms), false);
    add("fence_command", c.fence_command, false);
    add("schema_watch_interval_ms", Int(c.schema_watch_interval_ms), false);
    add("schema_watch_databases", c.schema_watch_databases, false);
    add("scale_out_command", c.scale_out_command, false);
    add("scale_in_command", c.scale_in_command, false);
    for (const auto& [key, member] : kScaleInts) add(key, Int(c.*member), false);
    add("auth_user", c.auth_user, false);
    add("auth_password", c.auth_password, false);
    add("auth_query", c.auth_query, false);
    add("auth_dbname", c.auth_dbname, false);
    for (const auto& [key, member] : kAuthInts) add(key, Int(c.*member), false);
  }
  return out;
}

std::string ServerKey(const std::string& cluster, const std::string& host,
                      const std::string& port) {
  return fmt::format("servers row (cluster={}, host={}, port={})", cluster, host, port);
}

Status InsertRow(SqliteDb* sql, const std::string& table, const std::vector<SqlValue>& values) {
  std::string marks;
  for (size_t i = 0; i < values.size(); ++i) marks += fmt::format("{}?{}", i ? "," : "", i + 1);
  auto r = sql->Run(fmt::format("INSERT INTO {} VALUES ({})", table, marks), values);
  return r.status();
}

Status WriteGroup(SqliteDb* sql, const std::string& table, TableGroup g, const Runtime& rt) {
  SLUICE_RETURN_IF_ERROR(sql->Run(fmt::format("DELETE FROM {}", table)).status());
  switch (g) {
    case kGroupServers:
      for (const Cluster& c : rt.clusters)
        for (const Server& s : c.servers)
          SLUICE_RETURN_IF_ERROR(InsertRow(
              sql, table,
              {c.name, Int(s.hostgroup), s.host, Int(s.port), RoleName(s.role), Int(s.weight),
               Int(s.max_connections), Int(s.max_lag_ms), StateName(s.state)}));
      break;
    case kGroupUsers:
      for (const User& u : rt.users)
        SLUICE_RETURN_IF_ERROR(
            InsertRow(sql, table,
                      {u.name, u.password, u.cluster, u.default_schema,
                       u.pool_mode ? SqlValue(PoolModeName(*u.pool_mode)) : std::nullopt,
                       Int(u.max_connections), u.backend_user, u.backend_password}));
      break;
    case kGroupRules:
      for (const QueryRule& r : rt.rules)
        SLUICE_RETURN_IF_ERROR(InsertRow(
            sql, table,
            {Int(r.id), Int(r.active), r.cluster, r.user, r.schema, r.client_addr, r.match_pattern,
             r.match_digest, r.action == RuleAction::kReject ? "reject" : "route",
             Int(r.destination_hostgroup), r.error_message, Int(r.mirror), Int(r.apply)}));
      break;
    case kGroupSettings:
      for (const Setting& s : SettingsOf(rt))
        SLUICE_RETURN_IF_ERROR(InsertRow(sql, table, {s.name, s.value}));
      break;
    case kGroupMirror:
      return WriteMirrorRows(sql, table, rt);
    case kGroupEventSinks:
      return WriteEventSinkRows(sql, table, rt);
    default:
      break;
  }
  return Status::Ok();
}

Result<SqlResult> SelectAll(SqliteDb* sql, std::string_view db, const char* table) {
  return sql->Run(fmt::format("SELECT * FROM {}.{} ORDER BY rowid", db, table));
}

Status ReadServers(SqliteDb* sql, std::string_view db, Runtime* rt) {
  auto r = SelectAll(sql, db, "servers");
  if (!r.ok()) return r.status();
  std::map<std::string, int64_t> lag;  // the monitor's measurements survive a LOAD
  for (Cluster& c : rt->clusters) {
    for (const Server& s : c.servers) lag[c.name + "/" + s.name()] = s.lag_ms;
    c.servers.clear();
  }
  for (size_t i = 0; i < r->rows.size(); ++i) {
    const SqlRow& raw = r->rows[i];
    RowReader row(
        ServerKey(raw[0].value_or("NULL"), raw[2].value_or("NULL"), raw[3].value_or("NULL")),
        &r.value(), i);
    Cluster* c = nullptr;
    for (Cluster& cc : rt->clusters)
      if (cc.name == row.Text("cluster")) c = &cc;
    if (!c) {
      return row.Error("cluster", fmt::format("no cluster named \"{}\" (clusters and their "
                                              "listeners come from the config file)",
                                              row.Text("cluster")));
    }
    Server s;
    s.host = row.Text("host");
    if (!ParseRole(row.Text("role"), &s.role)) {
      return row.Error("role", BadChoice("primary|replica", row.Text("role")));
    }
    if (!ParseState(row.Text("status"), &s.state)) {
      return row.Error("status",
                       BadChoice("ONLINE|SHUNNED|OFFLINE_SOFT|OFFLINE_HARD", row.Text("status")));
    }
    SLUICE_RETURN_IF_ERROR(row.Bounded("port", limits::kPort, &s.port));
    SLUICE_RETURN_IF_ERROR(row.Bounded("weight", kAnyInt, &s.weight));
    SLUICE_RETURN_IF_ERROR(row.Bounded("max_connections", kAnyInt, &s.max_connections));
    SLUICE_RETURN_IF_ERROR(row.Bounded("max_lag_ms", kAnyInt, &s.max_lag_ms));
    s.hostgroup = s.role == ServerRole::kPrimary ? c->writer_hostgroup : c->reader_hostgroup;
    if (!row.IsNull("hostgroup"))
      SLUICE_RETURN_IF_ERROR(row.Bounded("hostgroup", kAnyInt, &s.hostgroup));
    auto it = lag.find(c->name + "/" + s.name());
    if (it != lag.end()) s.lag_ms = it->second;
    c->servers.push_back(std::move(s));
  }
  return Status::Ok();
}

Status ReadUsers(SqliteDb* sql, std::string_view db, Runtime* rt) {
  auto r = SelectAll(sql, db, "users");
  if (!r.ok()) return r.status();
  rt->users.clear();
  for (size_t i = 0; i < r->rows.size(); ++i) {
    // Columns: name, password, cluster, ...
    RowReader row(fmt::format("users row (cluster={}, name={})", r->rows[i][2].value_or("NULL"),
                              r->rows[i][0].value_or("NULL")),
                  &r.value(), i);
    User u;
    u.name = row.Text("name");
    u.password = row.Text("password");
    u.cluster = row.Text("cluster");
    u.default_schema = row.Text("default_schema");
    if (!row.Text("pool_mode").empty()) {
      PoolMode m;
      if (!ParsePoolMode(row.Text("pool_mode"), &m)) {
        return row.Error("pool_mode", BadChoice("session|transaction", row.Text("pool_mode")));
      }
      u.pool_mode = m;
    }
    SLUICE_RETURN_IF_ERROR(row.Bounded("max_connections", kAnyInt, &u.max_connections));
    u.backend_user = row.Text("backend_user");
    u.backend_password = row.Text("backend_password");
    if (u.backend_user.empty()) u.backend_user = u.name;
    if (u.backend_password.empty()) u.backend_password = u.password;
    rt->users.push_back(std::move(u));
  }
  return Status::Ok();
}

Status ReadRules(SqliteDb* sql, std::string_view db, Runtime* rt) {
  auto r = SelectAll(sql, db, "query_rules");
  if (!r.ok()) return r.status();
  rt->rules.clear();
  for (size_t i = 0; i < r->rows.size(); ++i) {
    RowReader row(fmt::format("query_rules row (id={})", r->rows[i][0].value_or("NULL")),
                  &r.value(), i);
    QueryRule q;
    SLUICE_RETURN_IF_ERROR(row.Bounded("id", kAnyInt, &q.id));
    SLUICE_RETURN_IF_ERROR(row.Bool("active", &q.active));
    q.cluster = row.Text("cluster");
    q.user = row.Text("user");
    q.schema = row.Text("schema");
    q.client_addr = row.Text("client_addr");
    q.match_pattern = row.Text("match_pattern");
    q.match_digest = row.Text("match_digest");
    std::string action = row.Text("action");
    if (action == "route")
      q.action = RuleAction::kRoute;
    else if (action == "reject")
      q.action = RuleAction::kReject;
    else
      return row.Error("action", BadChoice("route|reject", action));
    SLUICE_RETURN_IF_ERROR(row.Bounded("destination_hostgroup", kAnyInt, &q.destination_hostgroup));
    q.error_message = row.Text("error_message");
    SLUICE_RETURN_IF_ERROR(row.Bool("mirror", &q.mirror));
    SLUICE_RETURN_IF_ERROR(row.Bool("apply", &q.apply));
    rt->rules.push_back(std::move(q));
  }
  return Status::Ok();
}

Status ParseIntSetting(const RowReader& row, const std::string& v, int* out) {
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || !CheckLimit(kAnyInt, n).empty()) {
    return row.Error("value", fmt::format("expected an integer, got \"{}\"", v));
  }
  *out = static_cast<int>(n);
  return Status::Ok();
}

Status ApplyClusterSetting(const RowReader& row, const std::string& key, const std::string& v,
                           Cluster* c) {
  if (key == "writer_hostgroup") return ParseIntSetting(row, v, &c->writer_hostgroup);
  if (key == "reader_hostgroup") return ParseIntSetting(row, v, &c->reader_hostgroup);
  if (key == "max_client_connections") return ParseIntSetting(row, v, &c->max_client_connections);
  if (key == "connect_timeout_ms") return ParseIntSetting(row, v, &c->connect_timeout_ms);
  if (key == "client_login_timeout_ms") return ParseIntSetting(row, v, &c->client_login_timeout_ms);
  if (key == "query_timeout_ms") return ParseIntSetting(row, v, &c->query_timeout_ms);
  if (key == "idle_in_transaction_timeout_ms")
    return ParseIntSetting(row, v, &c->idle_in_transaction_timeout_ms);
  if (key == "read_your_writes_ms") return ParseIntSetting(row, v, &c->read_your_writes_ms);
  if (key == "consistency_wait_ms") return ParseIntSetting(row, v, &c->consistency_wait_ms);
  if (key == "monitor_position_interval_ms")
    return ParseIntSetting(row, v, &c->monitor_position_interval_ms);
  if (key == "consistency") {
    if (!ParseConsistency(v, &c->consistency))
      return row.Error("value", BadChoice("eventual|session|global", v));
    return Status::Ok();
  }
  if (key == "monitor_user") return c->monitor_user = v, Status::Ok();
  if (key == "monitor_password") return c->monitor_password = v, Status::Ok();
  if (key == "write_hold_timeout_ms") {
    int ms = 0;
    SLUICE_RETURN_IF_ERROR(ParseIntSetting(row, v, &ms));
    if (ms < 0) return row.Error("value", "write_hold_timeout_ms must be 0 or more");
    c->write_hold_timeout_ms = ms;
    return Status::Ok();
  }
  if (key == "fence_command") return c->fence_command = v, Status::Ok();
  if (key == "schema_watch_interval_ms")
    return ParseIntSetting(row, v, &c->schema_watch_interval_ms);
  if (key == "schema_watch_databases") return c->schema_watch_databases = v, Status::Ok();
  if (key == "scale_out_command") return c->scale_out_command = v, Status::Ok();
  if (key == "scale_in_command") return c->scale_in_command = v, Status::Ok();
  for (const auto& [name, member] : kScaleInts)
    if (key == name) return ParseIntSetting(row, v, &(c->*member));
  if (key == "auth_user") return c->auth_user = v, Status::Ok();
  if (key == "auth_password") return c->auth_password = v, Status::Ok();
  if (key == "auth_query") return c->auth_query = v, Status::Ok();
  if (key == "auth_dbname") return c->auth_dbname = v, Status::Ok();
  for (const auto& [name, member] : kAuthInts)
    if (key == name) return ParseIntSetting(row, v, &(c->*member));
  if (key == "reader_fallback_to_writer") {
    if (v != "true" && v != "false") return row.Error("value", BadChoice("true|false", v));
    c->reader_fallback_to_writer = v == "true";
    return Status::Ok();
  }
  if (key == "pool_mode") {
    if (!ParsePoolMode(v, &c->pool_mode))
      return row.Error("value", BadChoice("session|transaction", v));
    return Status::Ok();
  }
  return row.Error("name", "unknown setting");
}

Status ReadSettings(SqliteDb* sql, std::string_view db, Runtime* rt) {
  auto r = SelectAll(sql, db, "global_settings");
  if (!r.ok()) return r.status();
  std::map<std::string, Setting> current;
  for (Setting& s : SettingsOf(*rt)) current.emplace(s.name, s);
  for (size_t i = 0; i < r->rows.size(); ++i) {
    std::string name = r->rows[i][0].value_or("");
    RowReader row(fmt::format("global_settings row (name={})", name), &r.value(), i);
    std::string v = row.Text("value");
    auto it = current.find(name);
    if (it == current.end()) return row.Error("name", "unknown setting");
    if (it->second.read_only) {
      if (v == it->second.value) continue;
      return row.Error("value", fmt::format("cannot change at runtime (running with \"{}\"): "
                                            "listeners and workers are set at start; change "
                                            "the config file and restart sluice",
                                            it->second.value));
    }
    if (name == "drain_timeout_ms") {
      SLUICE_RETURN_IF_ERROR(ParseIntSetting(row, v, &rt->drain_timeout_ms));
    } else if (name == "max_unauthenticated_connections") {
      SLUICE_RETURN_IF_ERROR(ParseIntSetting(row, v, &rt->max_unauthenticated_connections));
    } else if (name == "client_preauth_bytes") {
      SLUICE_RETURN_IF_ERROR(ParseIntSetting(row, v, &rt->client_preauth_bytes));
    } else if (name == "log_level") {
      rt->log_level = v;
    } else if (name.rfind("cluster.", 0) == 0) {
      size_t dot = name.rfind('.');
      std::string cname = name.substr(8, dot - 8);
      Cluster* c = nullptr;
      for (Cluster& cc : rt->clusters)
        if (cc.name == cname) c = &cc;
      if (!c) return row.Error("name", "unknown setting");
      SLUICE_RETURN_IF_ERROR(ApplyClusterSetting(row, name.substr(dot + 1), v, c));
    }
  }
  return Status::Ok();
}

// The admin tables' names for a Runtime field.
class AdminNamer : public FieldNamer {
 public:
  explicit AdminNamer(const Runtime& rt) : rt_(rt) {}

  Status Error(const Field& f, std::string_view what) const override {
    if (f.entity == Field::Entity::kCluster && f.name == "server") {
      return InvalidArgument(
          fmt::format("servers (cluster={}): {}", rt_.clusters[f.cluster].name, what));
    }
    return InvalidArgument(fmt::format("{}: {}: {}", Row(f), Column(f), what));
  }
  std::string Name(const Field& f) const override { return Row(f); }
  Status Missing(const Field& f) const override {
    return InvalidArgument(
        fmt::format("servers: no rows for cluster \"{}\" (it needs exactly one "
                    "server with role = \"primary\")",
                    rt_.clusters[f.cluster].name));
  }

 private:
  using E = Field::Entity;
  std::string Row(const Field& f) const {
    switch (f.entity) {
      case E::kSettings:
        return fmt::format("global_settings row (name={})", f.name);
      case E::kAdmin:
        return fmt::format("global_settings row (name=admin.{})", f.name);
      case E::kMetrics:
        return fmt::format("global_settings row (name=metrics.{})", f.name);
      case E::kCluster:
        return f.name.empty() ? fmt::format("cluster {}", rt_.clusters[f.cluster].name)
                              : fmt::format("global_settings row (name=cluster.{}.{})",
                                            rt_.clusters[f.cluster].name, f.name);
      case E::kServer: {
        const Cluster& c = rt_.clusters[f.cluster];
        const Server& s = c.servers[f.index];
        return ServerKey(c.name, s.host, Int(s.port));
      }
      case E::kUser:
        return fmt::format("users row (cluster={}, name={})", rt_.users[f.index].cluster,
                           rt_.users[f.index].name);
      case E::kRule:
        return fmt::format("query_rules row (id={})", rt_.rules[f.index].id);
      case E::kEventSink:
        return fmt::format("event_sinks row (name={})", rt_.event_sinks[f.index].name);
      case E::kMirror:
        return fmt::format("mirrors row (name={})", rt_.mirrors[f.index].name);
    }
    return "?";
  }
  static std::string Column(const Field& f) {
    bool setting = f.entity == E::kSettings || f.entity == E::kAdmin || f.entity == E::kMetrics ||
                   f.entity == E::kCluster;
    return setting ? "value" : f.name;
  }
  const Runtime& rt_;
};

}  // namespace

std::vector<std::string> TablesOf(unsigned groups) {
  std::vector<std::string> out;
  for (const TableDef& t : kTables)
    if (groups & t.group) out.emplace_back(t.name);
  return out;
}

const char* GroupName(TableGroup g) {
  for (const TableDef& t : kTables)
    if (t.group == g) return t.name;
  return "?";
}

std::string ConfigSchemaSql(std::string_view db, bool runtime_tables) {
  std::string sql;
  for (const TableDef& t : kTables) {
    sql += fmt::format("CREATE TABLE IF NOT EXISTS {}.{} ({}, PRIMARY KEY ({}));\n", db, t.name,
                       t.columns, t.key);
    if (runtime_tables) {
      sql +=
          fmt::format("CREATE TABLE IF NOT EXISTS {}.runtime_{} ({}{});\n", db, t.name, t.columns,
                      t.group == kGroupServers ? ", lag_ms INT, topology_revision INT" : "");
    }
  }
  return sql;
}

Status WriteTables(SqliteDb* sql, std::string_view db, std::string_view prefix, const Runtime& rt,
                   unsigned groups) {
  for (const TableDef& t : kTables) {
    if (!(groups & t.group)) continue;
    std::string table = fmt::format("{}.{}{}", db, prefix, t.name);
    if (t.group == kGroupServers && !prefix.empty()) {
      // runtime_servers also shows the monitor's lag and the fleet's topology revision.
      SLUICE_RETURN_IF_ERROR(sql->Run(fmt::format("DELETE FROM {}", table)).status());
      for (const Cluster& c : rt.clusters)
        for (const Server& s : c.servers)
          SLUICE_RETURN_IF_ERROR(
              InsertRow(sql, table,
                        {c.name, Int(s.hostgroup), s.host, Int(s.port), RoleName(s.role),
                         Int(s.weight), Int(s.max_connections), Int(s.max_lag_ms),
                         StateName(s.state), Int(s.lag_ms), Int(rt.topology_revision)}));
      continue;
    }
    SLUICE_RETURN_IF_ERROR(WriteGroup(sql, table, t.group, rt));
  }
  return Status::Ok();
}

Result<Runtime> ReadTables(SqliteDb* sql, std::string_view db, const Runtime& base,
                           unsigned groups) {
  Runtime rt = base;
  // Settings first: the servers' default hostgroups come from the clusters' settings.
  if (groups & kGroupSettings) SLUICE_RETURN_IF_ERROR(ReadSettings(sql, db, &rt));
  if (groups & kGroupServers) SLUICE_RETURN_IF_ERROR(ReadServers(sql, db, &rt));
  if (groups & kGroupUsers) SLUICE_RETURN_IF_ERROR(ReadUsers(sql, db, &rt));
  if (groups & kGroupRules) SLUICE_RETURN_IF_ERROR(ReadRules(sql, db, &rt));
  if (groups & kGroupMirror) SLUICE_RETURN_IF_ERROR(ReadMirrorRows(sql, db, &rt));
  if (groups & kGroupEventSinks) SLUICE_RETURN_IF_ERROR(ReadEventSinkRows(sql, db, &rt));
  return rt;
}

Result<bool> HasRows(SqliteDb* sql, std::string_view db, unsigned groups) {
  for (const TableDef& t : kTables) {
    if (!(groups & t.group)) continue;
    auto r = sql->Run(fmt::format("SELECT 1 FROM {}.{} LIMIT 1", db, t.name));
    if (!r.ok()) return r.status();
    if (!r->rows.empty()) return true;
  }
  return false;
}

Status ValidateAdminRuntime(const Runtime& rt) {
  AdminNamer namer(rt);
  return ValidateRuntime(rt, namer);
}

}  // namespace sluice
