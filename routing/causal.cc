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

std::string PostgresCausalCheck(const CausalPosition& p) {
  return fmt::format("SELECT pg_last_wal_replay_lsn() >= '{}'::pg_lsn", p.LsnText());
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
