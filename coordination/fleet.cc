#include "coordination/fleet.h"

#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/log.h"

namespace sluice::coordination {

namespace {
using nlohmann::json;

constexpr int kTickMs = 200;
constexpr int kWatchWaitMs = 1000;

}  // namespace

std::string TopologyKey(const std::string& prefix) {
  return prefix + "/topology";
}
std::string ConfigKey(const std::string& prefix) {
  return prefix + "/config";
}

Fleet::Fleet(const CoordinationSettings& settings, std::string instance, FleetHooks hooks,
             std::unique_ptr<KvStore> store)
    : settings_(settings),
      instance_(std::move(instance)),
      run_(fmt::format("{}-{}", ::getpid(), WallUnixMs())),
      hooks_(std::move(hooks)),
      store_(store ? std::move(store) : std::make_unique<EtcdClient>(settings.etcd)),
      election_(store_.get(), ElectionOptions{settings.prefix, instance_, settings.lease_ttl_s},
                [] { return MonotonicMs(); }),
      steps_(&election_, instance_, hooks_.event, [] { return WallUnixMs(); }) {
  etcd_ = dynamic_cast<EtcdClient*>(store_.get());
}

void Fleet::AbandonHolds() {
  if (!hooks_.clusters) return;
  for (const std::string& cluster : steps_.AbandonHolds(hooks_.clusters()))
    if (hooks_.unpause) hooks_.unpause(cluster);
}

uint64_t Fleet::etcd_errors() const {
  return (etcd_ ? etcd_->errors() : 0) + apply_errors_.load();
}

void Fleet::Start() {
  log::Info("fleet: instance {} joins {} at {} (lease TTL {} s)", instance_, settings_.prefix,
            settings_.etcd, settings_.lease_ttl_s);
  ticker_ = std::thread([this] {
    log::SetThreadName("fleet-tick");
    TickLoop();
  });
  watcher_ = std::thread([this] {
    log::SetThreadName("fleet-watch");
    WatchLoop();
  });
}

void Fleet::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !ticker_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  if (watcher_.joinable()) watcher_.join();
  election_.Resign();
}

bool Fleet::Sleep(int ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_; });
  return !stop_;
}

std::string Fleet::Heartbeat() const {
  return json{{"topology_revision", topology_rev_.load()}, {"config_revision", config_rev_.load()}}
      .dump();
}

void Fleet::TickLoop() {
  bool was_leader = false;
  do {
    election_.Tick(Heartbeat());
    bool connected = election_.connected();
    if (connected != was_connected_) {
      was_connected_ = connected;
      if (hooks_.event)
        hooks_.event(connected ? "FLEET_CONNECTED" : "FLEET_DISCONNECTED", "", "",
                     connected
                         ? "etcd reachable again: rejoined the fleet"
                         : "etcd unreachable: routing on the last topology, no orchestration");
    }
    bool leader = election_.leader();
    if (leader != was_leader) {
      was_leader = leader;
      if (leader) AbandonHolds();
      if (hooks_.event)
        hooks_.event(leader ? "FLEET_LEADER" : "FLEET_FOLLOWER", "", "",
                     leader ? instance_ + " leads the fleet"
                            : instance_ + " follows (leader: " + election_.Leader() + ")");
    }
    if (leader && hooks_.verdict) {
      std::string enc = EncodeTopology(hooks_.verdict());
      std::string last;
      {
        std::lock_guard<std::mutex> lock(mu_);
        last = last_published_;
      }
      if (enc != last) {
        int64_t rev = 0;
        auto put = election_.PutAsLeader(TopologyKey(settings_.prefix), enc, &rev);
        if (put.ok() && *put) {
          std::lock_guard<std::mutex> lock(mu_);
          last_published_ = enc;
          topology_rev_.store(rev);
          log::Info("fleet: published topology revision {}", rev);
          if (hooks_.published) hooks_.published(rev);
        }
      }
    }
  } while (Sleep(kTickMs));
}

void Fleet::WatchLoop() {
  const std::string root = settings_.prefix + "/";
  int64_t next = 0;  // the first revision not seen yet; 0: read everything first
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    if (next == 0) {
      int64_t rev = 0;
      auto all = store_->Range(root, &rev);
      if (!all.ok()) {
        if (!Sleep(500)) return;
        continue;
      }
      for (const KeyValue& kv : *all) Apply(kv);
      next = rev + 1;
      continue;
    }
    auto events = store_->Watch(root, next, kWatchWaitMs);
    if (!events.ok()) {
      next = 0;  // compacted or unreachable: read the whole state again when it answers
      if (!Sleep(500)) return;
      continue;
    }
    for (const WatchEvent& e : *events) {
      if (e.kv.mod_revision >= next) next = e.kv.mod_revision + 1;
      if (!e.deleted) Apply(e.kv);
    }
  }
}

void Fleet::Apply(const KeyValue& kv) {
  if (kv.key == TopologyKey(settings_.prefix)) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (kv.value == last_published_) {
        topology_rev_.store(std::max(topology_rev_.load(), kv.mod_revision));
        return;
      }
    }
    if (election_.leader()) return;  // the leader's own verdict wins over an older one
    auto t = DecodeTopology(kv.value);
    if (!t.ok()) {
      apply_errors_++;
      if (hooks_.event)
        hooks_.event("FLEET_TOPOLOGY_REJECTED", "", "",
                     fmt::format("revision {}: {}", kv.mod_revision, t.status().message()));
      return;
    }
    if (hooks_.apply_topology) hooks_.apply_topology(*t, kv.mod_revision);
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_published_ = kv.value;
    }
    topology_rev_.store(kv.mod_revision);
    log::Info("fleet: applied topology revision {}", kv.mod_revision);
    return;
  }
  if (kv.key == ConfigKey(settings_.prefix)) {
    // A re-read after an outage sees the same revision again: judged once.
    if (kv.mod_revision <= config_seen_) return;
    config_seen_ = kv.mod_revision;
    json j = json::parse(kv.value, nullptr, false);
    std::string origin = j.is_object() ? j.value("origin", "") : "";
    if (j.is_object() && j.value("run", "") == run_) {  // LOADed here: already our runtime
      config_rev_.store(kv.mod_revision);
      return;
    }
    Status st = !j.is_object() || !j.contains("tables")
                    ? InvalidArgument("not a JSON object with \"tables\"")
                    : (hooks_.apply_config ? hooks_.apply_config(j["tables"].dump())
                                           : Internal("no config hook"));
    if (!st.ok()) {
      apply_errors_++;
      if (hooks_.event)
        hooks_.event(
            "FLEET_CONFIG_REJECTED", "", "",
            fmt::format("config revision {} from {} not applied, previous runtime kept: {}",
                        kv.mod_revision, origin, st.message()));
      return;
    }
    config_rev_.store(kv.mod_revision);
    if (hooks_.event)
      hooks_.event("FLEET_CONFIG", "", "",
                   fmt::format("applied config revision {} from {}", kv.mod_revision, origin));
  }
}

Status Fleet::PublishConfig(const std::string& tables_json) {
  json tables = json::parse(tables_json, nullptr, false);
  if (tables.is_discarded()) return Internal("config export is not JSON");
  json doc{{"origin", instance_}, {"run", run_}, {"unix_ms", WallUnixMs()}, {"tables", tables}};
  auto rev = store_->Put(ConfigKey(settings_.prefix), doc.dump(), 0);
  if (!rev.ok()) return rev.status();
  config_rev_.store(*rev);
  return Status::Ok();
}

std::vector<FleetInstance> Fleet::Instances() {
  std::vector<FleetInstance> out;
  auto all = store_->Range(settings_.prefix + "/instances/", nullptr);
  std::string leader = election_.Leader();
  int64_t now = WallUnixMs();
  bool self_seen = false;
  if (all.ok()) {
    for (const KeyValue& kv : *all) {
      json j = json::parse(kv.value, nullptr, false);
      if (!j.is_object()) continue;
      FleetInstance f;
      f.instance = j.value("instance", "");
      f.heartbeat_age_ms = now - j.value("unix_ms", int64_t{0});
      f.leader = f.instance == leader;
      json info = j.value("info", json::object());
      if (info.is_object()) {
        f.topology_revision = info.value("topology_revision", int64_t{0});
        f.config_revision = info.value("config_revision", int64_t{0});
      }
      f.self = f.instance == instance_;
      if (f.self) {  // our own figures are newer than our last heartbeat
        f.topology_revision = topology_rev_.load();
        f.config_revision = config_rev_.load();
        f.leader = election_.leader();
        self_seen = true;
      }
      out.push_back(f);
    }
  }
  if (!self_seen) {
    FleetInstance f;
    f.instance = instance_;
    f.leader = election_.leader();
    f.topology_revision = topology_rev_.load();
    f.config_revision = config_rev_.load();
    f.self = true;
    out.push_back(f);
  }
  return out;
}

}  // namespace sluice::coordination
