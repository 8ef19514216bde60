#include "routing/rules.h"

#include <algorithm>

#include <fmt/format.h>
#include <re2/re2.h>

namespace sluice::routing {

struct RuleSet::Compiled {
  QueryRule rule;
  std::unique_ptr<re2::RE2> pattern;  // null: any statement
  std::unique_ptr<re2::RE2> digest;   // null: any digest
};

RuleSet::RuleSet() = default;
RuleSet::RuleSet(RuleSet&&) noexcept = default;
RuleSet& RuleSet::operator=(RuleSet&&) noexcept = default;
RuleSet::~RuleSet() = default;

namespace {

Result<std::unique_ptr<re2::RE2>> CompilePattern(const QueryRule& rule, const std::string& p,
                                                 const char* field) {
  if (p.empty()) return std::unique_ptr<re2::RE2>();
  re2::RE2::Options options;
  options.set_log_errors(false);  // the error goes back to the admin who typed it
  options.set_case_sensitive(false);
  auto re = std::make_unique<re2::RE2>(p, options);
  if (!re->ok())
    return InvalidArgument(
        fmt::format("query rule {}: bad {} '{}': {}", rule.id, field, p, re->error()));
  return re;
}

}  // namespace

bool ClientAddressMatches(std::string_view filter, std::string_view address) {
  if (filter.empty()) return true;
  if (filter.back() == '%') return address.starts_with(filter.substr(0, filter.size() - 1));
  return filter == address;
}

Result<RuleSet> RuleSet::Compile(const std::vector<QueryRule>& rules) {
  RuleSet set;
  set.rules_.reserve(rules.size());
  for (const QueryRule& r : rules) {
    Compiled c;
    c.rule = r;
    auto pattern = CompilePattern(r, r.match_pattern, "match_pattern");
    if (!pattern.ok()) return pattern.status();
    auto digest = CompilePattern(r, r.match_digest, "match_digest");
    if (!digest.ok()) return digest.status();
    c.pattern = std::move(pattern).value();
    c.digest = std::move(digest).value();
    set.rules_.push_back(std::move(c));
  }
  std::stable_sort(set.rules_.begin(), set.rules_.end(),
                   [](const Compiled& a, const Compiled& b) { return a.rule.id < b.rule.id; });
  for (size_t i = 1; i < set.rules_.size(); ++i)
    if (set.rules_[i].rule.id == set.rules_[i - 1].rule.id)
      return InvalidArgument(
          fmt::format("query rule {}: duplicate rule id", set.rules_[i].rule.id));
  return set;
}

RuleDecision RuleSet::Match(const RuleContext& ctx) const {
  RuleDecision d;
  for (const Compiled& c : rules_) {
    const QueryRule& r = c.rule;
    if (!r.active) continue;
    // The cheap filters first; a regex runs only on a statement they let through.
    if (!r.cluster.empty() && r.cluster != ctx.cluster) continue;
    if (!r.user.empty() && r.user != ctx.user) continue;
    if (!r.schema.empty() && r.schema != ctx.schema) continue;
    if (!ClientAddressMatches(r.client_addr, ctx.client_address)) continue;
    if (c.digest && !re2::RE2::PartialMatch(ctx.digest, *c.digest)) continue;
    if (c.pattern && !re2::RE2::PartialMatch(ctx.statement, *c.pattern)) continue;
    d.rule_id = r.id;
    if (r.mirror) d.mirror = true;
    if (r.action == RuleAction::kReject) {
      d.reject = true;
      d.error_message = r.error_message;
      d.destination_hostgroup = -1;
      return d;
    }
    if (r.destination_hostgroup >= 0) d.destination_hostgroup = r.destination_hostgroup;
    if (r.apply) return d;
  }
  return d;
}

}  // namespace sluice::routing
namespace sluice::routing {
// Out of line: Compiled is complete only here.
size_t RuleSet::size() const { return rules_.size(); }
}  // namespace sluice::routing
