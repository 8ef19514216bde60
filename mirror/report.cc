#include "mirror/report.h"

#include <algorithm>

#include <fmt/format.h>

namespace sluice::mirror {
namespace {

double Ratio(uint64_t shadow, uint64_t source) {
  return source ? static_cast<double>(shadow) / static_cast<double>(source) : 0.0;
}

}  // namespace

std::string VerdictName(unsigned v) {
  if (v == kOk) return "ok";
  std::string out;
  auto add = [&](const char* s) { out += (out.empty() ? "" : ", ") + std::string(s); };
  if (v & kSlower) add("slower");
  if (v & kNewErrors) add("new errors");
  if (v & kDifferentResults) add("different results");
  return out;
}

bool SlowerSample(const LogHistogram& source, const LogHistogram& shadow, const ReportSettings& s) {
  uint64_t min = std::max<uint64_t>(s.min_samples, 1);
  // Successful executions on both sides: the histograms hold only those.
  if (source.count() < min || shadow.count() < min) return false;
  uint64_t src = source.Percentile(0.95);
  uint64_t sh = shadow.Percentile(0.95);
  // A source p95 of 0 µs (too fast to measure) counts as 1 µs.
  return static_cast<double>(sh) >=
             s.slower_ratio * static_cast<double>(std::max<uint64_t>(src, 1)) &&
         sh >= src + s.slower_min_us;
}

unsigned DecideVerdict(const DigestAgg& d, const ReportSettings& s) {
  unsigned v = kOk;
  if (SlowerSample(d.source.latency, d.shadow.latency, s)) v |= kSlower;
  if (d.new_errors) v |= kNewErrors;
  if (d.read && d.result_mismatches) v |= kDifferentResults;
  return v;
}

std::string DigestHex(uint64_t hash) {
  return fmt::format("0x{:016X}", hash);
}

void MirrorReport::SetSettings(const std::string& mirror, ReportSettings s) {
  std::lock_guard<std::mutex> lock(mu_);
  settings_[mirror] = s;
  mirrors_.try_emplace(mirror);  // a configured mirror reports (empty) before its first outcome
}

ReportSettings MirrorReport::SettingsLocked(std::string_view mirror) const {
  auto it = settings_.find(mirror);
  return it == settings_.end() ? defaults_ : it->second;
}

ReportSettings MirrorReport::SettingsOf(std::string_view mirror) const {
  std::lock_guard<std::mutex> lock(mu_);
  return SettingsLocked(mirror);
}

void MirrorReport::SetEventSink(EventSink sink) {
  std::lock_guard<std::mutex> lock(mu_);
  sink_ = std::move(sink);
}

void MirrorReport::AddMailbox(PartialMailbox* mailbox) {
  std::lock_guard<std::mutex> lock(mu_);
  mailboxes_.push_back(mailbox);
}

void MirrorReport::Poll() {
  std::vector<std::unique_ptr<MirrorPartial>> taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (PartialMailbox* m : mailboxes_)
      if (auto p = m->Take()) taken.push_back(std::move(p));
  }
  for (const auto& p : taken) Merge(*p);
}

void MirrorReport::Entry::Add(const DigestAgg& d) {
  agg.Merge(d);
  if (!judging) return;
  window_source.Merge(d.source.latency);
  window_shadow.Merge(d.shadow.latency);
}

void MirrorReport::Decide(const std::string& mirror, const ReportSettings& s, State* st,
                          uint64_t hash, bool other, Entry* e) {
  unsigned v = DecideVerdict(e->agg, s);
  uint64_t min = std::max<uint64_t>(s.min_samples, 1);
  auto restart = [e](bool judging) {
    e->judging = judging;
    e->window_source.Clear();
    e->window_shadow.Clear();
  };
  if (!(v & kSlower)) {
    e->slower = false;  // not (or no longer) slower over all its executions
    restart(false);
  } else if (!e->slower) {
    if (!e->judging) {
      restart(true);  // the executions from the next partial on judge it
    } else if (e->window_source.count() >= min && e->window_shadow.count() >= min) {
      e->slower = SlowerSample(e->window_source, e->window_shadow, s);
      restart(!e->slower);
    }
  }
  e->verdict = (v & ~unsigned{kSlower}) | (e->slower ? unsigned{kSlower} : 0u);
  if (e->verdict == kOk || e->raised) return;
  e->raised = true;
  ++st->events_raised;
  if (!sink_) return;
  const DigestAgg& d = e->agg;
  std::string msg = fmt::format("digest {} ({}): {}", other ? "other" : DigestHex(hash),
                                other ? "digests over the cap" : d.digest_text.substr(0, 200),
                                VerdictName(e->verdict));
  if (e->verdict & kSlower)
    msg += fmt::format("; p95 source {} us, shadow {} us", d.source.latency.Percentile(0.95),
                       d.shadow.latency.Percentile(0.95));
  if (e->verdict & kNewErrors)
    msg += fmt::format("; shadow error {} ({}): {}", d.last_new_error.code,
                       d.last_new_error.sqlstate, d.last_new_error.text.substr(0, 200));
  if (e->verdict & kDifferentResults)
    msg += fmt::format("; {} of {} reads returned different rows", d.result_mismatches, d.pairs);
  sink_(mirror, msg);
}

void MirrorReport::Merge(const MirrorPartial& p) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, m] : p.mirrors()) {
    ReportSettings s = SettingsLocked(name);
    auto sit = mirrors_.find(name);
    if (sit == mirrors_.end()) sit = mirrors_.emplace(name, State{}).first;
    State& st = sit->second;
    st.sessions += m.sessions;
    st.statements += m.statements;
    for (size_t i = 0; i < kCutReasons; ++i) st.cuts[i] += m.cuts[i];
    st.lifetime.sessions += m.sessions;
    st.lifetime.statements += m.statements;
    for (size_t i = 0; i < kCutReasons; ++i) st.lifetime.cuts[i] += m.cuts[i];
    st.lifetime.queue_bytes += m.queue_bytes;
    st.source_totals.Merge(m.source_totals);
    st.shadow_totals.Merge(m.shadow_totals);
    bool other_touched = m.other_statements > 0;
    if (other_touched) {
      st.other.Add(m.other);
      st.other_statements += m.other_statements;
    }
    for (const auto& [hash, d] : m.digests) {
      auto it = st.digests.find(hash);
      if (it == st.digests.end()) {
        if (st.digests.size() >= s.max_digests) {
          st.other.Add(d);
          st.other_statements += d.source.executions;
          other_touched = true;
          continue;
        }
        it = st.digests.emplace(hash, Entry{}).first;
      }
      it->second.Add(d);
      Decide(name, s, &st, hash, false, &it->second);
    }
    if (other_touched) Decide(name, s, &st, 0, true, &st.other);
  }
}

MirrorSummary MirrorReport::Summarise(const std::string& name, const State& st) const {
  MirrorSummary out;
  out.name = name;
  out.settings = SettingsLocked(name);
  out.sessions = st.sessions;
  out.statements = st.statements;
  out.cuts = st.cuts;
  out.digests = st.digests.size();
  out.other_statements = st.other_statements;
  out.events_raised = st.events_raised;
  out.lifetime = st.lifetime;
  out.source_totals = st.source_totals;
  out.shadow_totals = st.shadow_totals;
  auto add = [&](uint64_t hash, bool other, const Entry& e) {
    DigestRow r;
    r.digest_hash = hash;
    r.other = other;
    r.agg = e.agg;
    r.verdict = e.verdict;
    r.source_p50 = e.agg.source.latency.Percentile(0.50);
    r.source_p95 = e.agg.source.latency.Percentile(0.95);
    r.source_p99 = e.agg.source.latency.Percentile(0.99);
    r.shadow_p50 = e.agg.shadow.latency.Percentile(0.50);
    r.shadow_p95 = e.agg.shadow.latency.Percentile(0.95);
    r.shadow_p99 = e.agg.shadow.latency.Percentile(0.99);
    if (e.agg.shadow.latency.count() && e.agg.source.latency.count()) {
      r.ratio_p50 = Ratio(r.shadow_p50, r.source_p50);
      r.ratio_p95 = Ratio(r.shadow_p95, r.source_p95);
      r.ratio_p99 = Ratio(r.shadow_p99, r.source_p99);
    }
    out.verdict_ok += r.verdict == kOk;
    out.verdict_slower += (r.verdict & kSlower) != 0;
    out.verdict_new_errors += (r.verdict & kNewErrors) != 0;
    out.verdict_different_results += (r.verdict & kDifferentResults) != 0;
    out.regressions += r.verdict != kOk;
    out.rows.push_back(std::move(r));
  };
  for (const auto& [hash, e] : st.digests) add(hash, false, e);
  if (st.other_statements) add(0, true, st.other);
  std::sort(out.rows.begin(), out.rows.end(), [](const DigestRow& a, const DigestRow& b) {
    bool ab = a.verdict != kOk, bb = b.verdict != kOk;
    if (ab != bb) return ab;
    if (a.other != b.other) return b.other;  // "other" closes its group
    if (a.agg.source.executions != b.agg.source.executions)
      return a.agg.source.executions > b.agg.source.executions;
    return a.digest_hash < b.digest_hash;
  });
  return out;
}

std::vector<MirrorSummary> MirrorReport::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<MirrorSummary> out;
  for (const auto& [name, st] : mirrors_) out.push_back(Summarise(name, st));
  return out;
}

std::optional<MirrorSummary> MirrorReport::Find(std::string_view mirror) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = mirrors_.find(mirror);
  if (it == mirrors_.end()) return std::nullopt;
  return Summarise(it->first, it->second);
}

std::vector<MirrorSummary> MirrorReport::SnapshotAndReset() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<MirrorSummary> out;
  for (const auto& [name, st] : mirrors_) out.push_back(Summarise(name, st));
  ResetLocked({});
  return out;
}

void MirrorReport::Reset(std::string_view mirror) {
  std::lock_guard<std::mutex> lock(mu_);
  ResetLocked(mirror);
}

void MirrorReport::ResetLocked(std::string_view mirror) {
  for (auto& [name, st] : mirrors_) {
    if (!mirror.empty() && name != mirror) continue;
    State fresh;
    fresh.lifetime = st.lifetime;
    fresh.source_totals = std::move(st.source_totals);
    fresh.shadow_totals = std::move(st.shadow_totals);
    st = std::move(fresh);
  }
}

}  // namespace sluice::mirror
