// SchemaWatch: per cluster, every schema_watch_interval_ms, reads the primary's table, column,
// index and constraint definitions in one catalog query (information_schema on MariaDB,
// pg_catalog per database on PostgreSQL), fingerprints each schema and raises SCHEMA_CHANGED
// with the differences. Its own control-plane thread, owned by the HealthMonitor, so that a
// slow catalog never delays a health check; a round still running when the next falls due
// makes that one skipped (counted).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "health/node.h"
#include "health/schema_diff.h"
#include "health/topology.h"

namespace sluice::health {

// One schema as stats_schema shows it.
struct SchemaStatus {
  std::string cluster;
  std::string schema;  // MariaDB: database; PostgreSQL: database.namespace
  std::string fingerprint;
  int64_t tables = 0;
  int64_t columns = 0;
  int64_t indexes = 0;
  int64_t checked_unix_ms = 0;  // the last round that read it
  int64_t changed_unix_ms = 0;  // the last change seen (0: none since start)
  std::string last_diff;        // that change, "; "-separated
};

// One cluster's watch as a whole (stats_schema's round columns, sluice_schema_* metrics).
struct SchemaWatchCounters {
  std::string cluster;
  uint64_t rounds = 0;   // rounds that read the catalogs
  uint64_t skipped = 0;  // rounds that fell due while the previous one still ran
  uint64_t changes = 0;  // SCHEMA_CHANGED events raised
  uint64_t errors = 0;   // rounds that failed (no primary, connect or query error)
  std::string last_error;
};

using SchemaEventFn = std::function<void(std::string_view kind, std::string_view cluster,
                                         std::string_view server, const std::string& message)>;

// The one catalog query: (what, schema, table, name, definition) rows for every table,
// column, index and constraint. MariaDB: SCHEMAS limits the schemas (empty: all but the
// system ones). PostgreSQL: the connected database, every non-system namespace.
std::string MysqlCatalogSql(const std::vector<std::string>& schemas);
std::string PgCatalogSql();

// The SCHEMA_CHANGED message for SCHEMA's CHANGES, bounded to the first 20 lines.
std::string ChangeMessage(const std::string& schema, const std::vector<std::string>& changes);

// Opens the connection a round reads DATABASE through ("" on MariaDB); tests pass a fake.
using SchemaNodeFactory =
    std::function<std::unique_ptr<Node>(const NodeOptions& o, const std::string& database)>;

class SchemaWatch {
 public:
  SchemaWatch(Topology* topology, std::string cluster, SchemaEventFn event,
              SchemaNodeFactory factory = nullptr);
  ~SchemaWatch() { Stop(); }

  void Start();
  void Stop();
  std::vector<SchemaStatus> Schemas() const;
  SchemaWatchCounters Counters() const;

 private:
  void Loop();
  Status Round(const Cluster& c);
  Result<std::vector<CatalogRow>> ReadCatalogs(const Cluster& c, const Server& primary);

  Topology* topology_;
  const std::string cluster_;
  SchemaEventFn event_;
  SchemaNodeFactory factory_;
  std::thread thread_;
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  // Used by the watch's thread only.
  std::string primary_;
  std::map<std::string, std::unique_ptr<Node>> nodes_;  // by database ("" on MariaDB)
  std::map<std::string, SchemaShape> shapes_;
  bool have_baseline_ = false;
  // Read by the admin port and the metrics.
  mutable std::mutex mu_;
  std::map<std::string, SchemaStatus> status_;
  SchemaWatchCounters counters_;
};

// One SchemaWatch per cluster of the configuration (main starts it beside the monitor).
class SchemaWatchSet {
 public:
  SchemaWatchSet(Topology* topology, SchemaEventFn event)
      : topology_(topology), event_(std::move(event)) {}
  ~SchemaWatchSet() { Stop(); }
  void Start();
  void Stop();
  std::vector<SchemaStatus> Schemas() const;
  std::vector<SchemaWatchCounters> Counters() const;

 private:
  Topology* topology_;
  SchemaEventFn event_;
  std::vector<std::unique_ptr<SchemaWatch>> watches_;
};

}  // namespace sluice::health
