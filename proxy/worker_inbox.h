// WorkerInbox: requests other threads post to one worker (KILL of a session it owns, from
// another worker or the admin port). Lock-free: posting pushes onto an atomic stack (one
// compare-exchange), the worker takes the whole stack with one exchange when its eventfd
// wakes it, and runs the requests in the order they were posted.
#pragma once

#include <atomic>
#include <functional>
#include <utility>

namespace sluice {

class Worker;

class WorkerInbox {
 public:
  using Request = std::function<void(Worker*)>;
  ~WorkerInbox() { Free(head_.exchange(nullptr)); }

  // Any thread.
  void Push(Request r) {
    auto* n = new Node{std::move(r), head_.load(std::memory_order_relaxed)};
    while (!head_.compare_exchange_weak(n->next, n, std::memory_order_release,
                                        std::memory_order_relaxed)) {
    }
  }
  // The worker's thread: runs everything posted so far, oldest first.
  void RunAll(Worker* w) {
    Node* n = head_.exchange(nullptr, std::memory_order_acquire);
    Node* fifo = nullptr;
    while (n) {
      Node* next = n->next;
      n->next = fifo;
      fifo = n;
      n = next;
    }
    while (fifo) {
      Node* next = fifo->next;
      fifo->request(w);
      delete fifo;
      fifo = next;
    }
  }

 private:
  struct Node {
    Request request;
    Node* next;
  };
  static void Free(Node* n) {
    while (n) {
      Node* next = n->next;
      delete n;
      n = next;
    }
  }
  std::atomic<Node*> head_{nullptr};
};

}  // namespace sluice
