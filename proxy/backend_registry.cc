#include "proxy/backend_registry.h"

namespace sluice {

const char* BackendPhaseName(BackendPhase p) {
  switch (p) {
    case BackendPhase::kNew:
      return "new";
    case BackendPhase::kActive:
      return "active";
    case BackendPhase::kIdle:
      return "idle";
  }
  return "?";
}

void BackendSlot::Open(uint64_t id, int worker, bool pgsql, std::string_view server,
                       std::string_view user, std::string_view database, int64_t now_ms) {
  seq_.Begin();
  id_.store(id, std::memory_order_relaxed);
  worker_.store(worker, std::memory_order_relaxed);
  pgsql_.store(pgsql ? 1 : 0, std::memory_order_relaxed);
  phase_.store(static_cast<uint8_t>(BackendPhase::kNew), std::memory_order_relaxed);
  tls_.store(0, std::memory_order_relaxed);
  since_ms_.store(now_ms, std::memory_order_relaxed);
  opened_ms_.store(now_ms, std::memory_order_relaxed);
  remote_id_.store(0, std::memory_order_relaxed);
  server_.Store(server);
  user_.Store(user);
  database_.Store(database);
  seq_.End();
}

void BackendSlot::SetReady(uint32_t remote_id, bool tls) {
  seq_.Begin();
  remote_id_.store(remote_id, std::memory_order_relaxed);
  tls_.store(tls ? 1 : 0, std::memory_order_relaxed);
  seq_.End();
}

void BackendSlot::SetPhase(BackendPhase p, int64_t now_ms) {
  seq_.Begin();
  phase_.store(static_cast<uint8_t>(p), std::memory_order_relaxed);
  since_ms_.store(now_ms, std::memory_order_relaxed);
  seq_.End();
}

void BackendSlot::Free() {
  seq_.Begin();
  id_.store(0, std::memory_order_relaxed);
  seq_.End();
}

std::optional<BackendInfo> BackendSlot::Read() const {
  BackendInfo b;
  seq_.Read([&] {
    b.id = id_.load(std::memory_order_relaxed);
    b.worker = worker_.load(std::memory_order_relaxed);
    b.pgsql = pgsql_.load(std::memory_order_relaxed) != 0;
    b.phase = static_cast<BackendPhase>(phase_.load(std::memory_order_relaxed));
    b.tls = tls_.load(std::memory_order_relaxed) != 0;
    b.phase_since_ms = since_ms_.load(std::memory_order_relaxed);
    b.opened_ms = opened_ms_.load(std::memory_order_relaxed);
    b.remote_id = remote_id_.load(std::memory_order_relaxed);
    b.server = server_.Load();
    b.user = user_.Load();
    b.database = database_.Load();
  });
  if (b.id == 0) return std::nullopt;
  return b;
}

// A worker's part (proxy/slot_table.h) and the count of ids it has handed out.
struct BackendRegistry::Part : SlotPart<BackendSlot, kChunk, kMaxChunks> {
  uint64_t opened = 0;  // the owner's only
};

BackendRegistry::BackendRegistry() = default;

BackendRegistry::~BackendRegistry() {
  for (auto& p : parts_) delete p.load();
}

BackendSlot* BackendRegistry::Register(int worker, bool pgsql, std::string_view server,
                                       std::string_view user, std::string_view database,
                                       int64_t now_ms) {
  if (worker < 0 || worker >= kMaxWorkers) return nullptr;
  Part* part = parts_[worker].load(std::memory_order_acquire);
  if (!part) {
    part = new Part;
    parts_[worker].store(part, std::memory_order_release);
  }
  uint32_t local;
  if (!part->Take(&local)) {
    untracked_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  BackendSlot* slot = part->At(local);
  slot->local = local;
  // Ids never repeat: the worker in the low byte, its count of connections above it.
  uint64_t id = (++part->opened << 8) | static_cast<uint64_t>(worker);
  slot->Open(id, worker, pgsql, server, user, database, now_ms);
  return slot;
}

void BackendRegistry::Unregister(int worker, BackendSlot* slot) {
  if (!slot || worker < 0 || worker >= kMaxWorkers) return;
  slot->Free();
  Part* part = parts_[worker].load(std::memory_order_relaxed);
  if (!part) return;
  part->Give(slot->local);
}

std::vector<BackendInfo> BackendRegistry::Snapshot() const {
  std::vector<BackendInfo> out;
  Part::Snapshot(parts_, &out);
  return out;
}

}  // namespace sluice
