// LruMap<V>: a map from string keys to V, bounded by a capacity, that gives up its least
// recently used entry when an insert goes over it. Lookups mark an entry most recently used.
// The backend connections' prepared statements use it (proxy/mysql/stmt_cache.h,
// proxy/pgsql/stmt_names.h).
#pragma once

#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace sluice {

template <class V>
class LruMap {
 public:
  // capacity 0: no bound.
  explicit LruMap(size_t capacity) : capacity_(capacity) {}
  void set_capacity(size_t c) { capacity_ = c; }

  bool Contains(const std::string& key) const { return map_.count(key) != 0; }
  // The value of key, marked most recently used; nullptr when absent.
  V* Find(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second.pos);
    return &it->second.value;
  }
  // Sets key to value, most recently used. Over the capacity the least recently used other
  // entry leaves: it is returned (the caller closes what it names).
  std::optional<std::pair<std::string, V>> Insert(const std::string& key, V value) {
    if (V* v = Find(key)) {
      *v = std::move(value);
      return std::nullopt;
    }
    order_.push_front(key);
    map_.emplace(key, Entry{std::move(value), order_.begin()});
    if (capacity_ == 0 || map_.size() <= capacity_) return std::nullopt;
    auto victim = map_.find(order_.back());
    std::pair<std::string, V> out(std::move(order_.back()), std::move(victim->second.value));
    map_.erase(victim);
    order_.pop_back();
    return out;
  }
  // Drops key; its value, or nullopt when it was not here.
  std::optional<V> Remove(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    V v = std::move(it->second.value);
    order_.erase(it->second.pos);
    map_.erase(it);
    return v;
  }
  void Clear() {
    map_.clear();
    order_.clear();
  }
  size_t size() const { return map_.size(); }

 private:
  struct Entry {
    V value;
    std::list<std::string>::iterator pos;
  };
  size_t capacity_;
  std::list<std::string> order_;  // front = most recently used
  std::unordered_map<std::string, Entry> map_;
};

}  // namespace sluice
