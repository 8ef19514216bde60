#include "proxy/pgsql/cancel.h"

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <openssl/rand.h>

#include <unordered_map>

#include "protocol/pgsql/startup.h"
#include "proxy/backend_socket.h"
#include "proxy/pgsql/wire.h"
#include "proxy/worker.h"

namespace sluice::pgproxy {
namespace {

struct Entry {
  uint32_t secret;
  std::shared_ptr<CancelSlot> slot;
};

std::mutex g_mu;
// By pid; a pid may be there more than once (session mode hands out the servers' own pids,
// and two servers may have the same one): the secret tells the entries apart.
std::unordered_multimap<int32_t, Entry>& Registry() {
  static auto* m = new std::unordered_multimap<int32_t, Entry>();
  return *m;
}

bool Taken(int32_t pid, uint32_t secret) {
  auto [b, e] = Registry().equal_range(pid);
  for (auto it = b; it != e; ++it)
    if (it->second.secret == secret) return true;
  return false;
}

uint32_t RandomU32() {
  uint32_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) v = 0x5eed1234;
  return v;
}

// Lives until the server closes the cancel connection, or the timeout.
class CancelConn final : private BackendSocket::Callbacks {
 public:
  static void Send(Worker* w, const BackendKey& key, int timeout_ms) {
    auto* c = new CancelConn;
    c->socket_.Connect(w->base(), w->dialer(), ParseSocketAddress(key.host, key.port), timeout_ms,
                       4096);
    std::string out;
    pgsql::AppendCancelRequest(&out, pgsql::CancelRequest{key.pid, key.secret});
    AppendTo(c->socket_.output(), out);
  }

 private:
  void OnSocketConnected() override {}
  void OnSocketReadable() override {
    evbuffer_drain(socket_.input(), evbuffer_get_length(socket_.input()));
  }
  void OnSocketFailed(const std::string&) override { delete this; }
  BackendSocket socket_{this};
};

}  // namespace

void CancelSlot::Store(int family, const uint32_t (&addr)[4], uint16_t port, int32_t pid,
                       uint32_t secret) {
  seq_.fetch_add(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  family_.store(family, std::memory_order_relaxed);
  for (int i = 0; i < 4; ++i) addr_[i].store(addr[i], std::memory_order_relaxed);
  port_.store(port, std::memory_order_relaxed);
  pid_.store(pid, std::memory_order_relaxed);
  secret_.store(secret, std::memory_order_relaxed);
  seq_.fetch_add(1, std::memory_order_release);
}

void CancelSlot::Set(const BackendKey& key) {
  uint32_t words[4] = {0, 0, 0, 0};
  int family = 0;
  if (inet_pton(AF_INET, key.host.c_str(), words) == 1)
    family = AF_INET;
  else if (inet_pton(AF_INET6, key.host.c_str(), words) == 1)
    family = AF_INET6;
  Store(family, words, key.port, key.pid, key.secret);
}

void CancelSlot::Clear() {
  const uint32_t none[4] = {0, 0, 0, 0};
  Store(0, none, 0, 0, 0);
}

std::optional<BackendKey> CancelSlot::Get() const {
  for (;;) {
    uint32_t before = seq_.load(std::memory_order_acquire);
    int family = family_.load(std::memory_order_relaxed);
    uint32_t words[4];
    for (int i = 0; i < 4; ++i) words[i] = addr_[i].load(std::memory_order_relaxed);
    uint16_t port = port_.load(std::memory_order_relaxed);
    int32_t pid = pid_.load(std::memory_order_relaxed);
    uint32_t secret = secret_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if ((before & 1) || seq_.load(std::memory_order_relaxed) != before) continue;
    if (family == 0) return std::nullopt;
    char host[INET6_ADDRSTRLEN] = {0};
    inet_ntop(family, words, host, sizeof host);
    return BackendKey{host, port, pid, secret};
  }
}

std::shared_ptr<CancelSlot> RegisterClient(int32_t server_pid, int32_t* pid, uint32_t* secret) {
  auto slot = std::make_shared<CancelSlot>();
  std::lock_guard<std::mutex> l(g_mu);
  auto& reg = Registry();
  // Bounded: the registry holds at most as many entries as live clients.
  for (int i = 0; i < 64; ++i) {
    int32_t p = server_pid > 0 ? server_pid : static_cast<int32_t>(RandomU32() & 0x7fffffff);
    uint32_t s = RandomU32();
    if (p == 0 || (server_pid <= 0 && reg.count(p)) || Taken(p, s)) continue;
    *pid = p;
    *secret = s;
    reg.emplace(p, Entry{s, slot});
    return slot;
  }
  *pid = 0;
  *secret = 0;
  return slot;
}

void UnregisterClient(int32_t pid, uint32_t secret) {
  std::lock_guard<std::mutex> l(g_mu);
  auto [b, e] = Registry().equal_range(pid);
  for (auto it = b; it != e; ++it) {
    if (it->second.secret == secret) {
      Registry().erase(it);
      return;
    }
  }
}

std::optional<BackendKey> FindCancelTarget(int32_t pid, uint32_t secret) {
  std::shared_ptr<CancelSlot> slot;
  {
    std::lock_guard<std::mutex> l(g_mu);
    auto [b, e] = Registry().equal_range(pid);
    for (auto it = b; it != e && !slot; ++it)
      if (it->second.secret == secret) slot = it->second.slot;
  }
  if (!slot) return std::nullopt;
  return slot->Get();
}

void SendCancel(Worker* w, const BackendKey& key, int timeout_ms) {
  CancelConn::Send(w, key, timeout_ms);
}

}  // namespace sluice::pgproxy
