#include "admin/readiness.h"

#include <fmt/format.h>

namespace sluice {

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string Readiness::Json() const {
  std::string out = fmt::format("{{\"status\":\"{}\",\"reason\":{},\"clusters\":[",
                                ready ? "ready" : "not_ready", JsonString(reason));
  for (size_t i = 0; i < clusters.size(); ++i) {
    const ClusterReadiness& c = clusters[i];
    out +=
        fmt::format("{}{{\"name\":{},\"ready\":{},\"state\":\"{}\",\"primary\":{},\"reason\":{}}}",
                    i ? "," : "", JsonString(c.name), c.ready ? "true" : "false", c.state,
                    JsonString(c.primary), JsonString(c.reason));
  }
  return out + "]}\n";
}

Readiness CheckReadiness(const Runtime& rt, bool accepting, int64_t now_ms, HoldSince* holds) {
  Readiness r;
  r.ready = accepting;
  if (!accepting) r.reason = "not accepting connections (starting or draining)";
  for (const Cluster& c : rt.clusters) {
    ClusterReadiness cr;
    cr.name = c.name;
    std::string seen;  // what the primary row says when it is not writable
    for (const Server& s : c.servers) {
      if (s.role != ServerRole::kPrimary || s.hostgroup != c.writer_hostgroup) continue;
      if (s.state == ServerState::kOnline) {
        cr.primary = s.name();
      } else {
        seen = fmt::format("{} is {}", s.name(), StateName(s.state));
      }
    }
    if (!c.writes_paused) holds->erase(c.name);
    if (c.writes_paused) {
      int64_t since = holds->emplace(c.name, now_ms).first->second;
      int64_t held = now_ms - since;
      if (held <= c.write_hold_timeout_ms) {
        cr.ready = true;
        cr.state = "hold";
        cr.reason = fmt::format("writes held for {} ms of at most {} ms (failover or switchover)",
                                held, c.write_hold_timeout_ms);
      } else {
        cr.state = "no_primary";
        cr.reason = fmt::format("writes held for {} ms, longer than write_hold_timeout_ms {}", held,
                                c.write_hold_timeout_ms);
      }
    } else if (!cr.primary.empty()) {
      cr.ready = true;
      cr.state = "primary";
    } else {
      cr.state = "no_primary";
      cr.reason =
          seen.empty() ? "no primary configured or discovered" : "no writable primary: " + seen;
    }
    if (!cr.ready && r.ready) {
      r.ready = false;
      r.reason = fmt::format("cluster {}: {}", c.name, cr.reason);
    }
    r.clusters.push_back(std::move(cr));
  }
  return r;
}

}  // namespace sluice
