// Cancel keys: every PostgreSQL client gets a sluice-made (pid, secret); a CancelRequest
// carrying one is sent on to the server that runs that client's query right now, with that
// backend connection's own key. The registry is process-wide: the kernel may hand the
// cancel connection to any worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace sluice {
class Worker;
}

namespace sluice::pgproxy {

struct BackendKey {
  std::string host;  // the numeric IPv4/IPv6 address the backend connection went to
  uint16_t port = 0;
  int32_t pid = 0;
  uint32_t secret = 0;
};

// One client's entry. The owning session sets it each time it takes a backend (per
// transaction in transaction pooling) and a cancel on any worker reads it: a seqlock over
// relaxed atomics, so the session's side never takes a lock. One writer: its session.
class CancelSlot {
 public:
  // key.host is numeric (BackendSocket::ip()); one that is not clears the slot.
  void Set(const BackendKey& key);
  void Clear();
  std::optional<BackendKey> Get() const;

 private:
  void Store(int family, const uint32_t (&addr)[4], uint16_t port, int32_t pid, uint32_t secret);
  std::atomic<uint32_t> seq_{0};     // odd while a write is under way
  std::atomic<int> family_{0};       // AF_INET, AF_INET6; 0: no backend
  std::atomic<uint32_t> addr_[4]{};  // network byte order (IPv4: the first word)
  std::atomic<uint16_t> port_{0};
  std::atomic<int32_t> pid_{0};
  std::atomic<uint32_t> secret_{0};
};

// Registers a client under a fresh key; returns the key through pid/secret. server_pid > 0:
// the key's pid is that one (session mode: the server's own), with a secret no other entry
// of that pid has; 0: a pid sluice picks that no live client has.
std::shared_ptr<CancelSlot> RegisterClient(int32_t server_pid, int32_t* pid, uint32_t* secret);
void UnregisterClient(int32_t pid, uint32_t secret);
// The backend currently serving the client with this key, if the key matches a live one.
std::optional<BackendKey> FindCancelTarget(int32_t pid, uint32_t secret);
// Opens a connection to key's server and sends CancelRequest; fire and forget, bounded.
void SendCancel(Worker* w, const BackendKey& key, int timeout_ms);

}  // namespace sluice::pgproxy
