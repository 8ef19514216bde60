#include "routing/balancer.h"

namespace sluice::routing {
namespace {

int64_t Outstanding(std::span<const int> outstanding, size_t i) {
  return i < outstanding.size() && outstanding[i] > 0 ? outstanding[i] : 0;
}

// a/wa < b/wb without division.
bool LessLoaded(int64_t a, int64_t wa, int64_t b, int64_t wb) {
  return a * wb < b * wa;
}

// xorshift64* (Vigna): a fast per-worker generator; *state is the worker's own word.
uint64_t NextRandom(uint64_t* state) {
  uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return (x * 0x2545F4914F6CDD1Dull) >> 11;
}

}  // namespace

bool ServerUsable(const Server& s, int hostgroup) {
  if (s.hostgroup != hostgroup || s.state != ServerState::kOnline || s.weight <= 0 ||
      s.ramp_permille <= 0)
    return false;
  return s.role == ServerRole::kPrimary || s.lag_ms <= s.max_lag_ms;
}

int PickServer(const Cluster& c, int hostgroup, std::span<const int> outstanding,
               uint64_t* rr_cursor, uint64_t avoid) {
  // A ramping server (a joining replica, ramp_permille < 1000) takes part in a pick with
  // probability ramp_permille/1000: least-outstanding alone would hand an idle newcomer
  // every statement whatever its weight. Servers past the 64th are never held back.
  uint64_t held = 0;
  bool others = false;
  auto avoided = [avoid](size_t i) { return i < 64 && (avoid >> i) & 1; };
  for (size_t i = 0; i < c.servers.size(); ++i) {
    const Server& s = c.servers[i];
    if (!ServerUsable(s, hostgroup) || avoided(i)) continue;
    if (s.ramp_permille >= 1000 || i >= 64 ||
        static_cast<int>(NextRandom(rr_cursor) % 1000) < s.ramp_permille) {
      others = true;
    } else {
      held |= uint64_t{1} << i;
    }
  }
  if (!others) held = 0;  // only ramping servers left: they take it
  auto usable = [&](size_t i) {
    return ServerUsable(c.servers[i], hostgroup) && !avoided(i) && !(i < 64 && (held >> i) & 1);
  };
  // Pass 1: the least load and the total weight of the servers that share it.
  int best = -1;
  int64_t tied_weight = 0;
  for (size_t i = 0; i < c.servers.size(); ++i) {
    const Server& s = c.servers[i];
    if (!usable(i)) continue;
    if (best < 0 ||
        LessLoaded(Outstanding(outstanding, i), s.effective_weight(),
                   Outstanding(outstanding, best), c.servers[best].effective_weight())) {
      best = static_cast<int>(i);
      tied_weight = s.effective_weight();
    } else if (!LessLoaded(Outstanding(outstanding, best), c.servers[best].effective_weight(),
                           Outstanding(outstanding, i), s.effective_weight())) {
      tied_weight += s.effective_weight();
    }
  }
  if (best < 0) return -1;
  // Pass 2: a random slot among the tied servers, each owning `weight` slots. Random, not
  // round-robin: a strict rotation falls into step with clients that send a fixed number
  // of reads per connection (two replicas, two reads each: one replica gets them all).
  int64_t slot = static_cast<int64_t>(NextRandom(rr_cursor) % static_cast<uint64_t>(tied_weight));
  const int64_t best_load = Outstanding(outstanding, best);
  const int64_t best_weight = c.servers[best].effective_weight();
  for (size_t i = 0; i < c.servers.size(); ++i) {
    const Server& s = c.servers[i];
    if (!usable(i)) continue;
    int64_t load = Outstanding(outstanding, i);
    const int64_t w = s.effective_weight();
    if (LessLoaded(load, w, best_load, best_weight) || LessLoaded(best_load, best_weight, load, w))
      continue;
    if (slot < w) return static_cast<int>(i);
    slot -= w;
  }
  return best;  // unreachable: the tied weights add up to tied_weight
}

namespace {
RouteDecision RouteAvoiding(const Cluster& c, const RouteInput& in, uint64_t avoid,
                            uint64_t* rr_cursor);
}  // namespace

RouteDecision Route(const Cluster& c, const RouteInput& in, uint64_t* rr_cursor) {
  if (in.avoid != 0) {
    // First without the servers that just failed (another replica, or the writer for a read
    // when reader_fallback_to_writer); them only when nothing else can take it.
    RouteDecision d = RouteAvoiding(c, in, in.avoid, rr_cursor);
    if (d.server >= 0) return d;
  }
  return RouteAvoiding(c, in, 0, rr_cursor);
}

namespace {
RouteDecision RouteAvoiding(const Cluster& c, const RouteInput& in, uint64_t avoid,
                            uint64_t* rr_cursor) {
  RouteDecision d;
  if (in.in_transaction && in.transaction_server >= 0 &&
      static_cast<size_t>(in.transaction_server) < c.servers.size()) {
    d.server = in.transaction_server;
    d.hostgroup = c.servers[d.server].hostgroup;
    return d;
  }
  const bool recent_write = c.read_your_writes_ms > 0 && in.last_write_ms >= 0 &&
                            in.now_ms - in.last_write_ms < c.read_your_writes_ms;
  const bool read =
      in.kind == StatementKind::kRead && (!in.in_transaction || in.read_only_transaction);
  const bool causal = read && in.causal_needed;
  const bool causal_to_writer = causal && (!in.causal_known || in.causal_failed);
  if (in.rule_hostgroup >= 0) {
    d.hostgroup = in.rule_hostgroup;
  } else if (read && !recent_write && !causal_to_writer) {
    d.hostgroup = c.reader_hostgroup;
  } else {
    d.hostgroup = c.writer_hostgroup;
    d.kept_for_consistency = read && !recent_write;
  }
  d.server = PickServer(c, d.hostgroup, in.outstanding, rr_cursor, avoid);
  // A query rule may send a causal read to replicas too: it is checked there, or (position
  // unknown, check failed) it takes the writer after all.
  if (causal && d.server >= 0 && c.servers[d.server].role == ServerRole::kReplica) {
    if (causal_to_writer) {
      d.hostgroup = c.writer_hostgroup;
      d.kept_for_consistency = true;
      d.server = PickServer(c, d.hostgroup, in.outstanding, rr_cursor, avoid);
    } else {
      d.causal_check = true;
    }
  }
  if (d.server < 0 && d.hostgroup == c.reader_hostgroup &&
      c.reader_hostgroup != c.writer_hostgroup && c.reader_fallback_to_writer) {
    d.hostgroup = c.writer_hostgroup;
    d.fell_back = true;
    d.server = PickServer(c, d.hostgroup, in.outstanding, rr_cursor, avoid);
  }
  if (d.server < 0) d.error = "no usable server in the destination hostgroup";
  return d;
}
}  // namespace

}  // namespace sluice::routing
