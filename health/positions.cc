#include "health/positions.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/parse_number.h"
#include "routing/causal.h"

namespace sluice::health {

std::optional<GtidPos> ParseGtidPos(std::string_view text) {
  GtidPos out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view one = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    while (!one.empty() && (one.front() == ' ' || one.front() == '\n')) one.remove_prefix(1);
    if (one.empty()) continue;
    size_t d1 = one.find('-');
    size_t d2 = d1 == std::string_view::npos ? d1 : one.find('-', d1 + 1);
    if (d2 == std::string_view::npos) return std::nullopt;
    uint32_t domain = 0, server = 0;
    uint64_t seq = 0;
    if (!ParseNumber(one.substr(0, d1), 10, &domain) ||
        !ParseNumber(one.substr(d1 + 1, d2 - d1 - 1), 10, &server) ||
        !ParseNumber(one.substr(d2 + 1), 10, &seq))
      return std::nullopt;
    out[domain] = seq;
  }
  return out;
}

bool GtidCovers(const GtidPos& a, const GtidPos& b) {
  for (const auto& [domain, seq] : b) {
    auto it = a.find(domain);
    if (it == a.end() ? seq > 0 : it->second < seq) return false;
  }
  return true;
}

uint64_t GtidWeight(const GtidPos& p) {
  uint64_t sum = 0;
  for (const auto& [domain, seq] : p) sum += seq;
  return sum;
}

std::optional<uint64_t> ParseLsn(std::string_view text) {
  return routing::ParseLsnText(text);
}

uint64_t Behind(const Position& have, const Position& want) {
  uint64_t sum = 0;
  for (const auto& [stream, seq] : want) {
    auto it = have.find(stream);
    uint64_t mine = it == have.end() ? 0 : it->second;
    if (mine < seq) sum += seq - mine;
  }
  return sum;
}

Position Furthest(const Position& a, const Position& b) {
  Position out = a;
  for (const auto& [stream, seq] : b) out[stream] = std::max(out[stream], seq);
  return out;
}

std::string PositionText(const Position& p) {
  std::string out;
  for (const auto& [stream, seq] : p)
    out += fmt::format("{}{}:{}", out.empty() ? "" : ",", stream, seq);
  return out.empty() ? "unknown" : out;
}

bool Hysteresis::Observe(bool good) {
  if (good) {
    bad_ = 0;
    ++good_;
    if (!healthy_ && good_ >= recover_) return healthy_ = true;
    return false;
  }
  good_ = 0;
  ++bad_;
  if (healthy_ && bad_ >= fail_) {
    healthy_ = false;
    return true;
  }
  return false;
}

std::optional<Candidate> PickCandidate(const std::vector<Candidate>& all, std::string* why) {
  const Candidate* best = nullptr;
  std::string excluded;
  for (const Candidate& c : all) {
    const char* reason = !c.reachable           ? "unreachable"
                         : c.operator_offline   ? "offline by the operator"
                         : c.replication_broken ? "replication broken"
                                                : nullptr;
    std::string text = reason ? reason : "";
    if (!reason && c.behind > 0)
      text = fmt::format("{} behind the primary's last position", c.behind);
    if (!text.empty()) {
      excluded += fmt::format("{}{}: {}", excluded.empty() ? "" : "; ", c.name, text);
      continue;
    }
    if (!best || c.position > best->position ||
        (c.position == best->position &&
         (c.priority > best->priority || (c.priority == best->priority && c.name < best->name))))
      best = &c;
  }
  if (best) return *best;
  *why = all.empty() ? "no replica configured" : "no eligible replica (" + excluded + ")";
  return std::nullopt;
}

}  // namespace sluice::health
