// AdminService's part of a fleet's config (coordination/): a LOAD's tables exported as JSON,
// and another instance's export validated and applied as one LOAD.
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "admin/admin_service.h"
#include "admin/admin_tables.h"

namespace sluice {

namespace {
using nlohmann::json;

// At most this many rows per table travel through etcd (its default request limit is 1.5 MiB).
constexpr size_t kMaxFleetRows = 10000;
}  // namespace

Result<std::string> AdminService::ExportTables(unsigned groups) {
  std::lock_guard<std::mutex> lock(mu_);
  return ExportTablesLocked(groups);
}

Result<std::string> AdminService::ExportTablesLocked(unsigned groups) {
  json tables = json::object();
  for (const std::string& t : TablesOf(groups)) {
    auto r = db_.Run("SELECT * FROM main." + t);
    if (!r.ok()) return r.status();
    if (r->rows.size() > kMaxFleetRows)
      return InvalidArgument(fmt::format("{}: {} rows, more than the {} a fleet config carries", t,
                                         r->rows.size(), kMaxFleetRows));
    json rows = json::array();
    for (const SqlRow& row : r->rows) {
      json jr = json::array();
      for (const SqlValue& v : row) jr.push_back(v ? json(*v) : json(nullptr));
      rows.push_back(jr);
    }
    tables[t] = {{"columns", r->columns}, {"rows", rows}};
  }
  return json{{"groups", groups}, {"tables", tables}}.dump();
}

Status AdminService::ApplyFleetTables(const std::string& tables_json) {
  std::lock_guard<std::mutex> lock(mu_);
  json doc = json::parse(tables_json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("tables") ||
      !doc["groups"].is_number_unsigned())
    return InvalidArgument("fleet config: expected {\"groups\":N,\"tables\":{...}}");
  unsigned groups = doc["groups"].get<unsigned>() & kGroupAll;
  // A scratch schema holds the rows while they are converted and validated; main is only
  // written once the runtime was published.
  (void)db_.Run("DETACH DATABASE fleet");
  SLUICE_RETURN_IF_ERROR(db_.Run("ATTACH DATABASE ':memory:' AS fleet").status());
  SLUICE_RETURN_IF_ERROR(db_.Run(ConfigSchemaSql("fleet", false)).status());
  try {
    for (const std::string& t : TablesOf(groups)) {
      const json& jt = doc["tables"].at(t);
      std::vector<std::string> cols = jt.at("columns").get<std::vector<std::string>>();
      std::string names, marks;
      for (size_t i = 0; i < cols.size(); ++i) {
        names += fmt::format("{}\"{}\"", i ? "," : "", cols[i]);
        marks += fmt::format("{}?{}", i ? "," : "", i + 1);
      }
      const json& rows = jt.at("rows");
      if (rows.size() > kMaxFleetRows)
        return InvalidArgument(fmt::format("fleet config: {} has too many rows", t));
      for (const json& row : rows) {
        std::vector<SqlValue> values;
        for (const json& v : row)
          values.push_back(v.is_null() ? SqlValue() : SqlValue(v.get<std::string>()));
        if (values.size() != cols.size())
          return InvalidArgument(fmt::format("fleet config: {}: a row of {} values for {} columns",
                                             t, values.size(), cols.size()));
        SLUICE_RETURN_IF_ERROR(
            db_.Run(fmt::format("INSERT INTO fleet.{} ({}) VALUES ({})", t, names, marks), values)
                .status());
      }
    }
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("fleet config: ") + e.what());
  }
  Status st = LoadFrom("fleet", groups);
  (void)db_.Run("DETACH DATABASE fleet");
  return st;
}

}  // namespace sluice
