// Mailbox<T>: one slot from a worker to the control plane, as common/stats.h's StatsMailbox:
// the worker Offer()s its partial (when the slot is still full it keeps adding to its own
// and offers later), the control plane Take()s it. One atomic exchange, no lock.
#pragma once

#include <atomic>
#include <memory>

namespace sluice::mirror {

template <class T>
class Mailbox {
 public:
  Mailbox() = default;
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;
  ~Mailbox() { delete slot_.exchange(nullptr); }
  // True when the slot was empty and now holds V; else V stays with the caller.
  bool Offer(std::unique_ptr<T>& v) {
    T* expected = nullptr;
    if (slot_.compare_exchange_strong(expected, v.get(), std::memory_order_acq_rel)) {
      v.release();
      return true;
    }
    return false;
  }
  std::unique_ptr<T> Take() {
    return std::unique_ptr<T>(slot_.exchange(nullptr, std::memory_order_acq_rel));
  }

 private:
  std::atomic<T*> slot_{nullptr};
};

}  // namespace sluice::mirror
