// Prepared statements across transaction pooling: the sluice-wide name of a client's
// statement (from its text and parameter types) and the per-backend LRU of names prepared.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/lru_map.h"

namespace sluice::pgproxy {

// "sluice_" + 16 hex digits of a hash of the text and parameter type OIDs: two clients
// preparing the same statement share it on a backend connection.
std::string SluiceStatementName(std::string_view query, std::span<const uint32_t> param_types);

// The statement names one backend connection has prepared, bounded; the least recently
// used is evicted (and must be closed on the backend by the caller).
class PreparedLru {
 public:
  explicit PreparedLru(size_t capacity = 256) : lru_(capacity) {}
  bool Contains(const std::string& name) const { return lru_.Contains(name); }
  // Marks name most recently used; false when absent.
  bool Touch(const std::string& name) { return lru_.Find(name) != nullptr; }
  // Adds name (most recently used). Returns the evicted name, or "".
  std::string Insert(const std::string& name) {
    auto evicted = lru_.Insert(name, true);
    return evicted ? std::move(evicted->first) : std::string();
  }
  void Erase(const std::string& name) { lru_.Remove(name); }
  void Clear() { lru_.Clear(); }
  size_t size() const { return lru_.size(); }

 private:
  LruMap<bool> lru_;
};

}  // namespace sluice::pgproxy
