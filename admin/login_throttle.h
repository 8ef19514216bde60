// LoginThrottle: wrong-password back-off for the admin port, per client address. After
// kFreeFailures failures an address is locked out for a window that doubles with each
// further failure (up to kMaxLockoutMs); a successful login forgets the address. Memory is
// bounded: at most kMaxAddresses are remembered, the stalest is forgotten first.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sluice {

class LoginThrottle {
 public:
  static constexpr int kFreeFailures = 3;
  static constexpr int64_t kFirstLockoutMs = 1000;
  static constexpr int64_t kMaxLockoutMs = 60000;
  static constexpr int64_t kForgetAfterMs = 600000;  // failures older than this are forgotten
  static constexpr size_t kMaxAddresses = 1024;

  // Milliseconds ADDR must still wait before its next login is considered; 0 when it may try.
  int64_t LockedForMs(const std::string& addr, int64_t now_ms);
  // A wrong password from ADDR at NOW_MS; returns the lockout it starts (0: none yet).
  int64_t Failure(const std::string& addr, int64_t now_ms);
  void Success(const std::string& addr);
  size_t size() const;

 private:
  struct Entry {
    int failures = 0;
    int64_t last_failure_ms = 0;
    int64_t locked_until_ms = 0;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> by_addr_;
};

}  // namespace sluice
