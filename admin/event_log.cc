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
  std::lock_guard<std::mutex> lock(mu_);
  if (ring_.size() == capacity_) ring_.pop_front();
  ring_.push_back(std::move(e));
  ++total_;
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
