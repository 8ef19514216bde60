#include "admin/admin_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "admin/admin_aliases.h"
#include "admin/admin_mirror.h"
#include "admin/runtime_validation.h"
#include "common/log.h"
#include "routing/kill_statement.h"

namespace sluice {
namespace {

constexpr const char* kLatencyColumns =
    "cnt_100us INT, cnt_250us INT, cnt_500us INT, cnt_1ms INT, cnt_2500us INT, cnt_5ms INT, "
    "cnt_10ms INT, cnt_25ms INT, cnt_50ms INT, cnt_100ms INT, cnt_500ms INT, cnt_1s INT, "
    "cnt_INFs INT";

constexpr const char* kServersStats =
    "cluster TEXT, hostgroup INT, server TEXT, state TEXT, role TEXT, conns_used INT, "
    "conns_free INT, queries INT, errors INT, connect_errors INT, bytes_sent INT, "
    "bytes_received INT, latency_sum_us INT, latency_avg_us INT, clients_waiting INT, "
    "max_wait_us INT, pool_waits INT, pool_wait_sum_us INT, pool_wait_avg_us INT, "
    "pool_wait_max_us INT";
constexpr const char* kDigestStats =
    "cluster TEXT, hostgroup INT, schemaname TEXT, username TEXT, digest TEXT, digest_text TEXT, "
    "count_star INT, first_seen INT, last_seen INT, sum_time INT, min_time INT, max_time INT, "
    "sum_rows_affected INT, sum_rows_sent INT, errors INT";
constexpr const char* kUsersStats =
    "username TEXT, statements INT, errors INT, client_connections INT, cluster TEXT, "
    "max_connections INT";
constexpr const char* kGlobalStats = "name TEXT, value INT";
constexpr const char* kConsistencyStats =
    "cluster TEXT, reads_replica INT, reads_kept_primary INT, waits INT, wait_timeouts INT, "
    "wait_time_us INT, reads_by_position INT";
constexpr const char* kPinStats = "cluster TEXT, reason TEXT, sessions_pinned INT";

std::string StatsSchemaSql() {
  std::string sql;
  const std::pair<const char*, std::string> tables[] = {
      {"stats_servers", kServersStats},
      {"stats_query_digest", kDigestStats},
      {"stats_commands",
       fmt::format("command TEXT, count INT, total_time_us INT, {}", kLatencyColumns)},
      {"stats_users", kUsersStats},
      {"stats_global", kGlobalStats},
      {"stats_consistency", kConsistencyStats},
      {"stats_session_pins", kPinStats},
  };
  for (const auto& [name, cols] : tables) {
    sql += fmt::format("CREATE TABLE main.{} ({});\n", name, cols);
    sql += fmt::format("CREATE TABLE main.{}_reset ({});\n", name, cols);
  }
  sql +=
      "CREATE TABLE main.stats_events (time TEXT, kind TEXT, cluster TEXT, server TEXT, message "
      "TEXT);\n"
      "CREATE TABLE main.stats_monitor (time TEXT, cluster TEXT, server TEXT, ok INT, latency_us "
      "INT, role TEXT, lag_ms INT, error TEXT);\n"
      "CREATE TABLE main.stats_fleet (instance TEXT, heartbeat_age_ms INT, leader INT, "
      "topology_revision INT, config_revision INT, self INT);\n";
  return sql;
}

std::vector<std::string> Tokens(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == ';') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Whether NAME occurs in TEXT as a whole identifier.
bool MentionsTable(const std::string& text, std::string_view name) {
  for (size_t pos = text.find(name); pos != std::string::npos; pos = text.find(name, pos + 1)) {
    bool left = pos == 0 || !IsWordChar(text[pos - 1]);
    size_t end = pos + name.size();
    bool right = end >= text.size() || !IsWordChar(text[end]);
    if (left && right) return true;
  }
  return false;
}

std::string U(uint64_t v) {
  return std::to_string(v);
}
std::string I(int64_t v) {
  return std::to_string(v);
}

std::string IsoTime(int64_t unix_ms) {
  time_t t = static_cast<time_t>(unix_ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(unix_ms % 1000));
}

Status Insert(SqliteDb* db, const std::string& table, const std::vector<SqlValue>& values) {
  std::string marks;
  for (size_t i = 0; i < values.size(); ++i) marks += fmt::format("{}?{}", i ? "," : "", i + 1);
  return db->Run(fmt::format("INSERT INTO main.{} VALUES ({})", table, marks), values).status();
}

// The disk store holds passwords: it is created 0600 before SQLite opens it (SQLite gives
// its -journal, -wal and -shm files the database file's mode), and a store or side file
// left readable by an older version is tightened.
Status PrivateStoreFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return Unavailable(fmt::format("admin store {}: cannot open: {}", path, std::strerror(errno)));
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0;
  if (ok && (st.st_mode & 077)) {
    log::Warn("admin store {}: mode {:o} lets others read it; setting 0600", path,
              st.st_mode & 0777);
    ok = ::fchmod(fd, 0600) == 0;
  }
  int err = errno;
  ::close(fd);
  if (!ok)
    return Unavailable(
        fmt::format("admin store {}: cannot set mode 0600: {}", path, std::strerror(err)));
  for (const char* side : {"-journal", "-wal", "-shm"}) {
    std::string p = path + side;
    if (::stat(p.c_str(), &st) == 0 && (st.st_mode & 077)) ::chmod(p.c_str(), 0600);
  }
  return Status::Ok();
}

}  // namespace

std::optional<AdminCommand> ParseAdminCommand(std::string_view statement, std::string* error) {
  std::vector<std::string> t = Tokens(statement);
  if (t.empty() || (t[0] != "LOAD" && t[0] != "SAVE")) return std::nullopt;
  const std::string usage =
      "expected LOAD|SAVE [MYSQL|PGSQL] SERVERS|USERS|QUERY RULES|SETTINGS|MIRROR|EVENT SINKS|ALL "
      "TO RUNTIME|FROM DISK (LOAD) or TO DISK|FROM RUNTIME (SAVE)";
  bool load = t[0] == "LOAD";
  size_t i = 1;
  if (i < t.size() && (t[i] == "MYSQL" || t[i] == "PGSQL" || t[i] == "ADMIN")) ++i;
  unsigned groups = 0;
  if (i < t.size()) {
    const std::string& w = t[i];
    if (w == "SERVERS")
      groups = kGroupServers;
    else if (w == "USERS")
      groups = kGroupUsers;
    else if (w == "SETTINGS" || w == "VARIABLES")
      groups = kGroupSettings;
    else if (w == "MIRROR")
      groups = kGroupMirror;
    else if (w == "ALL")
      groups = kGroupAll;
    else if (w == "QUERY" && i + 1 < t.size() && t[i + 1] == "RULES")
      groups = kGroupRules, ++i;
    else if (w == "EVENT" && i + 1 < t.size() && t[i + 1] == "SINKS")
      groups = kGroupEventSinks, ++i;
    ++i;
  }
  if (groups == 0 || i + 2 != t.size()) {
    *error = usage;
    return std::nullopt;
  }
  const std::string& dir = t[i];
  std::string where = t[i + 1] == "MEM" ? "MEMORY" : (t[i + 1] == "RUN" ? "RUNTIME" : t[i + 1]);
  AdminCommand c{AdminCommand::Kind::kLoadToRuntime, groups};
  if (load && ((dir == "TO" && where == "RUNTIME") || (dir == "FROM" && where == "MEMORY"))) {
    c.kind = AdminCommand::Kind::kLoadToRuntime;
  } else if (load && ((dir == "FROM" && where == "DISK") || (dir == "TO" && where == "MEMORY"))) {
    c.kind = AdminCommand::Kind::kLoadFromDisk;
  } else if (!load && ((dir == "TO" && where == "DISK") || (dir == "FROM" && where == "MEMORY"))) {
    c.kind = AdminCommand::Kind::kSaveToDisk;
  } else if (!load &&
             ((dir == "FROM" && where == "RUNTIME") || (dir == "TO" && where == "MEMORY"))) {
    c.kind = AdminCommand::Kind::kSaveFromRuntime;
  } else {
    *error = usage;
    return std::nullopt;
  }
  return c;
}

Result<std::unique_ptr<AdminService>> AdminService::Open(const Runtime& config, EventLog* events) {
  std::unique_ptr<AdminService> s(new AdminService(config, events));
  SLUICE_RETURN_IF_ERROR(s->db_.Open(":memory:"));
  const std::string& dir = config.admin.data_dir;
  if (!dir.empty()) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return Unavailable(
          fmt::format("admin.data_dir {}: cannot create: {}", dir, std::strerror(errno)));
    }
    std::string path = dir + "/sluice.db";
    SLUICE_RETURN_IF_ERROR(PrivateStoreFile(path));
    SLUICE_RETURN_IF_ERROR(
        s->db_.Run("ATTACH DATABASE " + SqliteDb::Quote(path) + " AS disk").status());
    SLUICE_RETURN_IF_ERROR(s->db_.Run(ConfigSchemaSql("disk", false)).status());
    s->has_disk_ = true;
  }
  SLUICE_RETURN_IF_ERROR(s->db_.Run(ConfigSchemaSql("main", true)).status());
  SLUICE_RETURN_IF_ERROR(s->db_.Run(StatsSchemaSql()).status());
  SLUICE_RETURN_IF_ERROR(s->db_.Run(AliasSchemaSql()).status());
  SLUICE_RETURN_IF_ERROR(s->db_.Run(MirrorStatsSchemaSql()).status());
  return s;
}

Result<Runtime> AdminService::StartupRuntime() {
  std::lock_guard<std::mutex> lock(mu_);
  SLUICE_RETURN_IF_ERROR(WriteTables(&db_, "main", "", config_, kGroupAll));
  if (!has_disk_) {
    log::Info(
        "admin: no admin.data_dir: the admin tables start from the config file and live in memory");
    return config_;
  }
  unsigned from_disk = 0;
  for (TableGroup g :
       {kGroupServers, kGroupUsers, kGroupRules, kGroupSettings, kGroupMirror, kGroupEventSinks}) {
    auto has = HasRows(&db_, "disk", g);
    if (!has.ok()) return has.status();
    if (*has) {
      from_disk |= g;
      SLUICE_RETURN_IF_ERROR(
          db_.Run(fmt::format("DELETE FROM main.{0}; INSERT INTO main.{0} SELECT * FROM disk.{0}",
                              GroupName(g)))
              .status());
      log::Info("admin: table {} loaded from the disk store {}/sluice.db", GroupName(g),
                config_.admin.data_dir);
    } else {
      SLUICE_RETURN_IF_ERROR(
          db_.Run(fmt::format("INSERT INTO disk.{0} SELECT * FROM main.{0}", GroupName(g)))
              .status());
      log::Info("admin: table {} seeded from the config file (the disk store had no rows)",
                GroupName(g));
    }
  }
  auto rt = ReadTables(&db_, "main", config_, kGroupAll);
  if (!rt.ok()) return Status(rt.status().code(), "disk store: " + rt.status().message());
  if (Status s = ValidateAdminRuntime(*rt); !s.ok())
    return Status(s.code(), "disk store: " + s.message());
  return rt;
}

void AdminService::Attach(RuntimeHolder* runtime, StatsCollector* stats) {
  std::lock_guard<std::mutex> lock(mu_);
  runtime_ = runtime;
  stats_ = stats;
}

RuntimePtr AdminService::Current() const {
  return runtime_ ? runtime_->Load() : nullptr;
}

Status AdminService::RequireDisk() const {
  if (has_disk_) return Status::Ok();
  return InvalidArgument(
      "no disk store: admin.data_dir is empty in the config file, so the admin tables live in "
      "memory only; set admin.data_dir and restart sluice to use SAVE ... TO DISK / LOAD ... FROM "
      "DISK");
}

Status AdminService::LoadToRuntime(unsigned groups) {
  return LoadFrom("main", groups);
}

Status AdminService::LoadFrom(const std::string& schema, unsigned groups) {
  RuntimePtr cur = Current();
  if (!cur) return Unavailable("the data plane is not started yet");
  auto next = ReadTables(&db_, schema, health_.config ? health_.config() : *cur, groups);
  if (!next.ok()) return next.status();
  SLUICE_RETURN_IF_ERROR(ValidateAdminRuntime(*next));
  next->version = cur->version + 1;
  // Another instance's tables (admin/fleet_tables.cc): the admin tables hold them too.
  if (schema != "main") SLUICE_RETURN_IF_ERROR(WriteTables(&db_, "main", "", *next, groups));
  std::string what;
  for (const std::string& t : TablesOf(groups)) what += (what.empty() ? "" : ", ") + t;
  // State changes are events of their own: an operator reads them back in stats_events.
  for (const Cluster& c : next->clusters) {
    const Cluster* old = cur->FindCluster(c.name);
    for (const Server& s : c.servers) {
      const Server* was = nullptr;
      if (old)
        for (const Server& o : old->servers)
          if (o.host == s.host && o.port == s.port) was = &o;
      if (!was) {
        events_->Append("SERVER_ADDED", c.name, s.name(),
                        fmt::format("added as {} {}", RoleName(s.role), StateName(s.state)));
      } else if (was->state != s.state) {
        events_->Append(
            "STATE", c.name, s.name(),
            fmt::format("{} -> {} (admin LOAD)", StateName(was->state), StateName(s.state)));
      }
    }
  }
  if (log::Level level; log::ParseLevel(next->log_level, &level)) log::SetLevel(level);
  uint64_t version = next->version;
  if (health_.publish)
    health_.publish(std::move(next).value());
  else
    runtime_->Publish(std::make_shared<const Runtime>(std::move(next).value()));
  events_->Append("LOAD", "", "",
                  fmt::format("{} loaded to runtime (version {}){}", what, version,
                              schema == "main" ? "" : " from the fleet"));
  if (schema == "main" &&
      health_.fleet_publish) {  // the whole fleet takes the same tables (coordination/)
    auto tables = ExportTablesLocked(groups);
    Status st = tables.ok() ? health_.fleet_publish(*tables) : tables.status();
    if (!st.ok()) {
      events_->Append("FLEET_CONFIG_REJECTED", "", "",
                      "loaded here but not published to the fleet: " + st.message());
      return Unavailable(what +
                         " loaded to this instance's runtime but not published to the "
                         "fleet: " +
                         st.message());
    }
  }
  return Status::Ok();
}

Status AdminService::ReloadFromFile(const Runtime& file) {
  std::lock_guard<std::mutex> lock(mu_);
  return ReloadLocked(file);
}

Status AdminService::ReloadLocked(const Runtime& file) {
  // A savepoint around both steps: a LOAD that fails leaves the tables as they were too.
  SLUICE_RETURN_IF_ERROR(db_.Run("SAVEPOINT sluice_reload").status());
  Status s = WriteTables(&db_, "main", "", file,
                         kGroupServers | kGroupUsers | kGroupRules | kGroupSettings);
  if (s.ok()) s = LoadToRuntime(kGroupAll);
  if (!s.ok()) {
    (void)db_.Run("ROLLBACK TO sluice_reload; RELEASE sluice_reload");
    return s;
  }
  return db_.Run("RELEASE sluice_reload").status();
}

Result<AdminResult> AdminService::Command(std::string_view statement, bool* handled) {
  std::string error;
  if (IsMirrorStatement(statement)) {
    *handled = true;
    if (auto sw = ParseMirrorSwitch(statement)) return MirrorSwitch(sw->name, sw->on);
    return RunMirrorStatement(mirror_report_, statement);
  }
  if (std::vector<std::string> t = Tokens(statement); !t.empty() && t[0] == "SWITCHOVER") {
    *handled = true;
    if (!health_.switchover) return Unavailable("SWITCHOVER: no health monitor");
    if (t.size() != 2 && !(t.size() == 4 && t[2] == "TO"))
      return InvalidArgument("expected SWITCHOVER <cluster> [TO 'host:port']");
    std::vector<std::string> raw;  // the cluster name and target keep their case
    for (std::string_view rest = statement; !rest.empty();) {
      size_t b = rest.find_first_not_of(" \t\r\n;'\"`");
      if (b == std::string_view::npos) break;
      size_t e = rest.find_first_of(" \t\r\n;'\"`", b);
      raw.emplace_back(rest.substr(b, e == std::string_view::npos ? rest.npos : e - b));
      rest = e == std::string_view::npos ? std::string_view() : rest.substr(e);
    }
    auto done = health_.switchover(raw[1], raw.size() == 4 ? raw[3] : "");
    if (!done.ok()) return done.status();
    AdminResult out;
    out.has_rows = true;
    out.columns = {"message"};
    out.rows = {{*done}};
    return out;
  }
  if (auto kill = routing::ParseKill(statement)) {
    *handled = true;
    if (!kill->unsupported.empty())
      return InvalidArgument("expected KILL [CONNECTION | QUERY] <session id> (stats_sessions.id)");
    if (!process_.kill) return Unavailable("KILL: the data plane is not started yet");
    SLUICE_RETURN_IF_ERROR(process_.kill(kill->id, kill->query_only));
    return AdminResult{};
  }
  std::optional<AdminCommand> cmd = ParseAdminCommand(statement, &error);
  *handled = cmd.has_value() || !error.empty();
  if (!cmd) {
    if (!error.empty()) return InvalidArgument(error);
    return AdminResult{};
  }
  AdminResult out;
  switch (cmd->kind) {
    case AdminCommand::Kind::kLoadToRuntime:
      SLUICE_RETURN_IF_ERROR(LoadToRuntime(cmd->groups));
      break;
    case AdminCommand::Kind::kSaveToDisk:
    case AdminCommand::Kind::kLoadFromDisk: {
      SLUICE_RETURN_IF_ERROR(RequireDisk());
      bool save = cmd->kind == AdminCommand::Kind::kSaveToDisk;
      std::string sql = "BEGIN;";
      for (const std::string& t : TablesOf(cmd->groups)) {
        sql += fmt::format("DELETE FROM {0}.{2}; INSERT INTO {0}.{2} SELECT * FROM {1}.{2};",
                           save ? "disk" : "main", save ? "main" : "disk", t);
      }
      sql += "COMMIT;";
      auto r = db_.Run(sql);
      if (!r.ok()) {
        (void)db_.Run("ROLLBACK");
        return r.status();
      }
      break;
    }
    case AdminCommand::Kind::kSaveFromRuntime: {
      RuntimePtr cur = Current();
      if (!cur) return Unavailable("the data plane is not started yet");
      SLUICE_RETURN_IF_ERROR(WriteTables(&db_, "main", "", *cur, cmd->groups));
      break;
    }
  }
  return out;
}

Status AdminService::RefreshStats(const std::string& table) {
  bool reset = table.size() > 6 && table.compare(table.size() - 6, 6, "_reset") == 0;
  std::string base = reset ? table.substr(0, table.size() - 6) : table;
  using Section = StatsCollector::Section;
  Section section = base == "stats_servers"        ? Section::kServers
                    : base == "stats_query_digest" ? Section::kDigests
                    : base == "stats_commands"     ? Section::kCommands
                    : base == "stats_users"        ? Section::kUsers
                    : base == "stats_consistency"  ? Section::kConsistency
                                                   : Section::kGlobal;
  StatsDelta d;
  if (stats_) {
    stats_->Poll();
    d = reset ? stats_->TakeSinceReset(section) : stats_->SinceReset();
  }
  SLUICE_RETURN_IF_ERROR(db_.Run(fmt::format("DELETE FROM main.{}", table)).status());
  RuntimePtr rt = Current();
  if (base == "stats_servers" && rt) {
    for (const Cluster& c : rt->clusters) {
      for (const Server& s : c.servers) {
        ServerStats st;
        auto it = d.servers.find(c.name + "/" + s.name());
        if (it != d.servers.end()) st = it->second;
        uint64_t avg = st.latency.count ? st.latency.sum_us / st.latency.count : 0;
        const LatencyHistogram& w = st.pool_wait;
        SLUICE_RETURN_IF_ERROR(Insert(&db_, table,
                                      {c.name,
                                       I(s.hostgroup),
                                       s.name(),
                                       StateName(s.state),
                                       RoleName(s.role),
                                       I(st.conns_used),
                                       I(st.conns_free),
                                       U(st.queries),
                                       U(st.errors),
                                       U(st.connect_errors),
                                       U(st.bytes_to_server),
                                       U(st.bytes_from_server),
                                       U(st.latency.sum_us),
                                       U(avg),
                                       I(st.clients_waiting),
                                       I(st.oldest_wait_us),
                                       U(w.count),
                                       U(w.sum_us),
                                       U(w.count ? w.sum_us / w.count : 0),
                                       U(st.pool_wait_max_us)}));
      }
    }
  } else if (base == "stats_query_digest") {
    for (const auto& [key, g] : d.digests) {
      SLUICE_RETURN_IF_ERROR(
          Insert(&db_, table,
                 {g.cluster, I(g.hostgroup), g.schema, g.user, fmt::format("0x{:016X}", key),
                  g.digest_text, U(g.count), I(g.first_seen_unix), I(g.last_seen_unix), U(g.sum_us),
                  U(g.count ? g.min_us : 0), U(g.max_us), U(g.rows_affected), U(g.rows_sent),
                  U(g.errors)}));
    }
  } else if (base == "stats_commands") {
    for (const auto& [name, c] : d.commands) {
      std::vector<SqlValue> row = {name, U(c.count), U(c.latency.sum_us)};
      for (uint64_t b : c.latency.buckets) row.push_back(U(b));
      SLUICE_RETURN_IF_ERROR(Insert(&db_, table, row));
    }
  } else if (base == "stats_users" && rt) {
    // The configured users only (a bounded set), each on its own cluster.
    for (const User& user : rt->users) {
      auto it = d.users.find(UserStatsKey(user.cluster, user.name));
      UserStats u = it == d.users.end() ? UserStats{} : it->second;
      SLUICE_RETURN_IF_ERROR(
          Insert(&db_, table,
                 {user.name, U(u.statements), U(u.errors), I(u.client_connections), user.cluster,
                  I(user.max_connections)}));
    }
  } else if (base == "stats_consistency" && rt) {
    for (const Cluster& c : rt->clusters) {
      auto it = d.consistency.find(c.name);
      ConsistencyStats st = it == d.consistency.end() ? ConsistencyStats{} : it->second;
      SLUICE_RETURN_IF_ERROR(
          Insert(&db_, table,
                 {c.name, U(st.reads_replica), U(st.reads_kept_primary), U(st.waits),
                  U(st.wait_timeouts), U(st.wait_us), U(st.reads_by_position)}));
    }
  } else if (base == "stats_global") {
    const std::pair<const char*, int64_t> rows[] = {
        {"client_connections", d.client_connections},
        {"client_connections_accepted", static_cast<int64_t>(d.client_connections_accepted)},
        {"client_connections_refused", static_cast<int64_t>(d.client_connections_refused)},
        {"protocol_errors", static_cast<int64_t>(d.protocol_errors)},
        {"protocol_errors_mysql", static_cast<int64_t>(d.protocol_errors_mysql)},
        {"protocol_errors_postgresql", static_cast<int64_t>(d.protocol_errors_postgresql)},
        {"client_login_timeouts", static_cast<int64_t>(d.client_login_timeouts)},
        {"preauth_evictions", static_cast<int64_t>(d.preauth_evictions)},
        {"query_timeouts", static_cast<int64_t>(d.query_timeouts)},
        {"idle_transaction_timeouts", static_cast<int64_t>(d.idle_transaction_timeouts)},
        {"pool_waits", static_cast<int64_t>(d.pool_waits)},
        {"pool_wait_timeouts", static_cast<int64_t>(d.pool_wait_timeouts)},
        {"retries", static_cast<int64_t>(d.retries)},
        {"connect_holds", static_cast<int64_t>(d.connect_holds)},
        {"connect_hold_timeouts", static_cast<int64_t>(d.connect_hold_timeouts)},
        {"runtime_version", rt ? static_cast<int64_t>(rt->version) : 0},
    };
    for (const auto& [name, v] : rows) SLUICE_RETURN_IF_ERROR(Insert(&db_, table, {name, I(v)}));
  } else if (base == "stats_session_pins") {
    for (const auto& [key, n] : d.session_pins) {
      size_t slash = key.rfind('/');
      SLUICE_RETURN_IF_ERROR(
          Insert(&db_, table, {key.substr(0, slash), key.substr(slash + 1), U(n)}));
    }
  }
  return Status::Ok();
}

Status AdminService::RefreshVirtualTables(std::string_view statement) {
  std::string text = Lower(statement);
  text += AliasedTables(text);  // ProxySQL's names read these tables
  RuntimePtr rt = Current();
  for (TableGroup g :
       {kGroupServers, kGroupUsers, kGroupRules, kGroupSettings, kGroupMirror, kGroupEventSinks}) {
    std::string name = std::string("runtime_") + GroupName(g);
    if (rt && MentionsTable(text, name)) {
      SLUICE_RETURN_IF_ERROR(WriteTables(&db_, "main", "runtime_", *rt, g));
    }
  }
  for (const char* base : {"stats_servers", "stats_query_digest", "stats_commands", "stats_users",
                           "stats_global", "stats_consistency", "stats_session_pins"}) {
    for (const std::string& name : {std::string(base), std::string(base) + "_reset"}) {
      if (MentionsTable(text, name)) SLUICE_RETURN_IF_ERROR(RefreshStats(name));
    }
  }
  SLUICE_RETURN_IF_ERROR(
      RefreshMirrorTables(&db_, mirror_report_, fork_positions_,
                          [&](std::string_view t) { return MentionsTable(text, t); }));
  if (MentionsTable(text, "stats_monitor") && health_.monitor_rows) {
    SLUICE_RETURN_IF_ERROR(db_.Run("DELETE FROM main.stats_monitor").status());
    for (const SqlRow& r : health_.monitor_rows())
      SLUICE_RETURN_IF_ERROR(Insert(&db_, "stats_monitor", r));
  }
  for (const auto& [name, rows] : stats_tables_) {
    if (!MentionsTable(text, name)) continue;
    SLUICE_RETURN_IF_ERROR(db_.Run(fmt::format("DELETE FROM main.{}", name)).status());
    for (const SqlRow& r : rows()) SLUICE_RETURN_IF_ERROR(Insert(&db_, name, r));
  }
  if (MentionsTable(text, "stats_events")) {
    SLUICE_RETURN_IF_ERROR(db_.Run("DELETE FROM main.stats_events").status());
    for (const Event& e : events_->Snapshot()) {
      SLUICE_RETURN_IF_ERROR(Insert(
          &db_, "stats_events", {IsoTime(e.time_unix_ms), e.kind, e.cluster, e.server, e.message}));
    }
  }
  return Status::Ok();
}

Result<AdminResult> AdminService::AliasAction(int kind, const std::string& cluster) {
  using Kind = AliasCommand::Kind;
  AdminResult out;
  switch (static_cast<Kind>(kind)) {
    case Kind::kReload: {
      if (!process_.read_config) return Unavailable("RELOAD: no config file to reload");
      auto file = process_.read_config();
      if (!file.ok()) return file.status();
      SLUICE_RETURN_IF_ERROR(ReloadLocked(*file));
      events_->Append("RELOAD", "", "", "config file applied (admin RELOAD)");
      out.info = "config file reloaded";
      return out;
    }
    case Kind::kShutdown:
      if (!process_.shutdown) return Unavailable("SHUTDOWN: not available");
      events_->Append("SHUTDOWN", "", "", "admin SHUTDOWN: draining");
      process_.shutdown();
      out.info = "draining";
      return out;
    case Kind::kPause:
    case Kind::kResume: {
      if (!process_.pause) return Unavailable("PAUSE/RESUME: no health monitor");
      RuntimePtr rt = Current();
      if (!rt) return Unavailable("the data plane is not started yet");
      if (!cluster.empty() && !rt->FindCluster(cluster))
        return InvalidArgument(fmt::format("no cluster named '{}'", cluster));
      bool on = static_cast<Kind>(kind) == Kind::kPause;
      for (const Cluster& c : rt->clusters) {
        if (!cluster.empty() && c.name != cluster) continue;
        SLUICE_RETURN_IF_ERROR(process_.pause(c.name, on));
        events_->Append(on ? "PAUSE" : "RESUME", c.name, "",
                        on ? fmt::format("admin PAUSE: writes held (each at most {} ms)",
                                         c.write_hold_timeout_ms)
                           : std::string("admin RESUME: writes released"));
      }
      return out;
    }
    case Kind::kQuery:
      break;
  }
  return InvalidArgument("not an action");
}

Status AdminService::AddStatsTable(const std::string& name, const std::string& columns,
                                   std::function<std::vector<SqlRow>()> rows) {
  std::lock_guard<std::mutex> lock(mu_);
  SLUICE_RETURN_IF_ERROR(
      db_.Run(fmt::format("CREATE TABLE IF NOT EXISTS main.{} ({})", name, columns)).status());
  stats_tables_.emplace_back(name, std::move(rows));
  return Status::Ok();
}

Result<AdminResult> AdminService::Execute(std::string_view statement) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string rewritten;
  if (auto alias = ParseAliasCommand(statement)) {
    if (alias->kind != AliasCommand::Kind::kQuery)
      return AliasAction(static_cast<int>(alias->kind), alias->cluster);
    rewritten = std::move(alias->sql);
    statement = rewritten;
  }
  bool handled = false;
  auto cmd = Command(statement, &handled);
  if (handled) return cmd;
  SLUICE_RETURN_IF_ERROR(RefreshVirtualTables(statement));
  auto r = db_.RunGuarded(statement);
  if (!r.ok()) return r.status();
  AdminResult out;
  out.has_rows = !r->columns.empty();
  out.columns = std::move(r->columns);
  out.rows = std::move(r->rows);
  out.affected_rows = r->changes;
  return out;
}

}  // namespace sluice
