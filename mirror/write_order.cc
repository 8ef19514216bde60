#include "mirror/write_order.h"

#include <functional>
#include <string>

namespace sluice::mirror {

WriteOrder::WriteOrder(uint64_t name_hash, size_t capacity) : hash_(name_hash), slots_(capacity) {
  for (auto& s : slots_) s.store(0, std::memory_order_relaxed);
}

uint64_t WriteOrder::Take(int worker) {
  // Checked before the ticket is taken: a taken ticket must be filled in, or nothing after
  // it could ever run. Concurrent takers overshoot by at most one each, well within the
  // other half of the ring.
  if (next_.load() - done_.load() >= slots_.size() / 2) return 0;
  uint64_t t = next_.fetch_add(1) + 1;
  // The slot's previous ticket (t - capacity) is done: at most half the ring is pending.
  Slot(t).store(t << kTicketShift | static_cast<uint64_t>(worker & 0x7fff) << 1);
  return t;
}

int WriteOrder::Done(uint64_t t) {
  Slot(t).fetch_or(1);
  // Advance over every done ticket. Several threads may do this at once; the
  // compare-exchange lets each step happen once.
  uint64_t d = done_.load();
  for (;;) {
    uint64_t s = Slot(d + 1).load();
    if ((s >> kTicketShift) != d + 1 || !(s & 1)) break;
    if (done_.compare_exchange_weak(d, d + 1)) ++d;  // else d holds the newer value
  }
  // The next ticket's worker, when it is taken and pending. Sequentially consistent with
  // Take's store and the waiter's MayRun: either its worker sees the advance in MayRun, or
  // this sees its slot and wakes it.
  uint64_t s = Slot(d + 1).load();
  if ((s >> kTicketShift) == d + 1 && !(s & 1)) return static_cast<int>((s >> 1) & 0x7fff);
  return -1;
}

WriteOrders::~WriteOrders() {
  for (auto& s : slots_) delete s.load();
}

WriteOrder* WriteOrders::For(std::string_view name) {
  const uint64_t h = std::hash<std::string_view>{}(name);
  for (auto& slot : slots_) {
    WriteOrder* p = slot.load();
    if (!p) {
      auto fresh = std::make_unique<WriteOrder>(h);
      if (slot.compare_exchange_strong(p, fresh.get())) return fresh.release();
      // Another thread filled the slot first: p is its order.
    }
    if (p->name_hash() == h) return p;
  }
  return nullptr;
}

}  // namespace sluice::mirror
