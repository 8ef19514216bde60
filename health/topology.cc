#include "health/topology.h"

#include <memory>

namespace sluice::health {

namespace {

bool OperatorOffline(ServerState s) {
  return s == ServerState::kOfflineSoft || s == ServerState::kOfflineHard;
}

void Apply(const Cluster& c, const ServerOverlay& o, Server* s) {
  if (o.role) {
    s->role = *o.role;
    s->hostgroup = *o.role == ServerRole::kPrimary ? c.writer_hostgroup : c.reader_hostgroup;
  }
  s->lag_ms = o.lag_ms;
  s->address = o.address;
  s->ramp_permille = o.ramp_permille;
  if (OperatorOffline(s->state)) return;
  if (o.fenced)
    s->state = ServerState::kOfflineHard;
  else if (o.state)
    s->state = *o.state;
}

}  // namespace

Runtime Compose(const Runtime& config, const Overlay& overlay) {
  Runtime out = config;
  out.topology_revision = overlay.fleet_revision;
  for (Cluster& c : out.clusters) {
    auto it = overlay.clusters.find(c.name);
    if (it == overlay.clusters.end()) continue;
    const ClusterOverlay& co = it->second;
    c.writes_paused = co.writes_paused;
    for (Server& s : c.servers) {
      auto so = co.servers.find(s.name());
      if (so != co.servers.end()) Apply(c, so->second, &s);
    }
    for (const auto& [name, so] : co.servers) {
      if (!so.discovered) continue;
      bool configured = false;
      for (const Server& s : config.FindCluster(c.name)->servers)
        configured = configured || s.name() == name;
      if (configured) continue;
      Server s = *so.discovered;
      Apply(c, so, &s);
      c.servers.push_back(std::move(s));
    }
  }
  return out;
}

void Topology::SetConfig(Runtime config) {
  std::lock_guard<std::mutex> lock(mu_);
  config_ = std::move(config);
  has_config_ = true;
  PublishLocked();
}

void Topology::Update(const std::function<bool(Overlay*)>& edit) {
  std::lock_guard<std::mutex> lock(mu_);
  if (edit(&overlay_) && has_config_) PublishLocked();
}

Runtime Topology::config() const {
  std::lock_guard<std::mutex> lock(mu_);
  return config_;
}

Overlay Topology::overlay() const {
  std::lock_guard<std::mutex> lock(mu_);
  return overlay_;
}

void Topology::PublishLocked() {
  Runtime next = Compose(config_, overlay_);
  RuntimePtr cur = holder_->Load();
  next.version = (cur ? cur->version : 0) + 1;
  holder_->Publish(std::make_shared<const Runtime>(std::move(next)));
}

}  // namespace sluice::health
