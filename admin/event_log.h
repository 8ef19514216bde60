// EventLog: what happened to the proxy (state changes, LOADs, failovers, rejected statements),
// kept in a bounded ring for the admin table stats_events and written to the log. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

struct Event {
  int64_t time_unix_ms = 0;
  std::string kind;  // "LOAD", "STATE", "FAILOVER", "REJECT", ...
  std::string cluster;
  std::string server;  // "host:port", or empty
  std::string message;
};

// Every kind the control plane raises; an event sink's `kinds` names these (or prefixes).
const std::vector<std::string_view>& EventKinds();

class EventLog {
 public:
  explicit EventLog(size_t capacity = 1000) : capacity_(capacity == 0 ? 1 : capacity) {}
  // Keeps the newest `capacity` events; the oldest is dropped first.
  void Append(std::string_view kind, std::string_view cluster, std::string_view server,
              std::string_view message);
  std::vector<Event> Snapshot() const;  // oldest first
  uint64_t total() const;               // appended since start, dropped ones included
  // Called with every appended event, on the appending thread, after the ring's lock is
  // released; it must not block (the event sinks only enqueue). Set before Start.
  void SetListener(std::function<void(const Event&)> listener);

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<Event> ring_;
  uint64_t total_ = 0;
  std::function<void(const Event&)> listener_;
};

}  // namespace sluice
