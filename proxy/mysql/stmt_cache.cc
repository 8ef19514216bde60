#include "proxy/mysql/stmt_cache.h"

namespace sluice::mysqlproxy {

BackendStmt* StmtCache::Find(const std::string& text) {
  auto it = map_.find(text);
  if (it == map_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.pos);
  return &it->second.stmt;
}

uint32_t StmtCache::Insert(const std::string& text, BackendStmt stmt) {
  if (auto it = map_.find(text); it != map_.end()) {
    it->second.stmt = stmt;
    lru_.splice(lru_.begin(), lru_, it->second.pos);
    return 0;
  }
  uint32_t evicted = 0;
  if (capacity_ > 0 && map_.size() >= capacity_) {
    auto victim = map_.find(lru_.back());
    evicted = victim->second.stmt.id;
    map_.erase(victim);
    lru_.pop_back();
  }
  lru_.push_front(text);
  map_.emplace(text, Entry{stmt, lru_.begin()});
  return evicted;
}

uint32_t StmtCache::Remove(const std::string& text) {
  auto it = map_.find(text);
  if (it == map_.end()) return 0;
  uint32_t id = it->second.stmt.id;
  lru_.erase(it->second.pos);
  map_.erase(it);
  return id;
}

}  // namespace sluice::mysqlproxy
