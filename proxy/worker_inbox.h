// WorkerInbox: requests other threads post to one worker (KILL of a session it owns, from
// another worker or the admin port; a passthrough lookup's answer). Lock-free (an
// AtomicStack, common/atomic_stack.h): posting is one compare-exchange, the worker takes the
// whole stack with one exchange when its eventfd wakes it, and runs the requests in the
// order they were posted.
#pragma once

#include <functional>
#include <utility>

#include "common/atomic_stack.h"

namespace sluice {

class Worker;

class WorkerInbox {
 public:
  using Request = std::function<void(Worker*)>;

  // Any thread.
  void Push(Request r) { stack_.Push(std::move(r)); }
  // The worker's thread: runs everything posted so far, oldest first.
  void RunAll(Worker* w) {
    for (auto* n = stack_.TakeAll(); n;) {
      auto* next = n->next;
      n->value(w);
      delete n;
      n = next;
    }
  }

 private:
  AtomicStack<Request> stack_;
};

}  // namespace sluice
