// WriteOrder: the order in which the source answered one mirror's writes, across every
// worker's sessions, so that the shadow runs them in that order. Lock-free; see below.
//
// Why: each shadow session replays its own session in order, but across sessions the
// shadow's timing is its own, so a session whose shadow lags can apply a write after
// another session's conflicting one that the source ran after it (docs/architecture.md,
// "Mirror"). The rule is the source's happens-before: each mirrored write takes a ticket
// when the source answers it, and notes, when it is sent to the source, the last ticket
// taken so far (`after`: every write the source had answered by then, so every write this
// one may have seen or waited behind); it goes to the shadow once every ticket up to
// `after` is done (answered by the shadow, or never to be sent: its session was cut).
// Writes that were in flight on the source at the same time run concurrently on the
// shadow too, where its own locks order them as the source's did. Within a session the
// tickets rise in queue order and `after` is below the write's own ticket, so the smallest
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
  // True when every ticket up to AFTER is done: a write noted with AFTER may go.
  bool Reached(uint64_t after) const { return done_.load() >= after; }
  // WORKER has a write waiting for Reached: the next Done that advances wakes it. The
  // caller checks Reached again after this (a Done in between may have missed it).
  void WantWake(int worker) { want_wake_[worker & (kMaxWorkers - 1)].store(true); }
  // T is done (answered, or never to be sent). Advances over every done ticket; when that
  // moved anything, calls WAKE(worker) for each worker that asked (WantWake) since it was
  // last woken.
  template <class Wake>
  void Done(uint64_t t, Wake wake) {
    if (!Advance(t)) return;
    for (int w = 0; w < kMaxWorkers; ++w)
      if (want_wake_[w].load() && want_wake_[w].exchange(false)) wake(w);
  }
  // Every ticket up to this one is done.
  uint64_t done_through() const { return done_.load(); }
  uint64_t taken() const { return next_.load(); }

 private:
  static constexpr int kMaxWorkers = 64;
  // A slot: ticket << 17 | worker << 1 | done.
  static constexpr int kTicketShift = 17;
  // Marks T done; true when the done-through mark moved.
  bool Advance(uint64_t t);
  std::atomic<uint64_t>& Slot(uint64_t t) { return slots_[t & (slots_.size() - 1)]; }

  const uint64_t hash_;
  std::vector<std::atomic<uint64_t>> slots_;
  std::atomic<uint64_t> next_{0};  // the last ticket taken
  std::atomic<uint64_t> done_{0};  // every ticket up to this one is done
  std::atomic<bool> want_wake_[kMaxWorkers] = {};
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
