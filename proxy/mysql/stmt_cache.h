// StmtCache: the prepared statements one backend connection holds, keyed by statement text,
// bounded with least-recently-used eviction (evicting closes one statement, never the
// connection: ProxySQL's reset-on-limit costs it dearly under sysbench).
#pragma once

#include <cstdint>
#include <string>

#include "common/lru_map.h"

namespace sluice::mysqlproxy {

struct BackendStmt {
  uint32_t id = 0;          // the backend's statement id
  bool types_sent = false;  // an EXECUTE with new-params-bound=1 went to this connection
};

class StmtCache {
 public:
  explicit StmtCache(size_t capacity = 256) : lru_(capacity) {}
  void set_capacity(size_t c) { lru_.set_capacity(c); }
  // The statement for text, marked most recently used, or nullptr.
  BackendStmt* Find(const std::string& text) { return lru_.Find(text); }
  // Adds text -> stmt. Returns the backend id of an evicted statement (to close), or 0.
  uint32_t Insert(const std::string& text, BackendStmt stmt) {
    auto evicted = lru_.Insert(text, stmt);
    return evicted ? evicted->second.id : 0;
  }
  // Drops text; returns its backend id (to close), or 0 when it was not here.
  uint32_t Remove(const std::string& text) {
    auto stmt = lru_.Remove(text);
    return stmt ? stmt->id : 0;
  }
  void Clear() { lru_.Clear(); }
  size_t size() const { return lru_.size(); }

 private:
  LruMap<BackendStmt> lru_;
};

}  // namespace sluice::mysqlproxy
