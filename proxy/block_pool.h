// BlockPool: one worker's free lists of the blocks its sessions borrow for a statement's
// state while it is in flight, so that an idle session holds none (docs/performance.md,
// idle clients). Only the worker's thread uses it: no lock, and a block comes back as it went.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace sluice {

class BlockPool {
 public:
  static constexpr size_t kGranule = 64;     // block sizes are multiples of this
  static constexpr size_t kMaxBytes = 4096;  // larger objects are not pooled
  static constexpr size_t kKeep = 256;       // free blocks kept per size; more are freed

  BlockPool() = default;
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;
  ~BlockPool() {
    for (auto& list : lists_) {
      while (list.head) {
        Free* f = list.head;
        list.head = f->next;
        ::operator delete(f);
      }
    }
  }

  // A block of at least BYTES: the last one given back of that size, else a new one.
  void* Take(size_t bytes) {
    size_t c = Class(bytes);
    if (c >= kClasses) return ::operator new(bytes);
    List& list = lists_[c];
    if (Free* f = list.head) {
      list.head = f->next;
      --list.count;
      return f;
    }
    return ::operator new((c + 1) * kGranule);
  }
  // P, taken with the same BYTES, is free again.
  void Give(void* p, size_t bytes) {
    if (!p) return;
    size_t c = Class(bytes);
    if (c >= kClasses || lists_[c].count >= kKeep) {
      ::operator delete(p);
      return;
    }
    List& list = lists_[c];
    list.head = new (p) Free{list.head};
    ++list.count;
  }
  // Free blocks kept for objects of BYTES.
  size_t free_blocks(size_t bytes) const {
    size_t c = Class(bytes);
    return c < kClasses ? lists_[c].count : 0;
  }

  // Free blocks kept, of every size.
  size_t free_total() const {
    size_t n = 0;
    for (const auto& list : lists_) n += list.count;
    return n;
  }

  // An object of type T in a borrowed block, and its end.
  template <class T, class... Args>
  T* New(Args&&... args) {
    static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
    void* p = Take(sizeof(T));
    try {
      return new (p) T(std::forward<Args>(args)...);
    } catch (...) {
      Give(p, sizeof(T));
      throw;
    }
  }
  template <class T>
  void Delete(T* t) {
    if (!t) return;
    std::destroy_at(t);
    Give(t, sizeof(T));
  }

 private:
  struct Free {
    Free* next;
  };
  struct List {
    Free* head = nullptr;
    size_t count = 0;
  };
  static constexpr size_t kClasses = kMaxBytes / kGranule;
  static size_t Class(size_t bytes) { return bytes == 0 ? 0 : (bytes - 1) / kGranule; }

  List lists_[kClasses];
};

}  // namespace sluice
