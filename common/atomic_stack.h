// AtomicStack: a lock-free many-producers, one-consumer hand-over between threads. Push is one
// allocation and one compare-exchange; the consumer takes everything pushed so far with one
// exchange, oldest first. A worker's inbox (proxy/worker_inbox.h) and the passthrough lookup's
// queue (health/auth_lookup.h) are built on it.
#pragma once

#include <atomic>
#include <utility>

namespace sluice {

template <class T>
class AtomicStack {
 public:
  struct Node {
    T value;
    Node* next;
  };

  AtomicStack() = default;
  AtomicStack(const AtomicStack&) = delete;
  AtomicStack& operator=(const AtomicStack&) = delete;
  ~AtomicStack() { Free(TakeAll()); }

  // Any thread.
  void Push(T value) {
    auto* n = new Node{std::move(value), head_.load(std::memory_order_relaxed)};
    while (!head_.compare_exchange_weak(n->next, n, std::memory_order_release,
                                        std::memory_order_relaxed)) {
    }
  }
  // The consumer: the nodes pushed so far, oldest first; the caller deletes each (Free).
  Node* TakeAll() {
    Node* n = head_.exchange(nullptr, std::memory_order_acquire);
    Node* fifo = nullptr;
    while (n) {
      Node* next = n->next;
      n->next = fifo;
      fifo = n;
      n = next;
    }
    return fifo;
  }
  static void Free(Node* n) {
    while (n) {
      Node* next = n->next;
      delete n;
      n = next;
    }
  }

 private:
  std::atomic<Node*> head_{nullptr};
};

}  // namespace sluice
