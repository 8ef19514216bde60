#include "mirror/partial.h"

namespace sluice::mirror {

const char* CutReasonName(CutReason r) {
  switch (r) {
    case CutReason::kQueueFull:
      return "queue_full";
    case CutReason::kShadowDown:
      return "shadow_down";
    case CutReason::kOther:
      break;
  }
  return "other";
}

void SideAgg::Add(const Outcome& o) {
  ++executions;
  if (!o.ok) {
    ++errors;
    last_error = o.error;
  }
  rows_returned += o.rows_returned;
  rows_affected += o.rows_affected;
  // An error answers fast or slowly for reasons of its own (a parse error at once, a lock
  // wait at its timeout): only successful executions say how fast the statement runs.
  if (o.ok) latency.Add(o.latency_us());
}

void SideAgg::Merge(const SideAgg& o) {
  executions += o.executions;
  errors += o.errors;
  rows_returned += o.rows_returned;
  rows_affected += o.rows_affected;
  if (o.errors) last_error = o.last_error;
  latency.Merge(o.latency);
}

void DigestAgg::Add(const OutcomePair& p) {
  if (digest_text.empty()) digest_text = p.source.digest_text;
  read = read || p.source.read;
  source.Add(p.source);
  if (!p.shadow) {
    ++unpaired;
    return;
  }
  ++pairs;
  shadow.Add(*p.shadow);
  PairFindings f = Compare(p);
  if (f.new_error) {
    ++new_errors;
    last_new_error = p.shadow->error;
  }
  result_mismatches += f.result_mismatch;
  row_count_diffs += f.row_count_differs;
}

void DigestAgg::Merge(const DigestAgg& o) {
  if (digest_text.empty()) digest_text = o.digest_text;
  read = read || o.read;
  source.Merge(o.source);
  shadow.Merge(o.shadow);
  pairs += o.pairs;
  unpaired += o.unpaired;
  if (o.new_errors) last_new_error = o.last_new_error;
  new_errors += o.new_errors;
  result_mismatches += o.result_mismatches;
  row_count_diffs += o.row_count_diffs;
}

void SideTotals::Add(const Outcome& o) {
  ++(o.ok ? ok : error);
  // As the report's SideAgg: the histogram is of successful executions only, so that
  // Prometheus and MIRROR REPORT give the same percentiles; errors count in `error`.
  if (o.ok) latency.Add(o.latency_us());
}

void SideTotals::Merge(const SideTotals& o) {
  ok += o.ok;
  error += o.error;
  latency.Merge(o.latency);
}

void MirrorAgg::Add(const OutcomePair& p, size_t max_digests) {
  ++statements;
  source_totals.Add(p.source);
  if (p.shadow) shadow_totals.Add(*p.shadow);
  auto it = digests.find(p.source.digest_hash);
  if (it == digests.end()) {
    if (digests.size() >= max_digests) {
      ++other_statements;
      other.Add(p);
      return;
    }
    it = digests.emplace(p.source.digest_hash, DigestAgg{}).first;
  }
  it->second.Add(p);
}

MirrorAgg& MirrorPartial::Of(std::string_view mirror) {
  auto it = mirrors_.find(mirror);
  if (it == mirrors_.end()) it = mirrors_.emplace(std::string(mirror), MirrorAgg{}).first;
  return it->second;
}

void MirrorPartial::SessionStarted(std::string_view mirror) {
  ++Of(mirror).sessions;
}

void MirrorPartial::SessionCut(std::string_view mirror, CutReason reason) {
  ++Of(mirror).cuts[static_cast<size_t>(reason)];
}

void MirrorPartial::QueueBytes(std::string_view mirror, int64_t delta) {
  Of(mirror).queue_bytes += delta;
}

void MirrorPartial::Add(const OutcomePair& p) {
  Of(p.source.mirror).Add(p, max_digests_);
}

bool MirrorFeed::Flush() {
  if (partial_->empty()) return true;
  if (!mailbox_->Offer(partial_)) return false;
  partial_ = std::make_unique<MirrorPartial>(max_digests_);
  return true;
}

}  // namespace sluice::mirror
