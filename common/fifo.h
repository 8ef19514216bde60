// Fifo: a first-in first-out queue over a std::vector that allocates nothing while it has
// never held anything. std::deque allocates ~600 bytes when constructed, which is too much
// for a per-connection queue that is empty most of its life (docs/performance.md: memory).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace sluice {

template <class T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  T& back() { return items_.back(); }
  void push_back(T v) { items_.push_back(std::move(v)); }
  // Amortised O(1): the consumed prefix is dropped once it is half of what is stored.
  void pop_front() {
    ++head_;
    if (head_ == items_.size()) {
      clear();
    } else if (head_ >= kCompactAt && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void clear() {
    items_.clear();
    head_ = 0;
  }

 private:
  static constexpr size_t kCompactAt = 32;
  std::vector<T> items_;
  size_t head_ = 0;  // items_[0, head_) are popped
};

}  // namespace sluice
