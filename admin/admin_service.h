// AdminService: the protocol-neutral admin SQL engine. Holds the SQLite store (main in memory,
// `disk` attached from admin.data_dir), runs LOAD/SAVE commands, refreshes the runtime_* and
// stats_* tables when a statement reads them, and passes any other SQL to SQLite.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/admin_tables.h"
#include "admin/event_log.h"
#include "admin/sqlite_db.h"
#include "admin/stats_collector.h"
#include "common/status.h"
#include "mirror/report.h"
#include "routing/runtime.h"

namespace sluice {

struct AdminResult {
  bool has_rows = false;  // a result set (columns + rows), else an OK with affected_rows
  std::vector<std::string> columns;
  std::vector<SqlRow> rows;
  uint64_t affected_rows = 0;
  std::string info;
};

class AdminService {
 public:
  // Creates the tables; attaches DATA_DIR/sluice.db as `disk` when data_dir is set. CONFIG is
  // the validated config file.
  static Result<std::unique_ptr<AdminService>> Open(const Runtime& config, EventLog* events);

  // The runtime to start with: per table, the disk rows when the disk store has any, else the
  // config file's (which then seed the disk store). Logs which source each table came from.
  Result<Runtime> StartupRuntime();

  // After the workers exist: where to publish and where the stats come from.
  void Attach(RuntimeHolder* runtime, StatsCollector* stats);

  // SIGHUP and RELOAD: FILE (a validated config file) replaces the memory tables and goes to
  // runtime through LOAD ALL TO RUNTIME's validation and publish. On an error nothing
  // changes: neither the memory tables nor the runtime.
  Status ReloadFromFile(const Runtime& file);

  // One statement (or command) from an operator.
  Result<AdminResult> Execute(std::string_view statement);

  // What health/ lends the admin port (main sets them before Start; each may be null):
  // LOAD ... TO RUNTIME starts from `config` and goes through `publish` (the topology that
  // adds the health overlay); SWITCHOVER <cluster> [TO 'host:port'] runs `switchover`;
  // stats_monitor lists `monitor_rows`.
  struct HealthHooks {
    std::function<Runtime()> config;
    std::function<void(Runtime)> publish;
    std::function<Result<std::string>(const std::string&, const std::string&)> switchover;
    std::function<std::vector<SqlRow>()> monitor_rows;
    // MIRROR START's consistent start: when the shadow replicates from the source's primary,
    // hold the source's writes, wait until the shadow applied the primary's position, detach
    // it, release the writes (the switch goes on in between, given the fork position: empty
    // for an independent shadow). The message says what was done; null: every shadow is
    // taken as independent.
    std::function<Result<std::string>(const MirrorConfig& m,
                                      const std::function<Status(const std::string&)>& on)>
        mirror_fork;
    // A fleet ([coordination]): a LOAD ... TO RUNTIME that succeeded here is published to
    // the fleet through `fleet_publish` (ExportTables' JSON).
    std::function<Status(const std::string& tables_json)> fleet_publish;
  };
  void SetHealthHooks(HealthHooks hooks) { health_ = std::move(hooks); }

  // What main lends the PgBouncer-style commands (admin/admin_aliases.h); each may be null:
  // RELOAD reads the config file with `read_config` and applies it as SIGHUP does;
  // SHUTDOWN calls `shutdown` (main drains as on SIGTERM); PAUSE/RESUME [cluster] call
  // `pause` (holds the cluster's writes as a switchover does); KILL [CONNECTION | QUERY] <id>
  // calls `kill` (the data plane's session registry: any client session, either protocol).
  struct ProcessHooks {
    std::function<Result<Runtime>()> read_config;
    std::function<void()> shutdown;
    std::function<Status(const std::string& cluster, bool on)> pause;
    std::function<Status(uint32_t id, bool query_only)> kill;
  };
  void SetProcessHooks(ProcessHooks hooks) { process_ = std::move(hooks); }
  // A read-only stats table whose rows come from another part of the control plane (event
  // sinks, schema watch): created now with COLUMNS ("name TEXT, sent INT"), refilled from
  // ROWS whenever a statement mentions it.
  Status AddStatsTable(const std::string& name, const std::string& columns,
                       std::function<std::vector<SqlRow>()> rows);
  // The mirror report behind stats_mirror*, MIRROR REPORT (admin/admin_mirror.h); may be null.
  void SetMirrorReport(mirror::MirrorReport* report) { mirror_report_ = report; }

  // Fleet config (admin/fleet_tables.cc). ExportTables: the rows of GROUPS' tables as JSON
  // {"groups":N,"tables":{name:{"columns":[..],"rows":[[..]]}}}. ApplyFleetTables: another
  // instance's export, validated as a LOAD would be and published at once, or an error and
  // the runtime unchanged; the admin tables then hold the rows too.
  Result<std::string> ExportTables(unsigned groups);
  Status ApplyFleetTables(const std::string& tables_json);

 private:
  AdminService(Runtime config, EventLog* events) : config_(std::move(config)), events_(events) {}
  Result<AdminResult> Command(std::string_view statement, bool* handled);
  Status LoadToRuntime(unsigned groups);
  // MIRROR START|STOP <name> (admin_service_mirror.cc): the mirror's switch at runtime.
  Result<AdminResult> MirrorSwitch(const std::string& name, bool on);
  // LOAD ... TO RUNTIME from SCHEMA's tables ("main", or "fleet": another instance's, which
  // are then written to main as well and not published to the fleet again).
  Status LoadFrom(const std::string& schema, unsigned groups);
  Status ReloadLocked(const Runtime& file);
  Result<AdminResult> AliasAction(int kind, const std::string& cluster);
  Result<std::string> ExportTablesLocked(unsigned groups);
  Status RequireDisk() const;
  Status RefreshVirtualTables(std::string_view statement);
  Status RefreshStats(const std::string& table);
  RuntimePtr Current() const;

  Runtime config_;
  EventLog* events_;
  std::mutex mu_;  // one SQLite connection, one operator statement at a time
  SqliteDb db_;
  bool has_disk_ = false;
  RuntimeHolder* runtime_ = nullptr;
  StatsCollector* stats_ = nullptr;
  HealthHooks health_;
  ProcessHooks process_;
  std::vector<std::pair<std::string, std::function<std::vector<SqlRow>()>>> stats_tables_;
  mirror::MirrorReport* mirror_report_ = nullptr;
  // stats_mirror.fork_position: where the last MIRROR START of each mirror detached its
  // shadow ("" when it found the shadow independent).
  std::map<std::string, std::string, std::less<>> fork_positions_;
};

// "LOAD MYSQL QUERY RULES TO RUNTIME" -> the groups and the direction; nullopt if STATEMENT
// is no LOAD/SAVE command. Exposed for tests.
struct AdminCommand {
  enum class Kind { kLoadToRuntime, kSaveToDisk, kLoadFromDisk, kSaveFromRuntime };
  Kind kind;
  unsigned groups;
};
std::optional<AdminCommand> ParseAdminCommand(std::string_view statement, std::string* error);

}  // namespace sluice
