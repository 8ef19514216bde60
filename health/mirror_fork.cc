#include "health/mirror_fork.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "common/clock.h"
#include "health/positions.h"
#include "routing/causal.h"

namespace sluice::health {
namespace {

const Server* PrimaryOf(const Cluster& c) {
  for (const Server& s : c.servers)
    if (s.role == ServerRole::kPrimary) return &s;
  return nullptr;
}

// The failover login of C (admin_user, else the monitor's), as failover uses it.
NodeOptions OptionsFor(const Cluster& c, const Server& s) {
  NodeOptions o;
  o.protocol = c.protocol;
  o.host = s.address.empty() ? s.host : s.address;
  o.port = s.port;
  o.user = c.admin_user.empty() ? c.monitor_user : c.admin_user;
  o.password = c.admin_user.empty() ? c.monitor_password : c.admin_password;
  o.connect_timeout_ms = 2000;
  o.read_timeout_ms = 5000;
  o.tls = c.backend_tls;
  return o;
}

// Where the copy starts, as the engine writes it: a PostgreSQL LSN ("16/B374D848"), else the
// position's streams (MariaDB: domain:sequence per GTID domain).
std::string ForkPositionText(Protocol protocol, const Position& pos) {
  if (protocol != Protocol::kPostgres || pos.size() != 1 || pos.begin()->first != 0)
    return PositionText(pos);
  routing::CausalPosition lsn;
  lsn.MergeLsn(pos.begin()->second);
  return lsn.LsnText();
}

}  // namespace

Result<std::string> ForkShadow(const Runtime& rt, const MirrorConfig& m,
                               const MirrorSwitchOn& switch_on, const ForkHooks& hooks) {
  const Cluster* src = rt.FindCluster(m.source);
  const Cluster* sh = rt.FindCluster(m.shadow);
  if (!src || !sh) return NotFound("the mirror's clusters are not in the snapshot");
  const Server* sp = PrimaryOf(*src);
  const Server* hp = PrimaryOf(*sh);
  if (!sp || !hp) return Unavailable("the source or the shadow has no primary configured");
  std::unique_ptr<Node> shadow = hooks.make_node(OptionsFor(*sh, *hp));
  auto check = shadow->Check();
  if (!check.ok())
    return Unavailable(fmt::format("shadow {}: {}", hp->name(), check.status().message()));
  if (!check->replicating) {
    SLUICE_RETURN_IF_ERROR(switch_on(""));
    return std::string("the shadow is independent: mirroring is on");
  }
  // The shadow is a replica: fork it at a position no write of the source passes.
  SLUICE_RETURN_IF_ERROR(hooks.pause_writes(m.source, true));
  hooks.event(fmt::format("mirror {}: writes of {} held", m.name, m.source));
  auto fail = [&](Status st) -> Result<std::string> {
    Status released = hooks.pause_writes(m.source, false);
    (void)released;  // the fork's error is the one reported
    hooks.event(fmt::format("mirror {}: writes of {} released, fork aborted: {}", m.name, m.source,
                            st.message()));
    return st;
  };
  std::unique_ptr<Node> primary = hooks.make_node(OptionsFor(*src, *sp));
  int64_t deadline = MonotonicMs() + hooks.timeout_ms;
  // Statements sent before the hold still commit: wait until the position stops moving.
  Position pos;
  for (;;) {
    auto c = primary->Check();
    if (!c.ok())
      return fail(
          Unavailable(fmt::format("source primary {}: {}", sp->name(), c.status().message())));
    if (c->written == pos && !pos.empty()) break;
    pos = c->written;
    if (MonotonicMs() > deadline)
      return fail(Unavailable("the source's position kept moving with its writes held"));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const std::string at = ForkPositionText(src->protocol, pos);
  hooks.event(fmt::format("mirror {}: source position {}", m.name, at));
  int64_t left = deadline - MonotonicMs();
  if (Status st = shadow->WaitApplied(pos, static_cast<int>(left > 1000 ? left : 1000)); !st.ok())
    return fail(
        Unavailable(fmt::format("shadow {} did not apply {}: {}", hp->name(), at, st.message())));
  hooks.event(fmt::format("mirror {}: shadow {} applied {}", m.name, hp->name(), at));
  auto applied = shadow->Check();
  if (!applied.ok()) return fail(applied.status());
  if (Status st = shadow->Promote(*applied); !st.ok())
    return fail(Unavailable(fmt::format("detaching shadow {}: {}", hp->name(), st.message())));
  hooks.event(fmt::format("mirror {}: shadow {} detached", m.name, hp->name()));
  if (Status st = switch_on(at); !st.ok()) return fail(st);
  SLUICE_RETURN_IF_ERROR(hooks.pause_writes(m.source, false));
  return fmt::format("shadow {} forked at {} (writes held meanwhile): mirroring is on", hp->name(),
                     at);
}

}  // namespace sluice::health
