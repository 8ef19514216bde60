#include "health/schema_watch.h"
#include "common/split.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/log.h"

namespace sluice::health {
namespace {

constexpr size_t kMaxMessageChanges = 20;

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string MysqlQuote(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// PostgreSQL: which databases to read.
std::vector<std::string> PgDatabases(const Runtime& rt, const Cluster& c) {
  std::vector<std::string> dbs = SplitList(c.schema_watch_databases);
  if (!dbs.empty()) return dbs;
  std::set<std::string> seen;
  for (const User& u : rt.users)
    if (u.cluster == c.name && !u.default_schema.empty() && seen.insert(u.default_schema).second)
      dbs.push_back(u.default_schema);
  if (dbs.empty()) dbs.push_back("postgres");
  return dbs;
}

}  // namespace

std::string MysqlCatalogSql(const std::vector<std::string>& schemas) {
  auto filter = [&](const char* col) {
    std::string list;
    if (schemas.empty()) {
      list = "'mysql','information_schema','performance_schema','sys'";
      return fmt::format("{} NOT IN ({})", col, list);
    }
    for (const std::string& s : schemas) list += (list.empty() ? "" : ",") + MysqlQuote(s);
    return fmt::format("{} IN ({})", col, list);
  };
  return fmt::format(
      "SELECT 'table', TABLE_SCHEMA, TABLE_NAME, '', TABLE_TYPE FROM information_schema.TABLES "
      "WHERE {0} "
      "UNION ALL SELECT 'column', TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, CONCAT(COLUMN_TYPE, "
      "IF(IS_NULLABLE = 'NO', ' NOT NULL', ''), IFNULL(CONCAT(' DEFAULT ', COLUMN_DEFAULT), ''), "
      "IF(EXTRA <> '', CONCAT(' ', EXTRA), '')) FROM information_schema.COLUMNS WHERE {0} "
      "UNION ALL SELECT 'index', TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, CONCAT(IF(NON_UNIQUE = 0, "
      "'UNIQUE ', ''), INDEX_TYPE, ' (', GROUP_CONCAT(CONCAT(COLUMN_NAME, IFNULL(CONCAT('(', "
      "SUB_PART, ')'), '')) ORDER BY SEQ_IN_INDEX SEPARATOR ', '), ')') FROM "
      "information_schema.STATISTICS WHERE {0} GROUP BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, "
      "NON_UNIQUE, INDEX_TYPE "
      "UNION ALL SELECT 'constraint', CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, "
      "CONSTRAINT_TYPE FROM information_schema.TABLE_CONSTRAINTS WHERE {1}",
      filter("TABLE_SCHEMA"), filter("CONSTRAINT_SCHEMA"));
}

std::string PgCatalogSql() {
  const char* user_ns = "n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'";
  return fmt::format(
      "SELECT 'table', n.nspname, c.relname, '', c.relkind::text FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m','f') "
      "AND {0} "
      "UNION ALL SELECT 'column', n.nspname, c.relname, a.attname, "
      "format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' "
      "END || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') FROM pg_attribute a "
      "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
      "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
      "WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r','p','v','m','f') AND {0} "
      "UNION ALL SELECT 'index', n.nspname, t.relname, i.relname, pg_get_indexdef(i.oid) "
      "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON "
      "t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace WHERE {0} "
      "UNION ALL SELECT 'constraint', n.nspname, t.relname, co.conname, "
      "pg_get_constraintdef(co.oid) FROM pg_constraint co JOIN pg_class t ON t.oid = co.conrelid "
      "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE {0}",
      user_ns);
}

std::string ChangeMessage(const std::string& schema, const std::vector<std::string>& changes) {
  std::string msg = fmt::format("schema {}: ", schema);
  for (size_t i = 0; i < changes.size() && i < kMaxMessageChanges; ++i)
    msg += (i ? "; " : "") + changes[i];
  if (changes.size() > kMaxMessageChanges)
    msg += fmt::format("; and {} more", changes.size() - kMaxMessageChanges);
  return msg;
}

SchemaWatch::SchemaWatch(Topology* topology, std::string cluster, SchemaEventFn event,
                         SchemaNodeFactory factory)
    : topology_(topology),
      cluster_(std::move(cluster)),
      event_(std::move(event)),
      factory_(std::move(factory)) {
  counters_.cluster = cluster_;
  if (!factory_) {
    factory_ = [](const NodeOptions& o, const std::string& db) {
      return db.empty() ? MakeNode(o) : MakePgNodeFor(o, db);
    };
  }
}

void SchemaWatch::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void SchemaWatch::Stop() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<SchemaStatus> SchemaWatch::Schemas() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SchemaStatus> out;
  for (const auto& [name, s] : status_) out.push_back(s);
  return out;
}

SchemaWatchCounters SchemaWatch::Counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void SchemaWatch::Loop() {
  log::SetThreadName("schema-" + cluster_);
  int64_t next_due = 0;
  std::unique_lock<std::mutex> lock(wake_mu_);
  while (!stop_) {
    RuntimePtr rt = topology_->Current();
    const Cluster* found = rt ? rt->FindCluster(cluster_) : nullptr;
    int interval = found ? found->schema_watch_interval_ms : 0;
    int64_t now = MonotonicMs();
    if (interval <= 0 || now < next_due) {
      // Off (checked again every second, a LOAD may turn it on) or not due yet.
      int64_t wait = interval <= 0 ? 1000 : std::min<int64_t>(next_due - now, 1000);
      if (interval <= 0) next_due = 0;
      wake_.wait_for(lock, std::chrono::milliseconds(wait), [this] { return stop_; });
      continue;
    }
    lock.unlock();
    int64_t start = MonotonicMs();
    Status st = Round(*found);
    int64_t end = MonotonicMs();
    // Every due time that passed while this round ran is a skipped round.
    int64_t missed = (end - start) / interval;
    next_due = start + (missed + 1) * interval;
    {
      std::lock_guard<std::mutex> c(mu_);
      counters_.skipped += static_cast<uint64_t>(missed);
      if (st.ok()) {
        ++counters_.rounds;
      } else {
        ++counters_.errors;
        if (counters_.last_error != st.message())
          log::Warn("schema watch {}: {}", cluster_, st.message());
        counters_.last_error = st.message();
      }
    }
    lock.lock();
  }
  nodes_.clear();
}

Result<std::vector<CatalogRow>> SchemaWatch::ReadCatalogs(const Cluster& c, const Server& primary) {
  if (primary_ != primary.name()) {
    nodes_.clear();  // a new primary: new connections
    primary_ = primary.name();
  }
  std::vector<std::string> dbs = {""};
  RuntimePtr rt = topology_->Current();
  if (c.protocol == Protocol::kPostgres) dbs = PgDatabases(*rt, c);
  std::vector<CatalogRow> rows;
  for (const std::string& db : dbs) {
    std::unique_ptr<Node>& node = nodes_[db];
    if (!node) {
      NodeOptions o;
      o.protocol = c.protocol;
      o.host = primary.address.empty() ? primary.host : primary.address;
      o.port = primary.port;
      // information_schema lists only what the login may see: the admin login when set.
      o.user = c.admin_user.empty() ? c.monitor_user : c.admin_user;
      o.password = c.admin_user.empty() ? c.monitor_password : c.admin_password;
      o.connect_timeout_ms = 2000;
      o.read_timeout_ms = 30'000;
      o.tls = c.backend_tls;
      node = factory_(o, db);
    }
    std::string sql;
    if (c.protocol == Protocol::kMysql) {
      SLUICE_RETURN_IF_ERROR(node->Exec("SET SESSION group_concat_max_len = 1048576"));
      sql = MysqlCatalogSql(SplitList(c.schema_watch_databases));
    } else {
      sql = PgCatalogSql();
    }
    auto r = node->Query(sql);
    if (!r.ok()) return r.status();
    for (const auto& row : *r) {
      if (row.size() < 5) continue;
      CatalogRow cr;
      cr.what = row[0].value_or("");
      cr.schema = db.empty() ? row[1].value_or("") : db + "." + row[1].value_or("");
      cr.table = row[2].value_or("");
      cr.name = row[3].value_or("");
      cr.definition = row[4].value_or("");
      rows.push_back(std::move(cr));
    }
  }
  return rows;
}

Status SchemaWatch::Round(const Cluster& c) {
  const Server* primary = nullptr;
  for (const Server& s : c.servers)
    if (s.role == ServerRole::kPrimary && s.state == ServerState::kOnline) primary = &s;
  if (!primary) return Unavailable("no ONLINE primary to read the catalogs from");
  auto rows = ReadCatalogs(c, *primary);
  if (!rows.ok()) return rows.status();
  std::map<std::string, SchemaShape> shapes = BuildShapes(*rows);
  int64_t now = NowUnixMs();
  std::vector<std::pair<std::string, std::string>> events;  // schema, message
  std::unique_lock<std::mutex> lock(mu_);
  std::set<std::string> names;
  for (const auto& [n, s] : shapes) names.insert(n);
  for (const auto& [n, s] : shapes_) names.insert(n);
  for (const std::string& name : names) {
    auto after = shapes.find(name);
    auto before = shapes_.find(name);
    SchemaStatus& st = status_[name];
    st.cluster = cluster_;
    st.schema = name;
    st.checked_unix_ms = now;
    std::vector<std::string> changes;
    if (after == shapes.end()) {
      changes.push_back(fmt::format("schema dropped ({} tables)", before->second.size()));
    } else {
      const SchemaShape& shape = after->second;
      st.fingerprint = Fingerprint(shape);
      st.tables = static_cast<int64_t>(shape.size());
      st.columns = st.indexes = 0;
      for (const auto& [t, def] : shape) {
        st.columns += static_cast<int64_t>(def.columns.size());
        st.indexes += static_cast<int64_t>(def.indexes.size());
      }
      if (!have_baseline_) continue;
      if (before == shapes_.end())
        changes.push_back(fmt::format("schema added ({} tables)", shape.size()));
      else if (Fingerprint(before->second) != st.fingerprint)
        changes = DiffSchemas(before->second, shape);
    }
    if (changes.empty()) continue;
    st.changed_unix_ms = now;
    st.last_diff.clear();
    for (const std::string& ch : changes) st.last_diff += (st.last_diff.empty() ? "" : "; ") + ch;
    events.emplace_back(name, ChangeMessage(name, changes));
    ++counters_.changes;
  }
  for (auto it = status_.begin(); it != status_.end();)
    it = shapes.count(it->first) ? std::next(it) : status_.erase(it);
  shapes_ = std::move(shapes);
  have_baseline_ = true;
  lock.unlock();
  for (const auto& [schema, msg] : events) event_("SCHEMA_CHANGED", cluster_, primary->name(), msg);
  return Status::Ok();
}

void SchemaWatchSet::Start() {
  for (const Cluster& c : topology_->config().clusters) {
    watches_.push_back(std::make_unique<SchemaWatch>(topology_, c.name, event_));
    watches_.back()->Start();
  }
}

void SchemaWatchSet::Stop() {
  for (auto& w : watches_) w->Stop();
  watches_.clear();
}

std::vector<SchemaStatus> SchemaWatchSet::Schemas() const {
  std::vector<SchemaStatus> out;
  for (const auto& w : watches_)
    for (SchemaStatus& s : w->Schemas()) out.push_back(std::move(s));
  return out;
}

std::vector<SchemaWatchCounters> SchemaWatchSet::Counters() const {
  std::vector<SchemaWatchCounters> out;
  for (const auto& w : watches_) out.push_back(w->Counters());
  return out;
}

}  // namespace sluice::health
