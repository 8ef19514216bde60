#include "proxy/backend_pool.h"

#include <event2/event.h>

#include <algorithm>

#include "proxy/worker.h"

namespace sluice {

BackendPools::BackendPools(Worker* worker) : worker_(worker) {
  // Waiter deadlines are checked every 100 ms: cheaper than one timer per waiter.
  timer_ = event_new(worker_->base(), -1, EV_PERSIST, &BackendPools::OnTimer, this);
  timeval tv{0, 100 * 1000};
  event_add(timer_, &tv);
}

BackendPools::~BackendPools() {
  CloseAll();
  if (timer_) event_free(timer_);
}

PooledConn* BackendPools::TakeIdle(const PoolKey& key) {
  auto it = idle_.find(key);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  // Most recently used first: its socket is warm and older ones may age out.
  PooledConn* c = it->second.back();
  it->second.pop_back();
  c->idle_ = false;
  --idle_total_;
  return c;
}

bool BackendPools::TryReserve(const std::string& server, int limit) {
  ServerSlots& s = servers_[server];
  if (s.open >= limit && !CloseOneIdleOf(server)) return false;
  ++s.open;
  return true;
}

bool BackendPools::CloseOneIdleOf(const std::string& server) {
  for (auto& [key, list] : idle_) {
    if (key.server != server || list.empty()) continue;
    PooledConn* c = list.front();
    list.erase(list.begin());
    c->idle_ = false;
    --idle_total_;
    --servers_[server].open;
    c->Destroy();
    return true;
  }
  return false;
}

void BackendPools::PutIdle(PooledConn* conn) {
  ServerSlots& s = servers_[conn->key().server];
  // A waiting session gets it first; one that wants another key gets the slot instead.
  while (!s.waiters.empty()) {
    Waiter w = std::move(s.waiters.front());
    s.waiters.pop_front();
    if (w.key == conn->key()) {
      w.cb(true, conn);
      return;
    }
    conn->Destroy();  // slot passes to the waiter, who opens its own connection
    w.cb(true, nullptr);
    return;
  }
  conn->idle_ = true;
  conn->idle_since_ms_ = MonotonicMs();
  auto& list = idle_[conn->key()];
  list.push_back(conn);
  ++idle_total_;
}

void BackendPools::Forget(PooledConn* conn) {
  if (conn->idle_) {
    auto& list = idle_[conn->key()];
    list.erase(std::remove(list.begin(), list.end(), conn), list.end());
    conn->idle_ = false;
    --idle_total_;
  }
  Release(conn->key().server);
}

void BackendPools::Release(const std::string& server) {
  ServerSlots& s = servers_[server];
  if (s.open > 0) --s.open;
  ServeWaiters(server);
}

void BackendPools::ServeWaiters(const std::string& server) {
  ServerSlots& s = servers_[server];
  while (!s.waiters.empty()) {
    Waiter& front = s.waiters.front();
    if (PooledConn* c = TakeIdle(front.key)) {
      Waiter w = std::move(front);
      s.waiters.pop_front();
      w.cb(true, c);
      continue;
    }
    if (s.open >= front.limit) return;
    Waiter w = std::move(front);
    s.waiters.pop_front();
    ++s.open;
    w.cb(true, nullptr);
  }
}

bool BackendPools::Wait(const PoolKey& key, int limit, int timeout_ms, WaitCallback cb,
                        uint64_t* ticket) {
  ServerSlots& s = servers_[key.server];
  if (s.waiters.size() >= kMaxWaitersPerServer) return false;
  *ticket = next_ticket_++;
  s.waiters.push_back(
      Waiter{*ticket, key, limit, MonotonicMs() + timeout_ms, MonotonicUs(), std::move(cb)});
  return true;
}

void BackendPools::Cancel(uint64_t ticket) {
  for (auto& [name, s] : servers_) {
    for (auto it = s.waiters.begin(); it != s.waiters.end(); ++it) {
      if (it->ticket == ticket) {
        s.waiters.erase(it);
        return;
      }
    }
  }
}

void BackendPools::OnTimer(int, short, void* arg) {
  static_cast<BackendPools*>(arg)->ExpireWaiters();
}

void BackendPools::ExpireWaiters() {
  int64_t now = MonotonicMs();
  for (auto& [name, s] : servers_) {
    // Deadlines grow along the FIFO (same timeout per cluster), so the front expires first.
    while (!s.waiters.empty() && s.waiters.front().deadline_ms <= now) {
      Waiter w = std::move(s.waiters.front());
      s.waiters.pop_front();
      w.cb(false, nullptr);
    }
  }
}

void BackendPools::CloseAll() {
  for (auto& [key, list] : idle_) {
    for (PooledConn* c : list) c->Destroy();
    list.clear();
  }
  idle_total_ = 0;
  for (auto& [name, s] : servers_) {
    while (!s.waiters.empty()) {
      Waiter w = std::move(s.waiters.front());
      s.waiters.pop_front();
      w.cb(false, nullptr);
    }
    s.open = 0;
  }
}

void BackendPools::CloseIdleTo(const std::string& server) {
  for (auto& [key, list] : idle_) {
    if (key.server != server) continue;
    // Destroy() may reach back into the pool (Forget): take the list first.
    std::vector<PooledConn*> closing;
    closing.swap(list);
    for (PooledConn* c : closing) {
      c->idle_ = false;
      --idle_total_;
      if (servers_[server].open > 0) --servers_[server].open;
      c->Destroy();
    }
  }
}

int BackendPools::open_count(const std::string& server) const {
  auto it = servers_.find(server);
  return it == servers_.end() ? 0 : it->second.open;
}

size_t BackendPools::waiting_count(const std::string& server) const {
  auto it = servers_.find(server);
  return it == servers_.end() ? 0 : it->second.waiters.size();
}

int64_t BackendPools::first_wait_since_us(const std::string& server) const {
  auto it = servers_.find(server);
  return it == servers_.end() || it->second.waiters.empty() ? 0
                                                            : it->second.waiters.front().since_us;
}

size_t BackendPools::idle_count() const {
  return idle_total_;
}

size_t BackendPools::idle_count(const std::string& server) const {
  size_t n = 0;
  for (const auto& [key, list] : idle_)
    if (key.server == server) n += list.size();
  return n;
}

}  // namespace sluice
