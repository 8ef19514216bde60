// SessionRegistry: every client session of the process, by the connection id sluice gave
// it, readable from any thread without a lock (KILL from another worker, the admin port's
// process list). Each worker owns its own part of the table and is the only writer of its
// slots; a slot's fields are a seqlock over relaxed atomics, as the PostgreSQL cancel slots.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/slot_table.h"

namespace sluice {

class ClientSession;

// Where a session is, as the process list shows it.
enum class SessionPhase : uint8_t {
  kLogin,      // handshake / authentication
  kIdle,       // between statements
  kWaiting,    // a statement waits for a backend connection (pool, paused writes)
  kActive,     // a statement runs on a backend connection
  kIdleInTxn,  // between statements, inside a transaction (its connection held)
};
const char* SessionPhaseName(SessionPhase p);

// One session as read from its slot (a copy; the session may have moved on since).
struct SessionInfo {
  uint32_t id = 0;
  int worker = 0;
  bool pgsql = false;
  uint32_t cluster_index = 0;
  std::string user;
  std::string client_addr;
  SessionPhase phase = SessionPhase::kLogin;
  int64_t phase_since_ms = 0;   // monotonic (common/clock.h MonotonicMs)
  std::string backend;          // "host:port" of the backend connection held, or ""
  uint32_t backend_thread = 0;  // its server thread id (MySQL) or pid (PostgreSQL)
  std::string digest;           // of the current (or last) statement, truncated
  std::string schema;           // the client's schema / database at that statement
};

// One session's entry. Written only by the worker that owns the session, read anywhere.
class SessionSlot {
 public:
  static constexpr size_t kMaxUser = 80, kMaxAddr = 64, kMaxDigest = 256;

  std::optional<SessionInfo> Read() const;  // nullopt: free
  uint32_t id_unsafe() const { return id_.load(std::memory_order_relaxed); }

  // The owner's writes.
  void Open(uint32_t id, int worker, bool pgsql, uint32_t cluster, std::string_view client_addr,
            int64_t now_ms);
  void SetUser(std::string_view user);
  // A new phase, since now; digest and schema (when not null) replace the statement's.
  void SetPhase(SessionPhase p, int64_t now_ms, const std::string* digest = nullptr,
                const std::string* schema = nullptr);
  void SetBackend(std::string_view server, uint32_t thread);
  void ClearBackend() { SetBackend("", 0); }
  void Free();

  ClientSession* owner = nullptr;  // the owner thread's only
  uint32_t generation = 0;         // the owner thread's only

 private:
  SeqCount seq_;
  std::atomic<uint32_t> id_{0};  // 0: free
  std::atomic<int32_t> worker_{0};
  std::atomic<uint8_t> pgsql_{0};
  std::atomic<uint32_t> cluster_{0};
  std::atomic<uint8_t> phase_{0};
  std::atomic<int64_t> since_ms_{0};
  std::atomic<uint32_t> backend_thread_{0};
  AtomicText<kMaxUser> user_;
  AtomicText<kMaxAddr> addr_;
  AtomicText<kMaxAddr> backend_;
  AtomicText<kMaxDigest> digest_;
  AtomicText<kMaxAddr> schema_;
};

class SessionRegistry {
 public:
  // Sessions one worker can hold at once (the registry's bound; a session beyond it is
  // refused like one over max_client_connections).
  static constexpr uint32_t kChunk = 1024, kMaxChunks = 64, kPerWorker = kChunk * kMaxChunks;
  static constexpr int kMaxWorkers = 256;

  SessionRegistry();
  ~SessionRegistry();
  SessionRegistry(const SessionRegistry&) = delete;
  SessionRegistry& operator=(const SessionRegistry&) = delete;

  // On worker WORKER's thread (of WORKERS): a free slot with a fresh id, or nullptr when the
  // worker holds kPerWorker sessions.
  SessionSlot* Register(int worker, int workers, ClientSession* owner, bool pgsql, uint32_t cluster,
                        std::string_view client_addr, int64_t now_ms);
  // On the owner's thread.
  void Unregister(int worker, SessionSlot* slot);
  // On the owner's thread: the session with ID, if it is this worker's and still open.
  ClientSession* LocalOwner(int worker, uint32_t id) const;
  // Any thread: the worker that owns ID (-1: none could).
  int WorkerOf(uint32_t id) const;
  // Any thread.
  std::optional<SessionInfo> Find(uint32_t id) const;
  std::vector<SessionInfo> Snapshot() const;

  // KILLs sluice carried out (from clients and the admin port), and the ones it refused
  // (unknown id, not the caller's): relaxed counters, a KILL is rare.
  struct KillCounters {
    std::atomic<uint64_t> query{0};
    std::atomic<uint64_t> connection{0};
    std::atomic<uint64_t> refused{0};
  };
  KillCounters& kills() { return kills_; }
  const KillCounters& kills() const { return kills_; }

 private:
  struct Part;
  SessionSlot* SlotOf(uint32_t id, int* worker) const;
  std::atomic<int> workers_{0};
  std::atomic<Part*> parts_[kMaxWorkers]{};
  KillCounters kills_;
};

}  // namespace sluice
