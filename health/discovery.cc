// Discovery: replicas the primary reports (or the cluster's `discovery` list names) that
// are not configured join the reader hostgroup once caught up; discovered ones that leave
// are drained (OFFLINE_SOFT) for a few rounds, then removed.
#include <set>

#include "common/log.h"
#include "common/split.h"
#include "health/cluster_monitor.h"

namespace sluice::health {

namespace {

// A discovered replica that left is drained this many intervals before it is removed.
constexpr int kDrainIntervals = 5;

bool SplitHostPort(const std::string& hp, std::string* host, uint16_t* port) {
  size_t colon = hp.rfind(':');
  if (colon == std::string::npos) return false;
  int p = std::atoi(hp.c_str() + colon + 1);
  if (p <= 0 || p > 65535) return false;
  *host = hp.substr(0, colon);
  *port = static_cast<uint16_t>(p);
  return true;
}

}  // namespace

void ClusterMonitor::Discover(const Cluster& c, const NodeCheck* primary_check) {
  std::set<std::string> allow;
  for (const std::string& h : SplitList(c.discovery_allow)) allow.insert(h);
  std::set<std::string> seen(primary_check->replicas.begin(), primary_check->replicas.end());
  for (const std::string& hp : SplitList(c.discovery)) seen.insert(hp);
  std::set<std::string> known;
  for (const Server& s : c.servers) known.insert(s.name());
  // A server another cluster lists is that cluster's: a mirror's shadow made with
  // add-replica replicates from this primary until MIRROR START detaches it.
  if (RuntimePtr rt = owner_->topology_->Current())
    for (const Cluster& other : rt->clusters)
      if (other.name != c.name)
        for (const Server& s : other.servers) known.insert(s.name());
  const Server* tmpl = nullptr;
  for (const Server& s : c.servers)
    if (s.role == ServerRole::kReplica) tmpl = &s;

  for (const std::string& hp : seen) {
    if (known.count(hp)) continue;
    Server s;
    if (!SplitHostPort(hp, &s.host, &s.port)) continue;
    if (!allow.count(s.host)) {
      log::Debug("cluster {}: discovery ignores {} (not in discovery_allow)", name_, hp);
      continue;
    }
    ServerWatch& w = Watch(c, s);
    auto k = w.node->Check();
    if (!k.ok() || k->is_primary || !k->replicating || !k->replication_error.empty()) continue;
    // Positions, not LagOf(): a replica that has not reported a lag yet measures 0 there.
    if (primary_check->written.empty() || Behind(k->applied, primary_check->written) > 0) {
      log::Debug("cluster {}: discovered {} is not caught up yet", name_, hp);
      continue;
    }
    // Its first round check is the next round's: without this one, the "left" pass below
    // would drain it at once.
    w.last = *k;
    s.role = ServerRole::kReplica;
    s.hostgroup = c.reader_hostgroup;
    if (tmpl) {
      s.weight = tmpl->weight;
      s.max_connections = tmpl->max_connections;
      s.max_lag_ms = tmpl->max_lag_ms;
    }
    s.state = ServerState::kOnline;
    owner_->topology_->Update([&](Overlay* o) {
      ServerOverlay& so = o->clusters[name_].servers[hp];
      so = ServerOverlay{};
      so.discovered = s;
      so.state = ServerState::kOnline;
      return true;
    });
    Event("SERVER_DISCOVERED", hp, "caught-up replica added to the reader hostgroup");
  }

  // Discovered servers that left: drained, then removed.
  Overlay ov = owner_->topology_->overlay();
  for (const auto& [hp, so] : ov.clusters[name_].servers) {
    if (!so.discovered) continue;
    ServerWatch& w = watch_[hp];
    bool present = seen.count(hp) && w.last.has_value();
    if (present) {
      if (w.missing_rounds > 0) {
        w.missing_rounds = 0;
        owner_->topology_->Update([&, &hp = hp](Overlay* o) {
          o->clusters[name_].servers[hp].state = ServerState::kOnline;
          return true;
        });
      }
      continue;
    }
    if (++w.missing_rounds == 1) {
      owner_->topology_->Update([&, &hp = hp](Overlay* o) {
        o->clusters[name_].servers[hp].state = ServerState::kOfflineSoft;
        return true;
      });
      Event("SERVER_DRAINING", hp, "discovered replica left: OFFLINE_SOFT");
    } else if (w.missing_rounds > kDrainIntervals) {
      owner_->topology_->Update([&, &hp = hp](Overlay* o) {
        o->clusters[name_].servers.erase(hp);
        return true;
      });
      watch_.erase(hp);
      Event("SERVER_REMOVED", hp, "discovered replica removed after its drain");
    }
  }
}

}  // namespace sluice::health
