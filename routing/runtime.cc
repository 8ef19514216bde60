#include "routing/runtime.h"

namespace sluice {

const char* ProtocolName(Protocol p) {
  return p == Protocol::kMysql ? "mysql" : "postgresql";
}
const char* RoleName(ServerRole r) {
  return r == ServerRole::kPrimary ? "primary" : "replica";
}
const char* PoolModeName(PoolMode m) {
  return m == PoolMode::kSession ? "session" : "transaction";
}
const char* ConsistencyName(Consistency c) {
  switch (c) {
    case Consistency::kEventual:
      return "eventual";
    case Consistency::kSession:
      return "session";
    case Consistency::kGlobal:
      return "global";
  }
  return "?";
}
bool ParseConsistency(std::string_view text, Consistency* out) {
  for (Consistency c : {Consistency::kEventual, Consistency::kSession, Consistency::kGlobal})
    if (text == ConsistencyName(c)) return *out = c, true;
  return false;
}
const char* BackendTlsModeName(BackendTlsMode m) {
  switch (m) {
    case BackendTlsMode::kDisable:
      return "disable";
    case BackendTlsMode::kPrefer:
      return "prefer";
    case BackendTlsMode::kRequire:
      return "require";
    case BackendTlsMode::kVerifyCa:
      return "verify-ca";
    case BackendTlsMode::kVerifyFull:
      return "verify-full";
  }
  return "?";
}
const char* MirrorModeName(MirrorMode m) {
  return m == MirrorMode::kAll ? "all" : "reads";
}
const char* StateName(ServerState s) {
  switch (s) {
    case ServerState::kOnline:
      return "ONLINE";
    case ServerState::kShunned:
      return "SHUNNED";
    case ServerState::kOfflineSoft:
      return "OFFLINE_SOFT";
    case ServerState::kOfflineHard:
      return "OFFLINE_HARD";
  }
  return "?";
}

std::string DefaultAuthQuery(Protocol p) {
  if (p == Protocol::kPostgres) return "SELECT usename, passwd FROM pg_shadow WHERE usename = $1";
  return "SELECT plugin, authentication_string FROM mysql.user WHERE user = ?";
}

const Cluster* Runtime::FindCluster(const std::string& name) const {
  for (const auto& c : clusters)
    if (c.name == name) return &c;
  return nullptr;
}

const MirrorConfig* Runtime::MirrorOfSource(std::string_view cluster) const {
  for (const auto& m : mirrors)
    if (m.source == cluster) return &m;
  return nullptr;
}

const MirrorConfig* Runtime::FindMirror(std::string_view name) const {
  for (const auto& m : mirrors)
    if (m.name == name) return &m;
  return nullptr;
}

int Cluster::HostgroupOf(std::string_view host, uint16_t port) const {
  for (const Server& s : servers)
    if (s.port == port && s.host == host) return s.hostgroup;
  return -1;
}

const User* Runtime::FindUser(const std::string& cluster, const std::string& name) const {
  for (const auto& u : users)
    if (u.name == name && u.cluster == cluster) return &u;
  return nullptr;
}

}  // namespace sluice
