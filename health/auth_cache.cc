#include "health/auth_cache.h"

namespace sluice::health {

const AuthCache::Entry* AuthCache::Get(const std::string& user, int64_t now_ms, int64_t ttl_ms) {
  auto it = map_.find(user);
  if (it == map_.end()) return nullptr;
  if (now_ms - it->second.entry.stored_ms >= ttl_ms) {
    order_.erase(it->second.order);
    map_.erase(it);
    return nullptr;
  }
  return &it->second.entry;
}

void AuthCache::Put(const std::string& user, bool exists, StoredVerifier stored, int64_t now_ms) {
  Erase(user);
  order_.push_back(user);
  Slot& s = map_[user];
  s.entry = Entry{exists, std::move(stored), now_ms};
  s.order = std::prev(order_.end());
  Trim();
}

void AuthCache::Erase(const std::string& user) {
  auto it = map_.find(user);
  if (it == map_.end()) return;
  order_.erase(it->second.order);
  map_.erase(it);
}

void AuthCache::set_capacity(size_t capacity) {
  capacity_ = capacity ? capacity : 1;
  Trim();
}

void AuthCache::Trim() {
  while (map_.size() > capacity_) {
    map_.erase(order_.front());
    order_.pop_front();
    ++evictions_;
  }
}

}  // namespace sluice::health
