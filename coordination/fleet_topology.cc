#include "coordination/fleet_topology.h"

#include <nlohmann/json.hpp>

namespace sluice::coordination {

namespace {
using nlohmann::json;

const char* Role(ServerRole r) {
  return r == ServerRole::kPrimary ? "primary" : "replica";
}
ServerRole RoleOf(const std::string& s) {
  return s == "primary" ? ServerRole::kPrimary : ServerRole::kReplica;
}
}  // namespace

bool operator==(const FleetServer& a, const FleetServer& b) {
  auto same_row = [](const std::optional<Server>& x, const std::optional<Server>& y) {
    if (x.has_value() != y.has_value()) return false;
    if (!x) return true;
    return x->host == y->host && x->port == y->port && x->role == y->role &&
           x->hostgroup == y->hostgroup && x->weight == y->weight &&
           x->max_connections == y->max_connections && x->max_lag_ms == y->max_lag_ms;
  };
  return a.role == b.role && a.fenced == b.fenced && same_row(a.discovered, b.discovered);
}

std::string EncodeTopology(const FleetTopology& t) {
  json clusters = json::object();
  for (const auto& [name, c] : t.clusters) {
    json servers = json::object();
    for (const auto& [hp, s] : c.servers) {
      json js{{"fenced", s.fenced}};
      if (s.role) js["role"] = Role(*s.role);
      if (s.discovered) {
        const Server& d = *s.discovered;
        js["discovered"] = {{"host", d.host},
                            {"port", d.port},
                            {"role", Role(d.role)},
                            {"hostgroup", d.hostgroup},
                            {"weight", d.weight},
                            {"max_connections", d.max_connections},
                            {"max_lag_ms", d.max_lag_ms}};
      }
      servers[hp] = js;
    }
    clusters[name] = {{"writes_paused", c.writes_paused}, {"servers", servers}};
  }
  return json{{"clusters", clusters}}.dump();
}

Result<FleetTopology> DecodeTopology(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("clusters") || !j["clusters"].is_object())
    return InvalidArgument("topology: not a JSON object with \"clusters\"");
  FleetTopology t;
  try {
    const json& clusters = j["clusters"];
    for (auto ci = clusters.begin(); ci != clusters.end(); ++ci) {
      const json& c = ci.value();
      FleetCluster& fc = t.clusters[ci.key()];
      fc.writes_paused = c.value("writes_paused", false);
      if (!c.contains("servers") || !c["servers"].is_object()) continue;
      const json& servers = c["servers"];
      for (auto si = servers.begin(); si != servers.end(); ++si) {
        const json& s = si.value();
        FleetServer& fs = fc.servers[si.key()];
        fs.fenced = s.value("fenced", false);
        if (s.contains("role")) fs.role = RoleOf(s["role"].get<std::string>());
        if (s.contains("discovered")) {
          const json& d = s["discovered"];
          Server row;
          row.host = d.at("host").get<std::string>();
          row.port = d.at("port").get<uint16_t>();
          row.role = RoleOf(d.value("role", "replica"));
          row.hostgroup = d.value("hostgroup", 1);
          row.weight = d.value("weight", 1);
          row.max_connections = d.value("max_connections", 50);
          row.max_lag_ms = d.value("max_lag_ms", 10000);
          fs.discovered = row;
        }
      }
    }
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("topology: ") + e.what());
  }
  return t;
}

}  // namespace sluice::coordination
