// WriteOrder: the order in which the source answered one mirror's writes, across every
// worker's sessions, so that the shadow runs them in that order. Lock-free; see below.
//
// Why: each shadow session replays its own session in order, but across sessions the
// shadow's timing is its own, so a session whose shadow lags can apply a write after
// another session's conflicting one that the source ran after it (docs/architecture.md,
// "Mirror"). The source's answer order is a valid serial order of its writes (a write that
// waited for another transaction's lock is answered after that transaction's COMMIT), so
// each mirrored write takes a ticket when the source answers it, and goes to the shadow only
// once every smaller ticket is done (answered by the shadow, or never to be sent: its
// session was cut). Within a session the tickets rise in queue order, so the smallest
// pending ticket can always run: no wait cycle.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace sluice::mirror {

class WriteOrder {
 public:
  // CAPACITY (a power of two) bounds the tickets pending at once; at half of it Take refuses.
  explicit WriteOrder(uint64_t name_hash, size_t capacity = size_t{1} << 14);
  WriteOrder(const WriteOrder&) = delete;
  WriteOrder& operator=(const WriteOrder&) = delete;

  uint64_t name_hash() const { return hash_; }

  // Any thread: the next ticket (from 1) for a write queued on worker WORKER (0..32767);
  // 0 when half the capacity is pending (the caller cuts that session: queue_full).
  uint64_t Take(int worker);
  // True when every ticket before T is done: T's write may go to the shadow.
  bool MayRun(uint64_t t) const { return done_.load() + 1 >= t; }
  // T is done (answered, or never to be sent). Advances over every done ticket; when the
  // next ticket after that is taken and not done, returns its worker (to be woken: it may
  // be waiting for this), else -1.
  int Done(uint64_t t);
  // Every ticket up to this one is done.
  uint64_t done_through() const { return done_.load(); }
  uint64_t taken() const { return next_.load(); }

 private:
  // A slot: ticket << 17 | worker << 1 | done.
  static constexpr int kTicketShift = 17;
  std::atomic<uint64_t>& Slot(uint64_t t) { return slots_[t & (slots_.size() - 1)]; }

  const uint64_t hash_;
  std::vector<std::atomic<uint64_t>> slots_;
  std::atomic<uint64_t> next_{0};  // the last ticket taken
  std::atomic<uint64_t> done_{0};  // every ticket up to this one is done
};

// The write orders of the process's mirrors, by name: fixed slots, each filled once at the
// first lookup of its mirror (a compare-exchange, no lock), kept for the process's lifetime.
class WriteOrders {
 public:
  static constexpr size_t kMaxMirrors = 64;
  WriteOrders() = default;
  WriteOrders(const WriteOrders&) = delete;
  WriteOrders& operator=(const WriteOrders&) = delete;
  ~WriteOrders();
  // The order of mirror NAME; nullptr when kMaxMirrors others hold every slot.
  WriteOrder* For(std::string_view name);

 private:
  std::atomic<WriteOrder*> slots_[kMaxMirrors] = {};
};

}  // namespace sluice::mirror
