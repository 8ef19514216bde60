#include "proxy/pgsql/cancel.h"

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <openssl/rand.h>

#include <unordered_map>

#include "protocol/pgsql/startup.h"
#include "proxy/pgsql/wire.h"
#include "proxy/worker.h"

namespace sluice::pgproxy {
namespace {

struct Entry {
  uint32_t secret;
  std::shared_ptr<CancelSlot> slot;
};

std::mutex g_mu;
std::unordered_map<int32_t, Entry>& Registry() {
  static auto* m = new std::unordered_map<int32_t, Entry>();
  return *m;
}

uint32_t RandomU32() {
  uint32_t v = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v) != 1) v = 0x5eed1234;
  return v;
}

// Lives until the server closes the cancel connection, or the timeout.
struct CancelConn {
  bufferevent* bev;
  static void OnEvent(bufferevent* bev, short what, void* arg) {
    auto* c = static_cast<CancelConn*>(arg);
    if (what & BEV_EVENT_CONNECTED) return;
    bufferevent_free(bev);
    delete c;
  }
  static void OnRead(bufferevent* bev, void*) {
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
  }
};

}  // namespace

void CancelSlot::Store(uint32_t addr, uint16_t port, int32_t pid, uint32_t secret) {
  seq_.fetch_add(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  addr_.store(addr, std::memory_order_relaxed);
  port_.store(port, std::memory_order_relaxed);
  pid_.store(pid, std::memory_order_relaxed);
  secret_.store(secret, std::memory_order_relaxed);
  seq_.fetch_add(1, std::memory_order_release);
}

void CancelSlot::Set(const BackendKey& key) {
  in_addr a{};
  if (inet_pton(AF_INET, key.host.c_str(), &a) != 1) a.s_addr = 0;
  Store(a.s_addr, key.port, key.pid, key.secret);
}

void CancelSlot::Clear() {
  Store(0, 0, 0, 0);
}

std::optional<BackendKey> CancelSlot::Get() const {
  for (;;) {
    uint32_t before = seq_.load(std::memory_order_acquire);
    uint32_t addr = addr_.load(std::memory_order_relaxed);
    uint16_t port = port_.load(std::memory_order_relaxed);
    int32_t pid = pid_.load(std::memory_order_relaxed);
    uint32_t secret = secret_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if ((before & 1) || seq_.load(std::memory_order_relaxed) != before) continue;
    if (addr == 0) return std::nullopt;
    char host[INET_ADDRSTRLEN];
    in_addr a{addr};
    inet_ntop(AF_INET, &a, host, sizeof host);
    return BackendKey{host, port, pid, secret};
  }
}

std::shared_ptr<CancelSlot> RegisterClient(int32_t* pid, uint32_t* secret) {
  auto slot = std::make_shared<CancelSlot>();
  std::lock_guard<std::mutex> l(g_mu);
  auto& reg = Registry();
  // Bounded: the registry holds at most as many entries as live clients.
  for (int i = 0; i < 64; ++i) {
    int32_t p = static_cast<int32_t>(RandomU32() & 0x7fffffff);
    if (p == 0 || reg.count(p)) continue;
    *pid = p;
    *secret = RandomU32();
    reg[p] = Entry{*secret, slot};
    return slot;
  }
  *pid = 0;
  *secret = 0;
  return slot;
}

void UnregisterClient(int32_t pid) {
  std::lock_guard<std::mutex> l(g_mu);
  Registry().erase(pid);
}

std::optional<BackendKey> FindCancelTarget(int32_t pid, uint32_t secret) {
  std::shared_ptr<CancelSlot> slot;
  {
    std::lock_guard<std::mutex> l(g_mu);
    auto it = Registry().find(pid);
    if (it == Registry().end() || it->second.secret != secret) return std::nullopt;
    slot = it->second.slot;
  }
  return slot->Get();
}

void SendCancel(Worker* w, const BackendKey& key, int timeout_ms) {
  auto* c = new CancelConn{bufferevent_socket_new(w->base(), -1, BEV_OPT_CLOSE_ON_FREE)};
  bufferevent_setcb(c->bev, &CancelConn::OnRead, nullptr, &CancelConn::OnEvent, c);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  bufferevent_set_timeouts(c->bev, &tv, &tv);
  std::string out;
  pgsql::AppendCancelRequest(&out, pgsql::CancelRequest{key.pid, key.secret});
  AppendTo(bufferevent_get_output(c->bev), out);
  bufferevent_enable(c->bev, EV_READ | EV_WRITE);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(key.port);
  inet_pton(AF_INET, key.host.c_str(), &sin.sin_addr);
  if (bufferevent_socket_connect(c->bev, reinterpret_cast<sockaddr*>(&sin), sizeof sin) < 0)
    bufferevent_trigger_event(c->bev, BEV_EVENT_ERROR, BEV_TRIG_DEFER_CALLBACKS);
}

}  // namespace sluice::pgproxy
