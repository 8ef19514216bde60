#include "mirror/report_html.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

#include <fmt/format.h>

namespace sluice::mirror {
namespace {

constexpr int kBins = 48;  // display bins of the latency axis (log scale)
constexpr int kPanelW = 360, kPanelH = 140, kPad = 30;

const char* kStyle = R"(body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#eee}td.t{text-align:left;font-family:monospace}
.bad{color:#b00;font-weight:bold}.ok{color:#070}.digest{border-top:2px solid #999;margin-top:1.5em}
code{background:#f4f4f4;padding:2px 4px;white-space:pre-wrap;word-break:break-all}
.err{font-family:monospace;background:#fee;padding:2px 4px})";

std::string Us(uint64_t us) {
  if (us >= 1000000) return fmt::format("{:.2f} s", us / 1e6);
  if (us >= 1000) return fmt::format("{:.2f} ms", us / 1e3);
  return fmt::format("{} µs", us);
}

std::string Ratio(double r) {
  return r > 0 ? fmt::format("{:.2f}×", r) : "–";
}

// The fraction of H's executions in each of kBins log-scale bins between LO and HI.
std::vector<double> Bin(const LogHistogram& h, double lo, double hi) {
  std::vector<double> bins(kBins, 0.0);
  if (h.count() == 0) return bins;
  double span = std::log(hi) - std::log(lo);
  const auto& c = h.counts();
  for (size_t i = 0; i < c.size(); ++i) {
    if (!c[i]) continue;
    double mid = (static_cast<double>(LogHistogram::BucketLow(i)) +
                  static_cast<double>(std::min(LogHistogram::BucketHigh(i), h.max_us()))) /
                 2.0;
    mid = std::clamp(mid, lo, hi);
    int b = span > 0 ? static_cast<int>((std::log(mid) - std::log(lo)) / span * kBins) : 0;
    bins[std::clamp(b, 0, kBins - 1)] += static_cast<double>(c[i]) / h.count();
  }
  return bins;
}

// One panel: the histogram of one side, with its p95 marked.
void Panel(std::string* out, int x0, const char* title, const char* colour,
           const std::vector<double>& bins, double ymax, double lo, double hi, uint64_t p95) {
  int w = kPanelW - 2 * kPad, h = kPanelH - 2 * kPad;
  *out += fmt::format(
      "<g transform=\"translate({},0)\"><text x=\"{}\" y=\"16\" font-size=\"12\">{}</text>"
      "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#444\"/>",
      x0, kPad, title, kPad, kPad + h, kPad + w, kPad + h);
  double bw = static_cast<double>(w) / kBins;
  for (int i = 0; i < kBins; ++i) {
    if (bins[i] <= 0) continue;
    double bh = ymax > 0 ? bins[i] / ymax * h : 0;
    *out += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>",
        kPad + i * bw, kPad + h - bh, std::max(bw - 1, 1.0), bh, colour);
  }
  if (p95 > 0 && hi > lo) {
    double x = kPad + (std::log(std::clamp(static_cast<double>(p95), lo, hi)) - std::log(lo)) /
                          (std::log(hi) - std::log(lo)) * w;
    *out += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#b00\" "
        "stroke-dasharray=\"3,2\"/><text x=\"{0:.1f}\" y=\"{3}\" font-size=\"10\" "
        "fill=\"#b00\" text-anchor=\"{5}\">p95 {4}</text>",
        x, kPad, kPad + h, kPad - 3, HtmlEscape(Us(p95)), x > kPad + w / 2.0 ? "end" : "start");
  }
  *out += fmt::format(
      "<text x=\"{}\" y=\"{}\" font-size=\"10\">{}</text><text x=\"{}\" y=\"{}\" "
      "font-size=\"10\" text-anchor=\"end\">{}</text></g>",
      kPad, kPad + h + 14, HtmlEscape(Us(static_cast<uint64_t>(lo))), kPad + w, kPad + h + 14,
      HtmlEscape(Us(static_cast<uint64_t>(hi))));
}

std::string Distributions(const DigestRow& r) {
  const LogHistogram& a = r.agg.source.latency;
  const LogHistogram& b = r.agg.shadow.latency;
  if (a.count() + b.count() == 0) return "<p>No successful execution on either side.</p>";
  uint64_t lo_us = UINT64_MAX, hi_us = 0;
  for (const LogHistogram* h : {&a, &b}) {
    if (!h->count()) continue;
    lo_us = std::min(lo_us, h->min_us());
    hi_us = std::max(hi_us, h->max_us());
  }
  double lo = std::max(1.0, static_cast<double>(lo_us));
  double hi = std::max(lo * 2, static_cast<double>(hi_us));
  std::vector<double> sa = Bin(a, lo, hi), sb = Bin(b, lo, hi);
  double ymax =
      std::max(*std::max_element(sa.begin(), sa.end()), *std::max_element(sb.begin(), sb.end()));
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" role=\"img\"><title>latency, source vs shadow</title>",
      2 * kPanelW, kPanelH);
  Panel(&out, 0, "source", "#4a7ab5", sa, ymax, lo, hi, r.source_p95);
  Panel(&out, kPanelW, "shadow", "#d08a2e", sb, ymax, lo, hi, r.shadow_p95);
  out += "</svg>";
  return out;
}

std::string ErrorCell(const SideAgg& s) {
  if (!s.errors) return "–";
  return fmt::format("<span class=\"err\">{} ({}): {}</span>", s.last_error.code,
                     HtmlEscape(s.last_error.sqlstate), HtmlEscape(s.last_error.text));
}

std::string Name(const DigestRow& r) {
  return r.other ? std::string("other") : DigestHex(r.digest_hash);
}

void Digest(std::string* out, const DigestRow& r) {
  const DigestAgg& d = r.agg;
  bool bad = r.verdict != kOk;
  *out += fmt::format(
      "<div class=\"digest\" id=\"d{0}\"><h3>{0} — <span class=\"{1}\">{2}</span></h3>"
      "<p><code>{3}</code></p>",
      Name(r), bad ? "bad" : "ok", HtmlEscape(VerdictName(r.verdict)),
      r.other ? "every digest over the cap, summed" : HtmlEscape(d.digest_text));
  *out += Distributions(r);
  *out += fmt::format(
      "<table><tr><th></th><th>executions</th><th>errors</th><th>rows returned</th>"
      "<th>rows affected</th><th>p50</th><th>p95</th><th>p99</th><th>last error</th></tr>"
      "<tr><th>source</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
      "<td>{}</td><td class=\"t\">{}</td></tr>"
      "<tr><th>shadow</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
      "<td>{}</td><td class=\"t\">{}</td></tr>"
      "<tr><th>shadow/source</th><td colspan=\"4\"></td><td>{}</td><td>{}</td><td>{}</td>"
      "<td></td></tr></table>",
      d.source.executions, d.source.errors, d.source.rows_returned, d.source.rows_affected,
      Us(r.source_p50), Us(r.source_p95), Us(r.source_p99), ErrorCell(d.source),
      d.shadow.executions, d.shadow.errors, d.shadow.rows_returned, d.shadow.rows_affected,
      Us(r.shadow_p50), Us(r.shadow_p95), Us(r.shadow_p99), ErrorCell(d.shadow), Ratio(r.ratio_p50),
      Ratio(r.ratio_p95), Ratio(r.ratio_p99));
  *out += fmt::format(
      "<p>Paired statements: {}; not answered by the shadow (cut): {}; new errors on the "
      "shadow: {}; reads with different rows: {}; statements with a different row count: "
      "{}.</p>",
      d.pairs, d.unpaired, d.new_errors, d.result_mismatches, d.row_count_diffs);
  if (d.new_errors)
    *out += fmt::format("<p>Shadow's error: <span class=\"err\">{} ({}): {}</span></p>",
                        d.last_new_error.code, HtmlEscape(d.last_new_error.sqlstate),
                        HtmlEscape(d.last_new_error.text));
  *out += "</div>\n";
}

}  // namespace

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderReportHtml(const MirrorSummary& m, int64_t generated_unix) {
  time_t t = static_cast<time_t>(generated_unix);
  struct tm tm;
  gmtime_r(&t, &tm);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
  std::string name = HtmlEscape(m.name);
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>sluice mirror report: {0}</title><style>{1}</style></head><body>\n"
      "<h1>Mirror report: {0}</h1><p>Generated {2}. Verdicts: <b>slower</b> when the shadow's "
      "p95 is at least {3}× the source's{5} (with at least {4} successful executions on both "
      "sides; latencies are of successful executions), "
      "<b>new errors</b> when the shadow fails where the source did not, <b>different "
      "results</b> when a read returns other rows.</p>\n",
      name, kStyle, when, m.settings.slower_ratio, m.settings.min_samples,
      m.settings.slower_min_us ? fmt::format(" and {} above it", Us(m.settings.slower_min_us))
                               : std::string());
  out += fmt::format(
      "<h2>Summary</h2><table><tr><th>sessions</th><th>statements</th><th>cuts: queue "
      "full</th><th>cuts: shadow down</th><th>cuts: other</th><th>digests</th><th>ok</th>"
      "<th>slower</th><th>new errors</th><th>different results</th></tr><tr><td>{}</td>"
      "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
      "<td>{}</td></tr></table>\n",
      m.sessions, m.statements, m.cuts[0], m.cuts[1], m.cuts[2], m.rows.size(), m.verdict_ok,
      m.verdict_slower, m.verdict_new_errors, m.verdict_different_results);
  if (m.other_statements)
    out += fmt::format(
        "<p>{} statements of digests over the cap of {} are summed in the row "
        "<a href=\"#dother\">other</a>.</p>\n",
        m.other_statements, m.settings.max_digests);
  out += "<h2>Regressions</h2>\n";
  if (m.regressions == 0) {
    out += "<p class=\"ok\">None: every digest is ok.</p>\n";
  } else {
    out +=
        "<table><tr><th>digest</th><th>verdict</th><th>statement</th><th>p95 ratio</th>"
        "</tr>\n";
    for (const DigestRow& r : m.rows) {
      if (r.verdict == kOk) continue;
      out += fmt::format(
          "<tr><td class=\"t\"><a href=\"#d{0}\">{0}</a></td><td class=\"bad t\">{1}</td>"
          "<td class=\"t\">{2}</td><td>{3}</td></tr>\n",
          Name(r), HtmlEscape(VerdictName(r.verdict)),
          r.other ? "other" : HtmlEscape(r.agg.digest_text.substr(0, 120)), Ratio(r.ratio_p95));
    }
    out += "</table>\n";
  }
  out += "<h2>Digests</h2>\n";
  for (const DigestRow& r : m.rows) Digest(&out, r);
  out += "</body></html>\n";
  return out;
}

Status WriteReportHtml(const MirrorSummary& m, const std::string& path, int64_t generated_unix) {
  std::string page = RenderReportHtml(m, generated_unix);
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Unavailable(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  bool ok = std::fwrite(page.data(), 1, page.size(), f) == page.size();
  int err = ok ? 0 : errno;
  if (std::fclose(f) != 0 && ok) ok = false, err = errno;
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) ok = false, err = errno;
  if (!ok) {
    std::remove(tmp.c_str());
    return Unavailable(fmt::format("{}: cannot write: {}", path, std::strerror(err)));
  }
  return Status::Ok();
}

}  // namespace sluice::mirror
