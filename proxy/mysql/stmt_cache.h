// StmtCache: the prepared statements one backend connection holds, keyed by statement text,
// bounded with least-recently-used eviction (evicting closes one statement, never the
// connection: ProxySQL's reset-on-limit costs it dearly under sysbench).
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

namespace sluice::mysqlproxy {

struct BackendStmt {
  uint32_t id = 0;          // the backend's statement id
  bool types_sent = false;  // an EXECUTE with new-params-bound=1 went to this connection
};

class StmtCache {
 public:
  explicit StmtCache(size_t capacity = 256) : capacity_(capacity) {}
  void set_capacity(size_t c) { capacity_ = c; }
  // The statement for text, marked most recently used, or nullptr.
  BackendStmt* Find(const std::string& text);
  // Adds text -> stmt. Returns the backend id of an evicted statement (to close), or 0.
  uint32_t Insert(const std::string& text, BackendStmt stmt);
  // Drops text; returns its backend id (to close), or 0 when it was not here.
  uint32_t Remove(const std::string& text);
  void Clear() {
    map_.clear();
    lru_.clear();
  }
  size_t size() const { return map_.size(); }

 private:
  struct Entry {
    BackendStmt stmt;
    std::list<std::string>::iterator pos;
  };
  size_t capacity_;
  std::list<std::string> lru_;  // front = most recently used
  std::unordered_map<std::string, Entry> map_;
};

}  // namespace sluice::mysqlproxy
