// MirrorReport: the verdicts, the MIRROR_REGRESSION event raised once, the digest cap with
// 100,000 digests, Reset, and per-worker partials handed over through mailboxes and merged.
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "mirror/report.h"

namespace sluice::mirror {
namespace {

struct Feeder {
  uint64_t seq = 0;
  // One paired statement of DIGEST with the given latencies and outcomes.
  OutcomePair Pair(uint64_t digest, uint64_t src_us, uint64_t sh_us, bool read = true,
                   bool sh_ok = true, uint64_t sh_checksum = 42) {
    ++seq;
    Outcome a;
    a.mirror = "m1";
    a.digest_hash = digest;
    a.digest_text = "SELECT c FROM sbtest1 WHERE id = ?";
    a.seq = seq;
    a.start_us = 1000;
    a.end_us = 1000 + static_cast<int64_t>(src_us);
    a.read = read;
    a.rows_returned = read ? 1 : 0;
    a.rows_affected = read ? 0 : 1;
    a.checksum = 42;
    Outcome b = a;
    b.side = Side::kShadow;
    b.end_us = 1000 + static_cast<int64_t>(sh_us);
    b.ok = sh_ok;
    b.checksum = sh_checksum;
    if (!sh_ok) {
      b.error = {1054, "42S22", "Unknown column 'k' in 'field list'"};
      b.rows_returned = b.rows_affected = 0;
    }
    return {a, b};
  }
};

struct Events {
  std::vector<std::pair<std::string, std::string>> got;
  MirrorReport::EventSink Sink() {
    return [this](const std::string& m, const std::string& msg) { got.emplace_back(m, msg); };
  }
};

ReportSettings Settings(uint64_t min_samples = 50, double ratio = 2.0, size_t cap = 1000) {
  ReportSettings s;
  s.min_samples = min_samples;
  s.slower_ratio = ratio;
  s.max_digests = cap;
  return s;
}

const DigestRow* RowOf(const MirrorSummary& m, uint64_t digest) {
  for (const DigestRow& r : m.rows)
    if (!r.other && r.digest_hash == digest) return &r;
  return nullptr;
}

// A shadow whose p95 is many times the source's but only by scheduler jitter (a few ms on a
// busy host, 0.3 ms against 4 ms in schema_change_test.py) is `slower` by ratio alone;
// slower_min_us asks for an absolute margin too, and a real regression still clears it.
TEST(MirrorReportTest, SlowerNeedsTheAbsoluteMargin) {
  DigestAgg jitter, scan;
  jitter.read = scan.read = true;
  for (int i = 0; i < 100; ++i) {
    jitter.source.executions++, jitter.source.latency.Add(300);
    jitter.shadow.executions++, jitter.shadow.latency.Add(4000);
    scan.source.executions++, scan.source.latency.Add(300);
    scan.shadow.executions++, scan.shadow.latency.Add(60000);
  }
  ReportSettings s = Settings(50, 3.0);
  EXPECT_EQ(DecideVerdict(jitter, s), kSlower);  // ratio only: 13x
  s.slower_min_us = 10000;
  EXPECT_EQ(DecideVerdict(jitter, s), kOk);    // 3.7 ms above the source: not slower
  EXPECT_EQ(DecideVerdict(scan, s), kSlower);  // 200x and 59.7 ms above
  s.slower_min_us = 59800;
  EXPECT_EQ(DecideVerdict(scan, s), kOk);  // the margin is a bound: 59.7 ms < 59.8 ms
}

TEST(MirrorReportTest, VerdictsPerDigest) {
  MirrorReport report;
  report.SetSettings("m1", Settings());
  Events ev;
  report.SetEventSink(ev.Sink());
  Feeder f;
  MirrorPartial p;
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<uint64_t> jitter(0, 100);
  for (int i = 0; i < 200; ++i) {
    uint64_t base = 1000 + jitter(rng);
    p.Add(f.Pair(1, base, base * 3));                            // lost its index: 3x slower
    p.Add(f.Pair(2, base, base + jitter(rng)));                  // ok
    p.Add(f.Pair(3, base, base, false, i != 7));                 // one new error on the shadow
    p.Add(f.Pair(4, base, base, true, true, i % 50 ? 42 : 43));  // changed rows, a read
    p.Add(f.Pair(5, base, base, false, true, 43));  // a write: checksums are not compared
  }
  report.Merge(p);
  // The facts of single statements at once; `slower` judging: the next executions decide.
  EXPECT_EQ(RowOf(*report.Find("m1"), 1)->verdict, kOk);
  EXPECT_EQ(RowOf(*report.Find("m1"), 3)->verdict, kNewErrors);
  EXPECT_EQ(ev.got.size(), 2u);
  report.Merge(p);
  auto m = report.Find("m1");
  ASSERT_TRUE(m);
  EXPECT_EQ(RowOf(*m, 1)->verdict, kSlower);
  EXPECT_GE(RowOf(*m, 1)->ratio_p95, 2.9);
  EXPECT_LE(RowOf(*m, 1)->ratio_p95, 3.1);
  EXPECT_EQ(RowOf(*m, 2)->verdict, kOk);
  EXPECT_EQ(RowOf(*m, 3)->verdict, kNewErrors);
  EXPECT_EQ(RowOf(*m, 3)->agg.shadow.last_error.text, "Unknown column 'k' in 'field list'");
  EXPECT_EQ(RowOf(*m, 3)->agg.shadow.errors, 2u);  // one per merge of P
  EXPECT_EQ(RowOf(*m, 3)->agg.source.errors, 0u);
  EXPECT_EQ(RowOf(*m, 4)->verdict, kDifferentResults);
  EXPECT_EQ(RowOf(*m, 4)->agg.result_mismatches, 8u);
  EXPECT_EQ(RowOf(*m, 5)->verdict, kOk);
  EXPECT_EQ(m->verdict_ok, 2u);
  EXPECT_EQ(m->verdict_slower, 1u);
  EXPECT_EQ(m->verdict_new_errors, 1u);
  EXPECT_EQ(m->verdict_different_results, 1u);
  EXPECT_EQ(m->statements, 2000u);
  // Regressions first.
  for (size_t i = 0; i < 3; ++i) EXPECT_NE(m->rows[i].verdict, kOk);
  for (size_t i = 3; i < m->rows.size(); ++i) EXPECT_EQ(m->rows[i].verdict, kOk);
  // One event per digest that turned bad, and not again on more bad outcomes.
  ASSERT_EQ(ev.got.size(), 3u);
  for (const auto& [mirror, msg] : ev.got) EXPECT_EQ(mirror, "m1");
  report.Merge(p);
  report.Merge(p);
  EXPECT_EQ(ev.got.size(), 3u);
  EXPECT_EQ(report.Find("m1")->events_raised, 3u);
}

TEST(MirrorReportTest, SlowerNeedsMinSamplesOnBothSides) {
  MirrorReport report;
  report.SetSettings("m1", Settings(100));
  Feeder f;
  MirrorPartial p;
  for (int i = 0; i < 99; ++i) p.Add(f.Pair(1, 1000, 5000));
  report.Merge(p);
  EXPECT_EQ(RowOf(*report.Find("m1"), 1)->verdict, kOk);  // 99 < min_samples
  MirrorPartial q;
  q.Add(f.Pair(1, 1000, 5000));
  report.Merge(q);
  EXPECT_EQ(RowOf(*report.Find("m1"), 1)->verdict, kOk);  // 100: judging
  MirrorPartial q99;
  for (int i = 0; i < 99; ++i) q99.Add(f.Pair(1, 1000, 5000));
  report.Merge(q99);
  EXPECT_EQ(RowOf(*report.Find("m1"), 1)->verdict, kOk);  // 99 since: not yet
  report.Merge(q);
  EXPECT_EQ(RowOf(*report.Find("m1"), 1)->verdict, kSlower);  // 100 since, slower too
  // Source executions that the shadow never answered do not count for the shadow.
  MirrorReport r2;
  r2.SetSettings("m1", Settings(100));
  MirrorPartial u;
  for (int i = 0; i < 150; ++i) {
    OutcomePair pr = f.Pair(1, 1000, 5000);
    if (i % 2) pr.shadow.reset();
    u.Add(pr);
  }
  r2.Merge(u);
  auto m2 = r2.Find("m1");
  const DigestRow* row = RowOf(*m2, 1);
  EXPECT_EQ(row->agg.shadow.executions, 75u);
  EXPECT_EQ(row->agg.unpaired, 75u);
  EXPECT_EQ(row->verdict, kOk);
}

// An error's latency says nothing about the statement's plan: a lock wait fails at its
// timeout, a missing column at once. Slow errors alone do not make a digest `slower` ...
TEST(MirrorReportTest, SlowErrorsAreNotSlower) {
  MirrorReport report;
  report.SetSettings("m1", Settings(50));
  Feeder f;
  MirrorPartial p;
  // 1000 executions: every tenth fails on the shadow after 50 ms, the rest are as fast as
  // on the source.
  for (int i = 0; i < 1000; ++i) p.Add(f.Pair(1, 1000, i % 10 ? 1000 : 50000, true, i % 10 != 0));
  report.Merge(p);
  auto summary_r = report.Find("m1");  // kept: the row points into it
  const DigestRow* r = RowOf(*summary_r, 1);
  EXPECT_EQ(r->verdict, kNewErrors);
  EXPECT_EQ(r->agg.shadow.executions, 1000u);
  EXPECT_EQ(r->agg.shadow.errors, 100u);
  EXPECT_EQ(r->agg.shadow.latency.count(), 900u);  // the successful ones
  EXPECT_EQ(r->shadow_p99, 1000u);
}

// ... and fast errors do not hide that the successful executions got slower.
TEST(MirrorReportTest, FastErrorsDoNotHideSlower) {
  MirrorReport report;
  report.SetSettings("m1", Settings(50));
  Feeder f;
  MirrorPartial p;
  // 2000 executions: 96 % fail on the shadow in 100 us; the 80 that succeed take 5 ms
  // where the source takes 1 ms.
  for (int i = 0; i < 2000; ++i) {
    bool ok = i % 25 == 0;
    p.Add(f.Pair(1, 1000, ok ? 5000 : 100, true, ok));
  }
  report.Merge(p);
  report.Merge(p);  // the second 80 confirm it
  auto summary_r = report.Find("m1");  // kept: the row points into it
  const DigestRow* r = RowOf(*summary_r, 1);
  EXPECT_EQ(r->verdict, kSlower | kNewErrors);
  EXPECT_EQ(r->shadow_p95, 5000u);
  EXPECT_GE(r->ratio_p95, 4.9);
}

// min_samples counts successful executions: 60 executions of which 20 succeeded on the
// shadow are not yet enough for min_samples 50.
TEST(MirrorReportTest, MinSamplesCountsSuccessfulExecutions) {
  MirrorReport report;
  report.SetSettings("m1", Settings(50));
  Feeder f;
  MirrorPartial p;
  for (int i = 0; i < 60; ++i) p.Add(f.Pair(1, 1000, i % 3 ? 100 : 9000, true, i % 3 == 0));
  report.Merge(p);
  auto summary_r = report.Find("m1");  // kept: the row points into it
  const DigestRow* r = RowOf(*summary_r, 1);
  EXPECT_EQ(r->verdict, kNewErrors);  // 20 successful shadow executions < 50
  EXPECT_EQ(r->shadow_p50, 9000u);
}

// A report of min_samples 100 fed by one worker's seconds: digest 1, 1 ms on the source.
struct Seconds {
  MirrorReport report;
  Events ev;
  Feeder f;
  int n = 0;  // executions so far
  Seconds() {
    report.SetSettings("m1", Settings(100));
    report.SetEventSink(ev.Sink());
  }
  // One second of COUNT executions, the shadow's latency of the n-th SH_US(n); the verdict.
  unsigned Second(int count, const std::function<uint64_t(int)>& sh_us) {
    MirrorPartial p;
    for (int i = 0; i < count; ++i, ++n) p.Add(f.Pair(1, 1000, sh_us(n)));
    report.Merge(p);
    return RowOf(*report.Find("m1"), 1)->verdict;
  }
  unsigned Second(int count, uint64_t sh_us) {
    return Second(count, [sh_us](int) { return sh_us; });
  }
};

// The shadow busy for a moment right when a digest reaches min_samples: 8 of its first 100
// executions take 20 ms (p95: 20 ms, 20x the source's), every later one is as fast as the
// source's. The digest is never `slower` and raises no event (it used to be `slower` at 100,
// raise MIRROR_REGRESSION, and turn `ok` at 200).
TEST(MirrorReportTest, ABusyMomentAtMinSamplesIsNotSlower) {
  Seconds s;
  for (int part = 0; part < 6; ++part)
    EXPECT_EQ(s.Second(50, [](int n) -> uint64_t { return n >= 90 && n < 98 ? 20000 : 1000; }), kOk)
        << "after " << s.n;
  EXPECT_TRUE(s.ev.got.empty()) << s.ev.got[0].second;
  EXPECT_EQ(s.report.Find("m1")->events_raised, 0u);
}

// A digest that really got slower: judged at min_samples, confirmed by the next
// min_samples alone, raised once, and it stays `slower`.
TEST(MirrorReportTest, SlowerIsConfirmedByTheExecutionsAfter) {
  Seconds s;
  std::vector<unsigned> verdicts;
  for (int part = 0; part < 8; ++part) verdicts.push_back(s.Second(50, 20000));
  // 50: too few; 100: judging; 150: 50 since; 200: 100 since, slower.
  EXPECT_EQ(verdicts,
            (std::vector<unsigned>{kOk, kOk, kOk, kSlower, kSlower, kSlower, kSlower, kSlower}));
  ASSERT_EQ(s.ev.got.size(), 1u);
  EXPECT_NE(s.ev.got[0].second.find("slower; p95 source 1000 us, shadow 20000 us"),
            std::string::npos)
      << s.ev.got[0].second;
}

// While judging, a window that is not slower by itself starts again: a regression that
// starts later is still found.
TEST(MirrorReportTest, AWindowThatIsNotSlowerStartsAgain) {
  Seconds s;
  EXPECT_EQ(s.Second(100, 20000), kOk);  // judging
  EXPECT_EQ(s.Second(20, 1000), kOk);    // still slower over all 120: window of 20
  EXPECT_EQ(s.Second(90, 1000), kOk);    // 110 fast since: not slower; over all 210: p95 20 ms
  EXPECT_EQ(s.Second(1800, 1000), kOk);  // 100 slow of 2010 (< 5 %): no longer judging
  EXPECT_EQ(s.Second(900, 20000), kOk);  // slower over all 2910 again: judging
  EXPECT_EQ(s.Second(100, 20000), kSlower);
}

TEST(MirrorReportTest, SlowerRatioIsConfigurable) {
  Feeder f;
  MirrorPartial p;
  for (int i = 0; i < 100; ++i) p.Add(f.Pair(1, 1000, 1500));
  MirrorReport strict, loose;
  strict.SetSettings("m1", Settings(10, 1.4));
  loose.SetSettings("m1", Settings(10, 2.0));
  for (int i = 0; i < 2; ++i) strict.Merge(p), loose.Merge(p);
  EXPECT_EQ(RowOf(*strict.Find("m1"), 1)->verdict, kSlower);
  EXPECT_EQ(RowOf(*loose.Find("m1"), 1)->verdict, kOk);
}

TEST(MirrorReportTest, SeveralFindingsAtOnce) {
  MirrorReport report;
  report.SetSettings("m1", Settings(10));
  Events ev;
  report.SetEventSink(ev.Sink());
  Feeder f;
  MirrorPartial p;
  for (int i = 0; i < 20; ++i) p.Add(f.Pair(9, 100, 1000, true, i % 2, 7));
  report.Merge(p);
  report.Merge(p);  // `slower` is confirmed by the second ten successful executions
  auto m9 = report.Find("m1");
  const DigestRow* r = RowOf(*m9, 9);
  EXPECT_EQ(r->verdict, kSlower | kNewErrors | kDifferentResults);
  EXPECT_EQ(VerdictName(r->verdict), "slower, new errors, different results");
  // Raised once, when it turned bad (new errors), not again when it also turned slower.
  ASSERT_EQ(ev.got.size(), 1u);
  EXPECT_NE(ev.got[0].second.find("Unknown column 'k'"), std::string::npos);
  EXPECT_NE(ev.got[0].second.find(DigestHex(9)), std::string::npos);
}

TEST(MirrorReportTest, DigestCapWithOneHundredThousandDigests) {
  constexpr size_t kCap = 500;
  MirrorReport report;
  report.SetSettings("m1", Settings(50, 2.0, kCap));
  Feeder f;
  // Four workers, each with its own partial under the same cap, 25,000 digests each.
  for (int w = 0; w < 4; ++w) {
    MirrorPartial p(kCap);
    for (uint64_t d = 0; d < 25000; ++d) p.Add(f.Pair(w * 25000 + d + 1, 100 + d % 50, 120));
    ASSERT_LE(p.mirrors().at("m1").digests.size(), kCap);
    report.Merge(p);
  }
  auto m = report.Find("m1");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->digests, kCap);
  EXPECT_EQ(m->rows.size(), kCap + 1);  // + "other"
  EXPECT_EQ(m->statements, 100000u);
  EXPECT_EQ(m->other_statements, 100000u - kCap);
  uint64_t executions = 0;
  for (const DigestRow& r : m->rows) executions += r.agg.source.executions;
  EXPECT_EQ(executions, 100000u);  // nothing lost: the rest is in "other"
  const DigestRow& other = m->rows.back();
  EXPECT_TRUE(other.other);
  EXPECT_EQ(other.agg.source.executions, 100000u - kCap);
  // Kept digests keep counting; new ones still go to "other".
  MirrorPartial more(kCap);
  more.Add(f.Pair(1, 100, 120));
  more.Add(f.Pair(999999, 100, 120));
  report.Merge(more);
  m = report.Find("m1");
  EXPECT_EQ(RowOf(*m, 1)->agg.source.executions, 2u);
  EXPECT_EQ(RowOf(*m, 999999), nullptr);
  EXPECT_EQ(m->other_statements, 100000u - kCap + 1);
}

TEST(MirrorReportTest, ResetZeroesAndRaisesAgain) {
  MirrorReport report;
  report.SetSettings("m1", Settings(1));
  report.SetSettings("m2", Settings(1));
  Events ev;
  report.SetEventSink(ev.Sink());
  Feeder f;
  MirrorPartial p;
  p.Add(f.Pair(1, 100, 100, true, false));
  report.Merge(p);
  EXPECT_EQ(ev.got.size(), 1u);
  report.Reset("m1");
  auto m = report.Find("m1");
  EXPECT_EQ(m->statements, 0u);
  EXPECT_TRUE(m->rows.empty());
  EXPECT_EQ(m->source_totals.ok, 1u);  // lifetime totals (Prometheus) survive a reset
  EXPECT_TRUE(report.Find("m2"));      // configured, empty
  report.Merge(p);
  EXPECT_EQ(ev.got.size(), 2u);
  EXPECT_FALSE(report.Find("nope"));
}

TEST(MirrorReportTest, PartialsFromWorkersMergeThroughMailboxes) {
  MirrorReport report;
  report.SetSettings("m1", Settings(10));
  constexpr int kWorkers = 4, kPerWorker = 5000;
  std::vector<std::unique_ptr<PartialMailbox>> boxes;
  for (int i = 0; i < kWorkers; ++i) {
    boxes.push_back(std::make_unique<PartialMailbox>());
    report.AddMailbox(boxes.back().get());
  }
  MirrorPartial expected;  // everything in one partial, to compare with
  std::vector<std::vector<OutcomePair>> work(kWorkers);
  Feeder f;
  for (int w = 0; w < kWorkers; ++w)
    for (int i = 0; i < kPerWorker; ++i) {
      OutcomePair pr = f.Pair(i % 7 + 1, 100 + i % 300, 150 + i % 500, i % 3 != 0, i % 101 != 0,
                              i % 97 ? 42 : 1);
      work[w].push_back(pr);
      expected.Add(pr);
    }
  std::vector<std::thread> threads;
  std::atomic<bool> done{false};
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      MirrorFeed feed(boxes[w].get(), 1000);
      feed.partial()->SessionStarted("m1");
      for (int i = 0; i < kPerWorker; ++i) {
        feed.partial()->Add(work[w][i]);
        if (i % 500 == 499) feed.Flush();  // the once-a-second hand-over, faster
      }
      feed.partial()->SessionCut("m1", CutReason::kQueueFull);
      // Deadline-bounded: the control plane below keeps taking.
      for (int tries = 0; tries < 100000 && !feed.Flush(); ++tries) std::this_thread::yield();
    });
  }
  std::thread control([&] {
    while (!done.load()) {
      report.Poll();
      std::this_thread::yield();
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  control.join();
  report.Poll();
  MirrorReport one;
  one.SetSettings("m1", Settings(10));
  one.Merge(expected);
  auto got = report.Find("m1");
  auto want = one.Find("m1");
  ASSERT_TRUE(got && want);
  EXPECT_EQ(got->sessions, 4u);
  EXPECT_EQ(got->cuts[static_cast<size_t>(CutReason::kQueueFull)], 4u);
  EXPECT_EQ(got->statements, want->statements);
  ASSERT_EQ(got->rows.size(), want->rows.size());
  for (const DigestRow& w : want->rows) {
    const DigestRow* g = RowOf(*got, w.digest_hash);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->verdict, w.verdict);
    EXPECT_EQ(g->agg.source.executions, w.agg.source.executions);
    EXPECT_EQ(g->agg.shadow.errors, w.agg.shadow.errors);
    EXPECT_EQ(g->agg.result_mismatches, w.agg.result_mismatches);
    EXPECT_EQ(g->agg.source.latency.counts(), w.agg.source.latency.counts());
    EXPECT_EQ(g->agg.shadow.latency.counts(), w.agg.shadow.latency.counts());
    EXPECT_EQ(g->shadow_p95, w.shadow_p95);
  }
  EXPECT_EQ(got->shadow_totals.error, want->shadow_totals.error);
  EXPECT_EQ(got->source_totals.latency.count, 20000u);
}

}  // namespace
}  // namespace sluice::mirror
