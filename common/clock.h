// Monotonic time in milliseconds and microseconds, for deadlines and latencies (not wall
// time): one definition for the data plane and the control plane.
#pragma once

#include <chrono>
#include <cstdint>

namespace sluice {

inline int64_t MonotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline int64_t MonotonicUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace sluice
