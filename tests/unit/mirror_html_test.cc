// The HTML mirror report: escaping of every statement and error text, the page's parts
// (summary, regressions first, two distributions per digest), and a real load in headless
// Chromium (Debian `chromium`, scripts/install-deps.sh) that must name the flagged digests.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "mirror/report_html.h"

namespace sluice::mirror {
namespace {

OutcomePair Pair(uint64_t digest, const std::string& text, uint64_t src_us, uint64_t sh_us,
                 bool sh_ok = true, uint64_t sh_checksum = 42) {
  static uint64_t seq = 0;
  Outcome a;
  a.mirror = "shadow<1>";
  a.digest_hash = digest;
  a.digest_text = text;
  a.seq = ++seq;
  a.start_us = 0;
  a.end_us = static_cast<int64_t>(src_us);
  a.read = true;
  a.rows_returned = 3;
  a.checksum = 42;
  Outcome b = a;
  b.side = Side::kShadow;
  b.end_us = static_cast<int64_t>(sh_us);
  b.ok = sh_ok;
  b.checksum = sh_checksum;
  if (!sh_ok) {
    b.error = {1054, "42S22", "Unknown column 'k<b>' in 'field list' & <script>x</script>"};
    b.rows_returned = 0;
  }
  return {a, b};
}

// A report with one digest of each verdict.
MirrorSummary Fed() {
  MirrorReport report;
  ReportSettings s;
  s.min_samples = 20;
  report.SetSettings("shadow<1>", s);
  // Two partials (two seconds of a worker): `slower` is judged on the first, confirmed by
  // the second.
  for (int half = 0; half < 2; ++half) {
    MirrorPartial p;
    if (half == 0) {
      p.SessionStarted("shadow<1>");
      p.SessionCut("shadow<1>", CutReason::kShadowDown);
    }
    for (int i = half * 50; i < (half + 1) * 50; ++i) {
      uint64_t base = 800 + (i * 37) % 400;
      p.Add(Pair(0x1111, "SELECT c FROM sbtest1 WHERE k = ?", base, base * 4));
      p.Add(Pair(0x2222, "SELECT pad FROM sbtest1 WHERE id = ?", base, base, i % 2 == 0));
      p.Add(Pair(0x3333, "SELECT c FROM sbtest1 WHERE id BETWEEN ? AND ?", base, base, true,
                 i % 10 ? 42 : 41));
      p.Add(Pair(0x4444, "SELECT '<img src=x onerror=alert(1)>' FROM t WHERE a < ?", base, base));
    }
    report.Merge(p);
  }
  return *report.Find("shadow<1>");
}

TEST(HtmlEscapeTest, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(HtmlEscape("a<b>&\"c\"'d'"), "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;");
  EXPECT_EQ(HtmlEscape("plain µs"), "plain µs");
  EXPECT_EQ(HtmlEscape(""), "");
}

TEST(ReportHtmlTest, PageHasSummaryRegressionsFirstAndEscapedTexts) {
  MirrorSummary m = Fed();
  std::string page = RenderReportHtml(m, 1764590400);
  EXPECT_EQ(page.find("<script"), std::string::npos);  // nothing executable, escaped or not
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;x&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(page.find("shadow&lt;1&gt;"), std::string::npos);
  EXPECT_EQ(page.find("shadow<1>"), std::string::npos);
  EXPECT_EQ(page.find("http://"), page.find("http://www.w3.org/2000/svg"));  // no fetch
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_NE(page.find("2025-12-01 12:00:00 UTC"), std::string::npos);
  // The regressions table lists the three flagged digests before the per-digest part.
  size_t regressions = page.find("<h2>Regressions</h2>");
  size_t digests = page.find("<h2>Digests</h2>");
  ASSERT_NE(regressions, std::string::npos);
  ASSERT_NE(digests, std::string::npos);
  for (uint64_t d : {0x1111, 0x2222, 0x3333}) {
    size_t at = page.find(DigestHex(d), regressions);
    EXPECT_LT(at, digests) << DigestHex(d);
  }
  size_t ok_at = page.find(DigestHex(0x4444), regressions);
  EXPECT_GT(ok_at, digests);  // an ok digest is not among the regressions
  // Two distributions per digest: one SVG with a source and a shadow panel each.
  size_t svgs = 0;
  for (size_t at = page.find("<svg"); at != std::string::npos; at = page.find("<svg", at + 1))
    ++svgs;
  EXPECT_EQ(svgs, 4u);
  EXPECT_NE(page.find(">slower<"), std::string::npos);
  EXPECT_NE(page.find(">new errors<"), std::string::npos);
  EXPECT_NE(page.find(">different results<"), std::string::npos);
}

std::string Slurp(FILE* f) {
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  return out;
}

// Loads the page in headless Chromium and checks the DOM it built. Chromium is a test
// dependency (scripts/install-deps.sh): when it is missing this test fails.
TEST(ReportHtmlTest, OpensInHeadlessChromiumAndNamesTheFlaggedDigests) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("sluice_mirror_html." + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "profile");
  std::string page = (dir / "report.html").string();
  ASSERT_TRUE(WriteReportHtml(Fed(), page, 1764590400).ok());
  ASSERT_EQ(std::system("command -v chromium >/dev/null 2>&1"), 0)
      << "chromium is not installed (scripts/install-deps.sh installs it)";
  std::string cmd =
      "timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking "
      "--disable-component-update --disable-sync --no-first-run --user-data-dir=" +
      (dir / "profile").string() + " --screenshot=" + (dir / "shot.png").string() +
      " --window-size=1200,2000 file://" + page + " 2>" + (dir / "stderr").string() +
      " && timeout 90 chromium --headless --no-sandbox --disable-gpu "
      "--disable-background-networking --disable-component-update --disable-sync "
      "--no-first-run --user-data-dir=" +
      (dir / "profile").string() + " --dump-dom file://" + page + " 2>>" +
      (dir / "stderr").string();
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string dom = Slurp(f);
  int rc = pclose(f);
  std::ifstream err(dir / "stderr");
  std::stringstream errs;
  errs << err.rdbuf();
  ASSERT_EQ(rc, 0) << "chromium failed: " << errs.str();
  // The DOM Chromium built from the page: the title, the summary and every flagged digest.
  EXPECT_NE(dom.find("<title>sluice mirror report: shadow&lt;1&gt;</title>"), std::string::npos)
      << dom.substr(0, 500);
  EXPECT_NE(dom.find("<h2>Regressions</h2>"), std::string::npos);
  for (uint64_t d : {0x1111, 0x2222, 0x3333}) EXPECT_NE(dom.find(DigestHex(d)), std::string::npos);
  EXPECT_NE(dom.find("<svg"), std::string::npos);  // the SVG parsed as SVG elements
  EXPECT_EQ(dom.find("<script"), std::string::npos);
  EXPECT_GT(fs::file_size(dir / "shot.png"), 10000u);  // a rendered page, not a blank one
  if (const char* keep = std::getenv("SLUICE_KEEP_REPORT"); keep && *keep) {
    fs::copy_file(dir / "shot.png", keep, fs::copy_options::overwrite_existing);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sluice::mirror
