#include "admin/event_log.h"

#include <chrono>

#include "common/log.h"

namespace sluice {

void EventLog::Append(std::string_view kind, std::string_view cluster, std::string_view server,
                      std::string_view message) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  Event e{std::chrono::duration_cast<std::chrono::milliseconds>(now).count(), std::string(kind),
          std::string(cluster), std::string(server), std::string(message)};
  log::Info("event {} cluster={} server={}: {}", kind, cluster.empty() ? "-" : cluster,
            server.empty() ? "-" : server, message);
  std::function<void(const Event&)> listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ring_.size() == capacity_) ring_.pop_front();
    ring_.push_back(e);
    ++total_;
    listener = listener_;
  }
  if (listener) listener(e);
}

void EventLog::SetListener(std::function<void(const Event&)> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listener_ = std::move(listener);
}

const std::vector<std::string_view>& EventKinds() {
  static const std::vector<std::string_view> kinds = {
      // admin/
      "LOAD", "SERVER_ADDED", "STATE", "REJECTED", "RELOAD", "RELOAD_FAILED", "PAUSE", "RESUME",
      "SHUTDOWN", "MIRROR_REGRESSION", "MIRROR_START", "MIRROR_STOP", "MIRROR_FORK",
      // health/: checks, failover, switchover, discovery, fencing
      "FENCE", "NEEDS_REJOIN", "FAILOVER", "FAILOVER_DONE", "FAILOVER_REFUSED", "PROMOTE",
      "REPOINT", "SWITCHOVER", "SWITCHOVER_ABORTED", "SWITCHOVER_DONE", "SERVER_DISCOVERED",
      "SERVER_DRAINING", "SERVER_REMOVED", "FAILOVER_BLOCKED", "FENCE_COMMAND", "MONITOR_PRIVILEGE",
      "SERVER_RESOLVED", "SERVER_UNRESOLVED", "SPLIT_BRAIN", "TOPOLOGY_ADOPTED", "WRITES_HELD",
      "WRITES_RESUMED",
      // health/schema_watch, health/scaler
      "SCHEMA_CHANGED", "SCALE_OUT", "SCALE_OUT_DONE", "SCALE_OUT_FAILED", "SCALE_IN",
      "SCALE_IN_DONE", "SCALE_IN_FAILED", "SERVER_RAMPED"};
  return kinds;
}

std::vector<Event> EventLog::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {ring_.begin(), ring_.end()};
}

uint64_t EventLog::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

}  // namespace sluice
