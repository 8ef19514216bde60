// UserConnections: the process-wide count of logged-in client sessions per user, that
// enforces User::max_connections on both protocols; UserSlot is one session's share of it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sluice {

class UserSlot;

// A fixed open-addressed table of (name, count) slots; a name takes its slot at its first
// login and keeps it for the process lifetime (names come from the configuration, so they
// are few). Lock-free: a login is one compare-exchange at most to claim a slot and one
// fetch_add; a logout one fetch_sub. Workers share it, no worker ever waits on another.
class UserConnections {
 public:
  static constexpr size_t kSlots = 16384;

  UserConnections();
  ~UserConnections();
  UserConnections(const UserConnections&) = delete;
  UserConnections& operator=(const UserConnections&) = delete;

  // Takes one connection of USER unless LIMIT are held already. On refusal *current is the
  // count held (for the error message) and *slot is left as it was. When the table is full
  // (more than kSlots distinct names) the login is admitted uncounted.
  bool Acquire(std::string_view user, int64_t limit, UserSlot* slot, int64_t* current);
  // The count USER holds now (tests, statistics).
  int64_t Count(std::string_view user) const;

 private:
  struct Entry {
    std::atomic<const std::string*> name{nullptr};
    std::atomic<int64_t> count{0};
  };
  Entry* Find(std::string_view user, bool insert) const;
  std::unique_ptr<Entry[]> entries_;
};

// One session's connection of a user; gives it back when reset, replaced or destroyed.
// LOCAL, when set, is the worker's own per-user gauge (stats_users.client_connections).
class UserSlot {
 public:
  UserSlot() = default;
  ~UserSlot() { Reset(); }
  UserSlot(const UserSlot&) = delete;
  UserSlot& operator=(const UserSlot&) = delete;
  UserSlot(UserSlot&& o) noexcept : count_(o.count_), local_(o.local_) {
    o.count_ = nullptr;
    o.local_ = nullptr;
  }
  UserSlot& operator=(UserSlot&& o) noexcept {
    if (this != &o) {
      Reset();
      count_ = o.count_;
      local_ = o.local_;
      o.count_ = nullptr;
      o.local_ = nullptr;
    }
    return *this;
  }
  bool held() const { return count_ || local_; }
  void Reset() {
    if (count_) count_->fetch_sub(1, std::memory_order_relaxed);
    if (local_) --*local_;
    count_ = nullptr;
    local_ = nullptr;
  }
  // Counts this slot in a worker-local gauge too (only that worker's thread touches it).
  void set_local(int64_t* local) {
    if (local_) --*local_;
    local_ = local;
    if (local_) ++*local_;
  }

 private:
  friend class UserConnections;
  std::atomic<int64_t>* count_ = nullptr;
  int64_t* local_ = nullptr;
};

}  // namespace sluice
