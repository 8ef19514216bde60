#include "proxy/session_registry.h"

namespace sluice {

const char* SessionPhaseName(SessionPhase p) {
  switch (p) {
    case SessionPhase::kLogin:
      return "login";
    case SessionPhase::kIdle:
      return "idle";
    case SessionPhase::kWaiting:
      return "waiting";
    case SessionPhase::kActive:
      return "active";
    case SessionPhase::kIdleInTxn:
      return "idle in transaction";
  }
  return "?";
}

void SessionSlot::Open(uint32_t id, int worker, bool pgsql, uint32_t cluster,
                       std::string_view client_addr, int64_t now_ms) {
  seq_.Begin();
  id_.store(id, std::memory_order_relaxed);
  worker_.store(worker, std::memory_order_relaxed);
  pgsql_.store(pgsql ? 1 : 0, std::memory_order_relaxed);
  cluster_.store(cluster, std::memory_order_relaxed);
  phase_.store(static_cast<uint8_t>(SessionPhase::kLogin), std::memory_order_relaxed);
  since_ms_.store(now_ms, std::memory_order_relaxed);
  backend_thread_.store(0, std::memory_order_relaxed);
  user_.Store("");
  addr_.Store(client_addr);
  backend_.Store("");
  digest_.Store("");
  schema_.Store("");
  seq_.End();
}

void SessionSlot::SetUser(std::string_view user) {
  seq_.Begin();
  user_.Store(user);
  seq_.End();
}

void SessionSlot::SetPhase(SessionPhase p, int64_t now_ms, const std::string* digest,
                           const std::string* schema) {
  seq_.Begin();
  phase_.store(static_cast<uint8_t>(p), std::memory_order_relaxed);
  since_ms_.store(now_ms, std::memory_order_relaxed);
  if (digest) digest_.Store(*digest);
  if (schema) schema_.Store(*schema);
  seq_.End();
}

void SessionSlot::SetBackend(std::string_view server, uint32_t thread) {
  seq_.Begin();
  backend_.Store(server);
  backend_thread_.store(thread, std::memory_order_relaxed);
  seq_.End();
}

void SessionSlot::Free() {
  seq_.Begin();
  id_.store(0, std::memory_order_relaxed);
  seq_.End();
  owner = nullptr;
}

std::optional<SessionInfo> SessionSlot::Read() const {
  SessionInfo s;
  seq_.Read([&] {
    s.id = id_.load(std::memory_order_relaxed);
    s.worker = worker_.load(std::memory_order_relaxed);
    s.pgsql = pgsql_.load(std::memory_order_relaxed) != 0;
    s.cluster_index = cluster_.load(std::memory_order_relaxed);
    s.phase = static_cast<SessionPhase>(phase_.load(std::memory_order_relaxed));
    s.phase_since_ms = since_ms_.load(std::memory_order_relaxed);
    s.backend_thread = backend_thread_.load(std::memory_order_relaxed);
    s.user = user_.Load();
    s.client_addr = addr_.Load();
    s.backend = backend_.Load();
    s.digest = digest_.Load();
    s.schema = schema_.Load();
  });
  if (s.id == 0) return std::nullopt;
  return s;
}

// A worker's part of the table and its free list (proxy/slot_table.h).
struct SessionRegistry::Part : SlotPart<SessionSlot, kChunk, kMaxChunks> {};

SessionRegistry::SessionRegistry() = default;

SessionRegistry::~SessionRegistry() {
  for (auto& p : parts_) delete p.load();
}

SessionSlot* SessionRegistry::Register(int worker, int workers, ClientSession* owner, bool pgsql,
                                       uint32_t cluster, std::string_view client_addr,
                                       int64_t now_ms) {
  if (worker < 0 || worker >= kMaxWorkers || workers < 1) return nullptr;
  workers_.store(workers, std::memory_order_relaxed);
  Part* part = parts_[worker].load(std::memory_order_acquire);
  if (!part) {
    part = new Part;
    parts_[worker].store(part, std::memory_order_release);
  }
  uint32_t local;
  if (!part->Take(&local)) return nullptr;
  SessionSlot* slot = part->At(local);
  // id = 1 + worker + workers * (local + kPerWorker * generation), within 32 bits.
  uint64_t span = uint64_t{kPerWorker} * static_cast<uint64_t>(workers);
  uint64_t generations = ((uint64_t{1} << 32) - 1) / span;
  if (generations == 0) generations = 1;
  uint64_t gen = slot->generation % generations;
  slot->generation = static_cast<uint32_t>((gen + 1) % generations);  // the next session's
  uint64_t id = 1 + static_cast<uint64_t>(worker) +
                static_cast<uint64_t>(workers) * (local + uint64_t{kPerWorker} * gen);
  slot->owner = owner;
  slot->Open(static_cast<uint32_t>(id), worker, pgsql, cluster, client_addr, now_ms);
  return slot;
}

void SessionRegistry::Unregister(int worker, SessionSlot* slot) {
  if (!slot) return;
  Part* part = parts_[worker].load(std::memory_order_relaxed);
  uint32_t id = slot->id_unsafe();
  slot->Free();
  int w = 0;
  if (part && SlotOf(id, &w) == slot) {
    int workers = workers_.load(std::memory_order_relaxed);
    part->Give(static_cast<uint32_t>(((id - 1) / workers) % kPerWorker));
  }
}

SessionSlot* SessionRegistry::SlotOf(uint32_t id, int* worker) const {
  int workers = workers_.load(std::memory_order_relaxed);
  if (id == 0 || workers < 1) return nullptr;
  *worker = static_cast<int>((id - 1) % static_cast<uint32_t>(workers));
  if (*worker >= kMaxWorkers) return nullptr;
  Part* part = parts_[*worker].load(std::memory_order_acquire);
  if (!part) return nullptr;
  uint32_t local = ((id - 1) / static_cast<uint32_t>(workers)) % kPerWorker;
  if (local >= part->used()) return nullptr;
  return part->At(local);
}

ClientSession* SessionRegistry::LocalOwner(int worker, uint32_t id) const {
  int w = -1;
  SessionSlot* slot = SlotOf(id, &w);
  if (!slot || w != worker || slot->id_unsafe() != id) return nullptr;
  return slot->owner;
}

int SessionRegistry::WorkerOf(uint32_t id) const {
  int w = -1;
  return SlotOf(id, &w) ? w : -1;
}

std::optional<SessionInfo> SessionRegistry::Find(uint32_t id) const {
  int w = -1;
  SessionSlot* slot = SlotOf(id, &w);
  if (!slot) return std::nullopt;
  auto s = slot->Read();
  if (!s || s->id != id) return std::nullopt;
  return s;
}

std::vector<SessionInfo> SessionRegistry::Snapshot() const {
  std::vector<SessionInfo> out;
  Part::Snapshot(parts_, &out);
  return out;
}

}  // namespace sluice
