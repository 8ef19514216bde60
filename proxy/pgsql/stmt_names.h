// Prepared statements across transaction pooling: the sluice-wide name of a client's
// statement (from its text and parameter types) and the per-backend LRU of names prepared.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::pgproxy {

// "sluice_" + 16 hex digits of a hash of the text and parameter type OIDs: two clients
// preparing the same statement share it on a backend connection.
std::string SluiceStatementName(std::string_view query, std::span<const uint32_t> param_types);

// The statement names one backend connection has prepared, bounded; the least recently
// used is evicted (and must be closed on the backend by the caller).
class PreparedLru {
 public:
  explicit PreparedLru(size_t capacity = 256) : capacity_(capacity) {}
  bool Contains(const std::string& name) const { return map_.count(name) != 0; }
  // Marks name most recently used; false when absent.
  bool Touch(const std::string& name);
  // Adds name (most recently used). Returns the evicted name, or "".
  std::string Insert(const std::string& name);
  void Erase(const std::string& name);
  void Clear() {
    map_.clear();
    lru_.clear();
  }
  size_t size() const { return map_.size(); }

 private:
  size_t capacity_;
  std::list<std::string> lru_;  // front = most recently used
  std::unordered_map<std::string, std::list<std::string>::iterator> map_;
};

}  // namespace sluice::pgproxy
