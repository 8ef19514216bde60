#include "health/pg_standby.h"

#include <libpq-fe.h>

#include <cstring>

#include "common/host_port.h"

namespace sluice::health {

std::optional<std::string> PgStandbyAddress(std::string_view application_name) {
  std::string host;
  uint16_t port = 0;
  if (!ParseHostPort(application_name, &host, &port)) return std::nullopt;
  return host + ":" + std::to_string(port);
}

std::string PgConninfoValue(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string PgConninfoApplicationName(const std::string& conninfo) {
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), nullptr);
  if (!opts) return "";
  std::string name;
  for (PQconninfoOption* o = opts; o->keyword; ++o)
    if (std::strcmp(o->keyword, "application_name") == 0 && o->val) name = o->val;
  PQconninfoFree(opts);
  return name;
}

}  // namespace sluice::health
