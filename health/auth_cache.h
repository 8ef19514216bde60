// AuthCache: passthrough authentication's answers per user name (health/auth_lookup.h): a
// verifier the primary stores (positive) or "no such user" (negative), each kept for the
// cluster's auth_cache_ttl_ms and bounded in count (the oldest answer goes first). One
// thread owns it (the cluster's lookup thread); no I/O, no clock of its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

namespace sluice::health {

// What the backend stores for a user: MariaDB's plugin and authentication_string,
// PostgreSQL's rolpassword (plugin empty).
struct StoredVerifier {
  std::string plugin;
  std::string verifier;
  bool operator==(const StoredVerifier&) const = default;
};

class AuthCache {
 public:
  struct Entry {
    bool exists = false;  // false: a negative entry (the server has no such user)
    StoredVerifier stored;
    int64_t stored_ms = 0;
  };

  explicit AuthCache(size_t capacity) : capacity_(capacity ? capacity : 1) {}

  // The answer for USER if one is younger than TTL_MS at NOW_MS, else nullptr (an expired
  // entry is dropped). The pointer is good until the next Put or Get.
  const Entry* Get(const std::string& user, int64_t now_ms, int64_t ttl_ms);
  // Records an answer (exists=false: negative). Beyond the capacity the oldest goes.
  void Put(const std::string& user, bool exists, StoredVerifier stored, int64_t now_ms);
  // Forgets USER (a login whose verifier no longer matched the backend's).
  void Erase(const std::string& user);
  // A smaller capacity drops the oldest entries now.
  void set_capacity(size_t capacity);
  size_t size() const { return map_.size(); }
  int64_t evictions() const { return evictions_; }

 private:
  struct Slot {
    Entry entry;
    std::list<std::string>::iterator order;
  };
  void Trim();

  size_t capacity_;
  std::list<std::string> order_;  // oldest first
  std::unordered_map<std::string, Slot> map_;
  int64_t evictions_ = 0;
};

}  // namespace sluice::health
