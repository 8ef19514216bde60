#include "proxy/pgsql/cancel.h"

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <openssl/rand.h>

#include "protocol/pgsql/startup.h"
#include "proxy/backend_socket.h"
#include "proxy/pgsql/session.h"
#include "proxy/pgsql/wire.h"
#include "proxy/shared.h"
#include "proxy/worker.h"

namespace sluice::pgproxy {
namespace {

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

void CancelKeys::Register(PgSession* session, int32_t server_pid, int32_t* pid, uint32_t* secret) {
  // Bounded: a free key is found at once but with a vanishing chance.
  for (int i = 0; i < 64; ++i) {
    int32_t p = server_pid > 0 ? server_pid : static_cast<int32_t>(RandomU32() & 0x7fffffff);
    uint32_t s = RandomU32();
    if (p == 0 || (server_pid <= 0 && keys_.count(p)) || Find(p, s)) continue;
    *pid = p;
    *secret = s;
    keys_.emplace(p, Entry{s, session});
    return;
  }
  *pid = 0;
  *secret = 0;
}

void CancelKeys::Unregister(int32_t pid, uint32_t secret) {
  auto [b, e] = keys_.equal_range(pid);
  for (auto it = b; it != e; ++it) {
    if (it->second.secret == secret) {
      keys_.erase(it);
      return;
    }
  }
}

PgSession* CancelKeys::Find(int32_t pid, uint32_t secret) const {
  auto [b, e] = keys_.equal_range(pid);
  for (auto it = b; it != e; ++it)
    if (it->second.secret == secret) return it->second.session;
  return nullptr;
}

void PostCancel(Worker* w, int32_t pid, uint32_t secret) {
  if (pid == 0) return;  // never handed out
  auto cancel = [pid, secret](Worker* owner) {
    if (PgSession* s = owner->pg_cancel_keys().Find(pid, secret)) s->CancelStatement();
  };
  ProxyShared* shared = w->shared();
  if (!shared || shared->workers.empty()) {  // a worker of its own (unit tests)
    cancel(w);
    return;
  }
  for (Worker* o : shared->workers) o->Post(cancel);
}

void SendCancel(Worker* w, const BackendKey& key, int timeout_ms) {
  CancelConn::Send(w, key, timeout_ms);
}

}  // namespace sluice::pgproxy
