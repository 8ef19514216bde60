// EventSinks: posts the event log's events to HTTP endpoints ([[event_sink]]: chat webhooks,
// alert receivers) through libcurl, one sender thread and one bounded queue per sink.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "admin/event_log.h"
#include "routing/runtime.h"

namespace sluice {

// Whether KIND is one of KINDS ("FAILOVER", or a prefix pattern "FAILOVER*"); empty: all.
bool EventKindMatches(const std::vector<std::string>& kinds, std::string_view kind);

// The POST body for E: FORMAT "json" ({"kind","cluster","node","reason","time",
// "time_unix_ms","source"}) or "slack" ({"text": one line}).
std::string FormatEvent(const Event& e, std::string_view format);

// "2026-12-01T11:40:00.123Z".
std::string IsoTimeUtc(int64_t unix_ms);

// What one sink has done since it was configured (stats_event_sinks, sluice_event_sink_*).
struct EventSinkStats {
  std::string name;
  std::string url;
  std::string format;
  uint64_t queued = 0;           // waiting now, the one in flight included
  uint64_t sent = 0;             // POSTs the endpoint answered 2xx
  uint64_t dropped = 0;          // events that found the queue full: the oldest is dropped
  uint64_t rejected = 0;         // events the endpoint refused for good (4xx but 408/429)
  uint64_t failed_attempts = 0;  // POSTs that failed and were retried
  int64_t last_sent_unix_ms = 0;
  std::string last_error;
};

class EventSinks {
 public:
  EventSinks() = default;
  ~EventSinks() { Stop(); }
  EventSinks(const EventSinks&) = delete;
  EventSinks& operator=(const EventSinks&) = delete;

  // Makes SINKS the running set. A sink whose configuration did not change keeps its thread,
  // queue and counters; a changed or removed one is stopped (its queue is discarded).
  void Configure(const std::vector<EventSinkConfig>& sinks);
  // Queues E on every sink that takes its kind; never waits on the network.
  void Offer(const Event& e);
  std::vector<EventSinkStats> Stats() const;
  void Stop();

 private:
  class Sink;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Sink>> sinks_;
};

}  // namespace sluice
