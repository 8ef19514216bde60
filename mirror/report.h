// MirrorReport: the control plane's schema-change report. Takes the workers' partials
// (mirror/partial.h) through their mailboxes, sums them per mirror x digest under a digest
// cap, decides a verdict per digest and raises MIRROR_REGRESSION once when one turns bad.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mirror/partial.h"

namespace sluice::mirror {

// A mirror's report settings (the first keys of its [[mirror]] table, docs/configuration.md).
struct ReportSettings {
  double slower_ratio = 2.0;   // `slower`: shadow p95 >= slower_ratio x source p95 ...
  uint64_t slower_min_us = 0;  // ... and >= source p95 + slower_min_us (jitter is not slower)
  uint64_t min_samples = 100;  // ... with this many successful executions on both sides
  size_t max_digests = 1000;   // digests kept per mirror; the rest are summed in "other"
};

// A verdict is a set of findings; none is `ok`.
enum Verdict : unsigned { kOk = 0, kSlower = 1, kNewErrors = 2, kDifferentResults = 4 };
std::string VerdictName(unsigned v);  // "ok", "slower", "new errors, different results", ...
// Whether the shadow's successful executions (SHADOW) are slower than the source's (SOURCE)
// by S: at least min_samples of each, p95 ratio and margin.
bool SlowerSample(const LogHistogram& source, const LogHistogram& shadow, const ReportSettings& s);
// D's findings from D alone (SlowerSample on the whole of D for `slower`). MirrorReport
// confirms `slower` on fresh executions before it reports it (MirrorReport::Decide).
unsigned DecideVerdict(const DigestAgg& d, const ReportSettings& s);

// One mirror x digest row, as the admin tables, the HTML page and MIRROR REPORT show it.
struct DigestRow {
  uint64_t digest_hash = 0;
  bool other = false;  // the row summing every digest over the cap
  DigestAgg agg;
  unsigned verdict = kOk;
  uint64_t source_p50 = 0, source_p95 = 0, source_p99 = 0;
  uint64_t shadow_p50 = 0, shadow_p95 = 0, shadow_p99 = 0;
  double ratio_p50 = 0, ratio_p95 = 0, ratio_p99 = 0;  // shadow / source; 0 when undefined
};

// Counts that Reset keeps (Prometheus counters).
struct MirrorLifetime {
  uint64_t sessions = 0;
  uint64_t statements = 0;
  std::array<uint64_t, kCutReasons> cuts{};
  // A gauge: the bytes queued for the mirror's shadow sessions now (the partials' changes
  // summed; every push and every drain is one).
  int64_t queue_bytes = 0;
};

struct MirrorSummary {
  std::string name;
  ReportSettings settings;
  uint64_t sessions = 0;
  uint64_t statements = 0;
  std::array<uint64_t, kCutReasons> cuts{};
  uint64_t digests = 0;  // kept digests (the "other" row not counted)
  uint64_t other_statements = 0;
  uint64_t verdict_ok = 0, verdict_slower = 0, verdict_new_errors = 0,
           verdict_different_results = 0;
  uint64_t regressions = 0;  // rows with any bad verdict
  uint64_t events_raised = 0;
  SideTotals source_totals, shadow_totals;  // lifetime (Prometheus): Reset keeps them
  MirrorLifetime lifetime;                  // likewise
  std::vector<DigestRow> rows;              // regressions first, then by executions; "other" last
};

class MirrorReport {
 public:
  // (mirror, message) of a MIRROR_REGRESSION; the composition root sends it to the event log.
  using EventSink = std::function<void(const std::string& mirror, const std::string& message)>;

  explicit MirrorReport(ReportSettings defaults = {}) : defaults_(defaults) {}
  // Settings of MIRROR; also registers it, so that it reports (empty) before any outcome.
  void SetSettings(const std::string& mirror, ReportSettings s);
  ReportSettings SettingsOf(std::string_view mirror) const;
  void SetEventSink(EventSink sink);
  // A worker's mailbox (the mailboxes live as long as the report).
  void AddMailbox(PartialMailbox* mailbox);

  // Takes whatever each mailbox holds. Called once a second and before every read.
  void Poll();
  // Adds one partial: digests merge under the mirror's cap, verdicts are re-decided.
  void Merge(const MirrorPartial& p);

  std::vector<MirrorSummary> Snapshot() const;
  // Snapshot() and Reset() of every mirror at once: nothing merged in between is lost.
  std::vector<MirrorSummary> SnapshotAndReset();
  std::optional<MirrorSummary> Find(std::string_view mirror) const;
  // Zeroes the report (one mirror, or all when MIRROR is empty); a digest may raise its
  // event again afterwards. The lifetime Prometheus totals stay.
  void Reset(std::string_view mirror = {});

 private:
  // `slower` is a statistic, and the first min_samples executions may all fall in a moment
  // when the shadow was busy: a digest found slower on its executions so far is only
  // judging; it is `slower` once the executions that come after (at least min_samples on
  // each side, in `window_*`) are slower by themselves too. A window that is not restarts.
  // (`new errors` and `different results` are facts of single statements: reported at once.)
  struct Entry {
    DigestAgg agg;
    unsigned verdict = kOk;
    bool raised = false;
    bool slower = false;   // confirmed
    bool judging = false;  // slower so far; window_* collect the executions since
    LogHistogram window_source, window_shadow;
    void Add(const DigestAgg& d);  // into agg, and into the window while judging
  };
  struct State {
    uint64_t sessions = 0, statements = 0;
    std::array<uint64_t, kCutReasons> cuts{};
    std::unordered_map<uint64_t, Entry> digests;
    Entry other;
    uint64_t other_statements = 0;
    uint64_t events_raised = 0;
    SideTotals source_totals, shadow_totals;
    MirrorLifetime lifetime;
  };
  void Decide(const std::string& mirror, const ReportSettings& s, State* st, uint64_t hash,
              bool other, Entry* e);
  MirrorSummary Summarise(const std::string& name, const State& st) const;
  ReportSettings SettingsLocked(std::string_view mirror) const;
  void ResetLocked(std::string_view mirror);

  mutable std::mutex mu_;
  ReportSettings defaults_;
  std::map<std::string, ReportSettings, std::less<>> settings_;
  std::vector<PartialMailbox*> mailboxes_;
  EventSink sink_;
  std::map<std::string, State, std::less<>> mirrors_;
};

// The row of MIRROR REPORT / stats_mirror_digest for R, formatted as text.
std::string DigestHex(uint64_t hash);  // "0x0123456789ABCDEF"

}  // namespace sluice::mirror
