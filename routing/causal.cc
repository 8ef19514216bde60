#include "routing/causal.h"

#include <fmt/format.h>

#include "common/parse_number.h"
#include "protocol/mysql/wire.h"

namespace sluice::routing {
namespace {

// SESSION_TRACK_SYSTEM_VARIABLES (MySQL's session-state-change types).
constexpr uint8_t kTrackSystemVariables = 0;

}  // namespace

bool CausalPosition::MergeGtid(const CausalGtid& g) {
  for (size_t i = 0; i < count_; ++i) {
    if (gtids_[i].domain != g.domain) continue;
    if (g.seq > gtids_[i].seq) gtids_[i] = g;
    return true;
  }
  if (count_ == kMaxDomains) return false;
  gtids_[count_++] = g;
  return true;
}

bool CausalPosition::MergeGtids(std::string_view text) {
  CausalPosition next = *this;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view one = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    if (one.empty()) continue;
    size_t a = one.find('-');
    size_t b = a == std::string_view::npos ? a : one.find('-', a + 1);
    if (b == std::string_view::npos) return false;
    CausalGtid g;
    if (!ParseNumber(one.substr(0, a), 10, &g.domain) ||
        !ParseNumber(one.substr(a + 1, b - a - 1), 10, &g.server) ||
        !ParseNumber(one.substr(b + 1), 10, &g.seq) || !next.MergeGtid(g))
      return false;
  }
  *this = next;
  return true;
}

void CausalPosition::Merge(const CausalPosition& o) {
  for (const CausalGtid& g : o.gtids()) MergeGtid(g);
  MergeLsn(o.lsn_);
}

std::string CausalPosition::GtidText() const {
  std::string out;
  for (const CausalGtid& g : gtids()) {
    if (!out.empty()) out += ',';
    out += fmt::format("{}-{}-{}", g.domain, g.server, g.seq);
  }
  return out;
}

std::string CausalPosition::LsnText() const {
  return fmt::format("{:X}/{:X}", lsn_ >> 32, lsn_ & 0xFFFFFFFFu);
}

std::optional<uint64_t> ParseLsnText(std::string_view text) {
  size_t slash = text.find('/');
  uint32_t hi = 0, lo = 0;
  if (slash == std::string_view::npos || !ParseNumber(text.substr(0, slash), 16, &hi) ||
      !ParseNumber(text.substr(slash + 1), 16, &lo))
    return std::nullopt;
  return (uint64_t{hi} << 32) | lo;
}

std::optional<std::string_view> TrackedSystemVariable(std::string_view state,
                                                      std::string_view name) {
  std::optional<std::string_view> found;
  mysql::Reader r(mysql::AsBytes(state));
  while (!r.empty()) {
    uint8_t type = 0;
    std::string_view data;
    if (!r.ReadU8(&type) || !r.ReadLenEncString(&data)) return found;
    if (type != kTrackSystemVariables) continue;
    mysql::Reader entry(mysql::AsBytes(data));
    std::string_view var, value;
    if (entry.ReadLenEncString(&var) && entry.ReadLenEncString(&value) && var == name)
      found = value;
  }
  return found;
}

std::string MariadbCausalCheck(const CausalPosition& p, int wait_ms) {
  return fmt::format("SELECT MASTER_GTID_WAIT('{}', {}.{:03})", p.GtidText(), wait_ms / 1000,
                     wait_ms % 1000);
}

std::string PostgresCausalCheck(const CausalPosition& p, int wait_ms) {
  const std::string lsn = p.LsnText();
  if (wait_ms <= 0) return fmt::format("SELECT pg_last_wal_replay_lsn() >= '{}'::pg_lsn", lsn);
  // Row i is kept when it is the last, or the standby has the position (or is no standby:
  // NULL), and otherwise sleeps a step and is dropped; the first row kept answers.
  const int steps = (wait_ms + kPostgresWaitStepMs - 1) / kPostgresWaitStepMs;
  return fmt::format(
      "SELECT pg_last_wal_replay_lsn() >= '{0}'::pg_lsn FROM generate_series(0, {1}) AS i "
      "WHERE i = {1} OR (pg_last_wal_replay_lsn() >= '{0}'::pg_lsn) IS NOT FALSE OR "
      "pg_sleep({2}) IS NULL LIMIT 1",
      lsn, steps, kPostgresWaitStepMs / 1000.0);
}

bool Covers(const CausalPosition& have, const CausalPosition& want) {
  if (have.lsn() < want.lsn()) return false;
  for (const CausalGtid& w : want.gtids()) {
    bool found = false;
    for (const CausalGtid& h : have.gtids())
      if (h.domain == w.domain) found = h.seq >= w.seq;
    if (!found) return false;
  }
  return true;
}

namespace {

// FNV-1a of "host:port", without building the string (workers look up per causal read).
uint64_t ServerKey(std::string_view host, uint16_t port) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto add = [&h](char c) { h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull; };
  for (char c : host) add(c);
  add(':');
  char digits[5];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + port % 10);
    port /= 10;
  } while (port);
  while (n) add(digits[--n]);
  return h ? h : 1;
}

}  // namespace

const PositionBoard::Slot* PositionBoard::Find(uint64_t key) const {
  for (const Slot& s : slots_) {
    uint64_t k = s.key.load(std::memory_order_acquire);
    if (k == key) return &s;
    if (k == 0) return nullptr;  // slots are claimed in order and never freed
  }
  return nullptr;
}

void PositionBoard::Publish(std::string_view host, uint16_t port, const CausalPosition& pos) {
  const uint64_t key = ServerKey(host, port);
  Slot* slot = const_cast<Slot*>(Find(key));
  if (!slot) {
    for (Slot& s : slots_) {
      if (s.key.load(std::memory_order_relaxed) != 0) continue;
      slot = &s;
      break;
    }
    if (!slot) return;  // more servers than slots
  }
  // One writer: the version goes odd, the fields change, the version goes even.
  uint64_t v = slot->version.load(std::memory_order_relaxed);
  slot->version.store(v + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  slot->lsn.store(pos.lsn(), std::memory_order_relaxed);
  auto gtids = pos.gtids();
  for (size_t i = 0; i < gtids.size(); ++i) {
    slot->domain_server[i].store((uint64_t{gtids[i].domain} << 32) | gtids[i].server,
                                 std::memory_order_relaxed);
    slot->seq[i].store(gtids[i].seq, std::memory_order_relaxed);
  }
  slot->count.store(static_cast<uint32_t>(gtids.size()), std::memory_order_relaxed);
  slot->version.store(v + 2, std::memory_order_release);
  slot->key.store(key, std::memory_order_release);  // a new slot is found once it is whole
}

bool PositionBoard::Read(std::string_view host, uint16_t port, CausalPosition* out) const {
  out->Clear();
  const Slot* slot = Find(ServerKey(host, port));
  if (!slot) return false;
  uint64_t before = slot->version.load(std::memory_order_acquire);
  if (before & 1) return false;
  CausalPosition p;
  p.MergeLsn(slot->lsn.load(std::memory_order_relaxed));
  uint32_t n =
      std::min<uint32_t>(slot->count.load(std::memory_order_relaxed), CausalPosition::kMaxDomains);
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t ds = slot->domain_server[i].load(std::memory_order_relaxed);
    p.MergeGtid(CausalGtid{static_cast<uint32_t>(ds >> 32), static_cast<uint32_t>(ds),
                           slot->seq[i].load(std::memory_order_relaxed)});
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  if (slot->version.load(std::memory_order_relaxed) != before || p.empty()) return false;
  *out = p;
  return true;
}

void CausalBoard::Note(const CausalPosition& p) {
  for (const CausalGtid& g : p.gtids()) {
    const uint64_t key = uint64_t{g.domain} + 1;
    Slot* slot = nullptr;
    for (Slot& s : slots_) {
      uint64_t k = s.domain.load(std::memory_order_acquire);
      if (k == key) {
        slot = &s;
        break;
      }
      if (k == 0) {
        uint64_t expected = 0;
        if (s.domain.compare_exchange_strong(expected, key, std::memory_order_acq_rel) ||
            expected == key) {
          slot = &s;
          break;
        }
      }
    }
    if (!slot) {
      overflow_.store(true, std::memory_order_relaxed);
      continue;
    }
    uint64_t seen = slot->seq.load(std::memory_order_relaxed);
    while (g.seq > seen &&
           !slot->seq.compare_exchange_weak(seen, g.seq, std::memory_order_relaxed)) {
    }
    if (g.seq >= seen) slot->server.store(g.server, std::memory_order_relaxed);
  }
  uint64_t lsn = lsn_.load(std::memory_order_relaxed);
  while (p.lsn() > lsn && !lsn_.compare_exchange_weak(lsn, p.lsn(), std::memory_order_relaxed)) {
  }
}

bool CausalBoard::Snapshot(CausalPosition* out) const {
  out->Clear();
  for (const Slot& s : slots_) {
    uint64_t k = s.domain.load(std::memory_order_acquire);
    if (k == 0) break;
    CausalGtid g;
    g.domain = static_cast<uint32_t>(k - 1);
    g.seq = s.seq.load(std::memory_order_relaxed);
    g.server = s.server.load(std::memory_order_relaxed);
    if (g.seq) out->MergeGtid(g);
  }
  out->MergeLsn(lsn_.load(std::memory_order_relaxed));
  return !overflow_.load(std::memory_order_relaxed);
}

}  // namespace sluice::routing
