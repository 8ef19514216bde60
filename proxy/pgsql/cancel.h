// Cancel keys: every PostgreSQL client gets a (pid, secret) from the worker that owns it; a
// CancelRequest carrying one is posted to every worker (the kernel may hand the cancel
// connection to any of them), and the owner sends it on to the server that runs that
// client's statement, with that backend connection's own key. No lock anywhere: each
// worker's table is its thread's alone (docs/architecture.md, "Cancel and KILL").
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace sluice {
class Worker;
}

namespace sluice::pgproxy {

class PgSession;

struct BackendKey {
  std::string host;  // the numeric IPv4/IPv6 address the backend connection went to
  uint16_t port = 0;
  int32_t pid = 0;
  uint32_t secret = 0;
};

// The keys of one worker's clients. Only that worker's thread touches it.
class CancelKeys {
 public:
  // A fresh key for SESSION into *pid, *secret. server_pid > 0: the key's pid is that one
  // (session mode: the server's own) with a secret no other client of this worker has with
  // that pid; 0: a random pid no other client of this worker has. Keys of two workers may
  // share a pid, never (but by a 2^-32 chance) a pid and a secret.
  void Register(PgSession* session, int32_t server_pid, int32_t* pid, uint32_t* secret);
  void Unregister(int32_t pid, uint32_t secret);
  PgSession* Find(int32_t pid, uint32_t secret) const;
  size_t size() const { return keys_.size(); }

 private:
  struct Entry {
    uint32_t secret;
    PgSession* session;
  };
  // By pid; a pid may be there more than once (session mode hands out the servers' own
  // pids, and two servers may have the same one): the secret tells the entries apart.
  std::unordered_multimap<int32_t, Entry> keys_;
};

// On any worker: the client with key (pid, secret), wherever it is, has the statement it
// runs now cancelled on its server (a CancelRequest with its backend's key). Fire and forget:
// no answer goes to the requester, as a server gives none.
void PostCancel(Worker* w, int32_t pid, uint32_t secret);
// Opens a connection to key's server and sends CancelRequest; fire and forget, bounded.
void SendCancel(Worker* w, const BackendKey& key, int timeout_ms);

}  // namespace sluice::pgproxy
