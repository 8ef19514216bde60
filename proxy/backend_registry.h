// BackendRegistry: every backend connection of the process, readable from any thread
// without a lock (the admin port's SHOW SERVERS / stats_backends). Each worker writes only
// its own part; a slot's fields are a seqlock over relaxed atomics, as SessionRegistry's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/slot_table.h"

namespace sluice {

// Where a backend connection is, as PgBouncer's SHOW SERVERS names it.
enum class BackendPhase : uint8_t {
  kNew,     // connecting and logging in
  kActive,  // held by a client session
  kIdle,    // in the pool (or being reset for it)
};
const char* BackendPhaseName(BackendPhase p);

// One backend connection as read from its slot (a copy).
struct BackendInfo {
  uint64_t id = 0;  // unique for the process lifetime
  int worker = 0;
  bool pgsql = false;
  std::string server;    // "host:port" as configured
  std::string user;      // the user it logged in as
  std::string database;  // the schema / database it logged in with ("" for none)
  BackendPhase phase = BackendPhase::kNew;
  int64_t phase_since_ms = 0;  // monotonic (common/clock.h MonotonicMs)
  int64_t opened_ms = 0;       // when the connect started, monotonic
  uint32_t remote_id = 0;      // the server's thread id (MySQL) or backend pid (PostgreSQL)
  bool tls = false;
};

class BackendSlot {
 public:
  static constexpr size_t kMaxText = 80;
  std::optional<BackendInfo> Read() const;  // nullopt: free

  // The owner's writes.
  void Open(uint64_t id, int worker, bool pgsql, std::string_view server, std::string_view user,
            std::string_view database, int64_t now_ms);
  void SetReady(uint32_t remote_id, bool tls);
  void SetPhase(BackendPhase p, int64_t now_ms);
  BackendPhase phase() const {  // the owner's read
    return static_cast<BackendPhase>(phase_.load(std::memory_order_relaxed));
  }
  void Free();

  uint32_t local = 0;  // its index in the worker's part: the owner thread's only

 private:
  SeqCount seq_;
  std::atomic<uint64_t> id_{0};  // 0: free
  std::atomic<int32_t> worker_{0};
  std::atomic<uint8_t> pgsql_{0};
  std::atomic<uint8_t> phase_{0};
  std::atomic<uint8_t> tls_{0};
  std::atomic<int64_t> since_ms_{0};
  std::atomic<int64_t> opened_ms_{0};
  std::atomic<uint32_t> remote_id_{0};
  AtomicText<kMaxText> server_;
  AtomicText<kMaxText> user_;
  AtomicText<kMaxText> database_;
};

class BackendRegistry {
 public:
  // Connections one worker can have open at once in the registry; one beyond it still
  // works, it is only missing from SHOW SERVERS (and counted in untracked()).
  static constexpr uint32_t kChunk = 1024, kMaxChunks = 64;
  static constexpr int kMaxWorkers = 256;

  BackendRegistry();
  ~BackendRegistry();
  BackendRegistry(const BackendRegistry&) = delete;
  BackendRegistry& operator=(const BackendRegistry&) = delete;

  // On worker WORKER's thread: a slot for a new connection, or nullptr.
  BackendSlot* Register(int worker, bool pgsql, std::string_view server, std::string_view user,
                        std::string_view database, int64_t now_ms);
  // On the owner's thread.
  void Unregister(int worker, BackendSlot* slot);
  // Any thread.
  std::vector<BackendInfo> Snapshot() const;
  uint64_t untracked() const { return untracked_.load(std::memory_order_relaxed); }

 private:
  struct Part;
  std::atomic<Part*> parts_[kMaxWorkers]{};
  std::atomic<uint64_t> untracked_{0};
};

}  // namespace sluice
