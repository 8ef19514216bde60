// The mirror report as one self-contained HTML page (inline SVG and CSS, no script, nothing
// fetched): a summary, the regressions first, then per digest both latency distributions on
// one axis, the error texts and the row-count differences. Every statement or error text
// is escaped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "mirror/report.h"

namespace sluice::mirror {

// & < > " ' as entities: safe in element text and in quoted attributes.
std::string HtmlEscape(std::string_view s);

// The page for M, saying it was generated at GENERATED_UNIX (seconds, UTC).
std::string RenderReportHtml(const MirrorSummary& m, int64_t generated_unix);

// Writes the page to PATH (through a temporary file renamed over it, so a reader never sees
// half a page). The error names the path and the reason.
Status WriteReportHtml(const MirrorSummary& m, const std::string& path, int64_t generated_unix);

}  // namespace sluice::mirror
