#include "admin/login_throttle.h"

#include <algorithm>

namespace sluice {

int64_t LoginThrottle::LockedForMs(const std::string& addr, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_addr_.find(addr);
  if (it == by_addr_.end()) return 0;
  if (now_ms - it->second.last_failure_ms >= kForgetAfterMs) {
    by_addr_.erase(it);
    return 0;
  }
  return std::max<int64_t>(0, it->second.locked_until_ms - now_ms);
}

int64_t LoginThrottle::Failure(const std::string& addr, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_addr_.find(addr);
  if (it != by_addr_.end() && now_ms - it->second.last_failure_ms >= kForgetAfterMs)
    it->second = Entry{};
  if (it == by_addr_.end()) {
    if (by_addr_.size() >= kMaxAddresses) {
      auto stalest = std::min_element(by_addr_.begin(), by_addr_.end(), [](auto& a, auto& b) {
        return a.second.last_failure_ms < b.second.last_failure_ms;
      });
      by_addr_.erase(stalest);
    }
    it = by_addr_.emplace(addr, Entry{}).first;
  }
  Entry& e = it->second;
  ++e.failures;
  e.last_failure_ms = now_ms;
  if (e.failures <= kFreeFailures) return 0;
  int shift = std::min(e.failures - kFreeFailures - 1, 16);
  int64_t lockout = std::min(kMaxLockoutMs, kFirstLockoutMs << shift);
  e.locked_until_ms = now_ms + lockout;
  return lockout;
}

void LoginThrottle::Success(const std::string& addr) {
  std::lock_guard<std::mutex> lock(mu_);
  by_addr_.erase(addr);
}

size_t LoginThrottle::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_addr_.size();
}

}  // namespace sluice
