// SlotPart<Slot>: one worker's share of a registry that other threads read without a lock
// (SessionRegistry, BackendRegistry). Slots come in chunks made on demand by the owning
// worker and kept until the process ends (a reader may hold a pointer into one).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// A seqlock's counter for a slot with one writer: the writer wraps its relaxed stores in
// Begin()/End(); Read(f) runs f (relaxed loads) again until no write overlapped it.
class SeqCount {
 public:
  void Begin() {  // one writer: no read-modify-write needed
    seq_.store(seq_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
  }
  void End() { seq_.store(seq_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
  template <class F>
  void Read(F f) const {
    for (;;) {
      uint32_t before = seq_.load(std::memory_order_acquire);
      f();
      std::atomic_thread_fence(std::memory_order_acquire);
      if (!(before & 1) && seq_.load(std::memory_order_relaxed) == before) return;
    }
  }

 private:
  std::atomic<uint32_t> seq_{0};  // odd while a write is under way
};

// A string of at most N bytes in relaxed atomic words (a seqlock guards the whole slot).
template <size_t N>
class AtomicText {
 public:
  void Store(std::string_view s) {
    size_t n = s.size() < N ? s.size() : N;
    for (size_t w = 0; w < (n + 7) / 8; ++w) {
      uint64_t v = 0;
      for (size_t b = 0; b < 8 && w * 8 + b < n; ++b)
        v |= uint64_t{static_cast<uint8_t>(s[w * 8 + b])} << (8 * b);
      words_[w].store(v, std::memory_order_relaxed);
    }
    len_.store(static_cast<uint16_t>(n), std::memory_order_relaxed);
  }
  std::string Load() const {
    size_t n = len_.load(std::memory_order_relaxed);
    if (n > N) n = N;
    std::string s(n, '\0');
    for (size_t w = 0; w < (n + 7) / 8; ++w) {
      uint64_t v = words_[w].load(std::memory_order_relaxed);
      for (size_t b = 0; b < 8 && w * 8 + b < n; ++b)
        s[w * 8 + b] = static_cast<char>(v >> (8 * b));
    }
    return s;
  }

 private:
  std::atomic<uint64_t> words_[(N + 7) / 8]{};
  std::atomic<uint16_t> len_{0};
};

template <class Slot, uint32_t kChunk, uint32_t kMaxChunks>
class SlotPart {
 public:
  static constexpr uint32_t kCapacity = kChunk * kMaxChunks;

  SlotPart() = default;
  SlotPart(const SlotPart&) = delete;
  SlotPart& operator=(const SlotPart&) = delete;
  ~SlotPart() {
    for (auto& c : chunks_) delete[] c.load();
  }

  // Owner thread: a slot index, reusing freed ones first-in first-out (an index comes back
  // as late as possible); false when the part holds kCapacity slots.
  bool Take(uint32_t* local) {
    if (!free_.empty()) {
      *local = free_.front();
      free_.pop_front();
      return true;
    }
    uint32_t next = used_.load(std::memory_order_relaxed);
    if (next >= kCapacity) return false;
    if (next % kChunk == 0 && !chunks_[next / kChunk].load(std::memory_order_relaxed))
      chunks_[next / kChunk].store(new Slot[kChunk], std::memory_order_release);
    used_.store(next + 1, std::memory_order_release);
    *local = next;
    return true;
  }
  // Owner thread: LOCAL may be handed out again.
  void Give(uint32_t local) { free_.push_back(local); }

  // Any thread: what every handed-out slot of every part reads as (Slot::Read(), skipping
  // free slots), appended to OUT.
  template <class Info, size_t N, class PartT>
  static void Snapshot(const std::atomic<PartT*> (&parts)[N], std::vector<Info>* out) {
    for (const auto& p : parts) {
      const PartT* part = p.load(std::memory_order_acquire);
      if (!part) continue;
      uint32_t used = part->used();
      for (uint32_t i = 0; i < used; ++i) {
        if (const Slot* slot = part->At(i))
          if (auto v = slot->Read()) out->push_back(std::move(*v));
      }
    }
  }

  // Any thread. Slots ever handed out: readers scan [0, used()).
  uint32_t used() const { return used_.load(std::memory_order_acquire); }
  Slot* At(uint32_t local) const {
    if (local >= kCapacity) return nullptr;
    Slot* c = chunks_[local / kChunk].load(std::memory_order_acquire);
    return c ? &c[local % kChunk] : nullptr;
  }

 private:
  std::atomic<Slot*> chunks_[kMaxChunks]{};
  std::atomic<uint32_t> used_{0};
  std::deque<uint32_t> free_;
};

}  // namespace sluice
