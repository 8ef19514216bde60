// Cancel keys: every PostgreSQL client gets a sluice-made (pid, secret); a CancelRequest
// carrying one is sent on to the server that runs that client's query right now, with that
// backend connection's own key. The registry is process-wide: the kernel may hand the
// cancel connection to any worker.
#pragma once

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
  std::string host;
  uint16_t port = 0;
  int32_t pid = 0;
  uint32_t secret = 0;
};

// One client's entry; the session updates it as it takes and gives back backends.
class CancelSlot {
 public:
  void Set(BackendKey k) {
    std::lock_guard<std::mutex> l(mu_);
    key_ = std::move(k);
  }
  void Clear() {
    std::lock_guard<std::mutex> l(mu_);
    key_.reset();
  }
  std::optional<BackendKey> Get() const {
    std::lock_guard<std::mutex> l(mu_);
    return key_;
  }

 private:
  mutable std::mutex mu_;
  std::optional<BackendKey> key_;
};

// Registers a client under a fresh key; returns the key through pid/secret.
std::shared_ptr<CancelSlot> RegisterClient(int32_t* pid, uint32_t* secret);
void UnregisterClient(int32_t pid);
// The backend currently serving the client with this key, if the key matches a live one.
std::optional<BackendKey> FindCancelTarget(int32_t pid, uint32_t secret);
// Opens a connection to key's server and sends CancelRequest; fire and forget, bounded.
void SendCancel(Worker* w, const BackendKey& key, int timeout_ms);

}  // namespace sluice::pgproxy
