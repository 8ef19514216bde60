#include "proxy/limits.h"

#include <functional>

namespace sluice {

UserConnections::UserConnections() : entries_(new Entry[kSlots]) {}

UserConnections::~UserConnections() {
  for (size_t i = 0; i < kSlots; ++i) delete entries_[i].name.load(std::memory_order_relaxed);
}

UserConnections::Entry* UserConnections::Find(std::string_view user, bool insert) const {
  size_t h = std::hash<std::string_view>()(user);
  for (size_t probe = 0; probe < kSlots; ++probe) {
    Entry& e = entries_[(h + probe) % kSlots];
    const std::string* name = e.name.load(std::memory_order_acquire);
    if (!name) {
      if (!insert) return nullptr;
      auto* mine = new std::string(user);
      const std::string* expected = nullptr;
      if (e.name.compare_exchange_strong(expected, mine, std::memory_order_acq_rel)) return &e;
      delete mine;  // another worker claimed this slot first: it may be the same name
      name = expected;
    }
    if (*name == user) return &e;
  }
  return nullptr;
}

bool UserConnections::Acquire(std::string_view user, int64_t limit, UserSlot* slot,
                              int64_t* current) {
  Entry* e = Find(user, /*insert=*/true);
  if (!e) {
    *slot = UserSlot();
    return true;
  }
  int64_t n = e->count.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n > limit) {
    e->count.fetch_sub(1, std::memory_order_relaxed);
    *current = n - 1;
    return false;
  }
  UserSlot taken;
  taken.count_ = &e->count;
  *slot = std::move(taken);
  return true;
}

int64_t UserConnections::Count(std::string_view user) const {
  const Entry* e = Find(user, /*insert=*/false);
  return e ? e->count.load(std::memory_order_relaxed) : 0;
}

}  // namespace sluice
