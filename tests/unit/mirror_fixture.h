// The shadow tests' runtime: cluster "shadow" (one primary on 10.0.1.1, no listen) and mirror
// m1 from the harness's cluster "app" to it, switched on.
#pragma once

#include <cstdint>
#include <string_view>

#include "mirror/partial.h"

#include "routing/runtime.h"

namespace sluice::testing {

inline void AddShadowMirror(Runtime* rt, Protocol protocol, uint16_t port, int queue_statements,
                            double exposure = 1.0) {
  Cluster c;
  c.name = "shadow";
  c.protocol = protocol;
  c.writer_hostgroup = 10;
  c.reader_hostgroup = 11;
  Server p;
  p.host = "10.0.1.1";
  p.port = port;
  p.role = ServerRole::kPrimary;
  p.hostgroup = 10;
  c.servers = {p};
  rt->clusters.push_back(c);
  MirrorConfig m;
  m.name = "m1";
  m.source = "app";
  m.shadow = "shadow";
  m.exposure = exposure;
  m.enabled = true;
  m.queue_statements = queue_statements;
  rt->mirrors.push_back(m);
}

// The digest of A whose text is TEXT, or nullptr.
inline const mirror::DigestAgg* DigestOf(const mirror::MirrorAgg& a, std::string_view text) {
  for (const auto& [_, d] : a.digests)
    if (d.digest_text == text) return &d;
  return nullptr;
}

}  // namespace sluice::testing
