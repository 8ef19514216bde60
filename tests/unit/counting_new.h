// Replaces the global operator new and delete of the binary that includes this header with
// ones that count every operator new (CountingNew::calls()); the allocation itself is malloc.
// Include it in exactly one source file of a binary (the replacements are definitions).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace sluice::testing {

struct CountingNew {
  static std::atomic<uint64_t>& calls() {
    static std::atomic<uint64_t> n{0};
    return n;
  }
  // Out of line, so that the compiler does not pair the malloc and free it sees (-Werror).
  [[gnu::noinline]] static void* New(size_t n) {
    calls().fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
  }
  [[gnu::noinline]] static void Delete(void* p) noexcept { std::free(p); }
};

}  // namespace sluice::testing

void* operator new(size_t n) {
  return sluice::testing::CountingNew::New(n);
}
void* operator new[](size_t n) {
  return sluice::testing::CountingNew::New(n);
}
void operator delete(void* p) noexcept {
  sluice::testing::CountingNew::Delete(p);
}
void operator delete[](void* p) noexcept {
  sluice::testing::CountingNew::Delete(p);
}
void operator delete(void* p, size_t) noexcept {
  sluice::testing::CountingNew::Delete(p);
}
void operator delete[](void* p, size_t) noexcept {
  sluice::testing::CountingNew::Delete(p);
}
