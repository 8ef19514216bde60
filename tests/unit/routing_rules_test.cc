#include "routing/rules.h"

#include <gtest/gtest.h>

namespace sluice::routing {
namespace {

QueryRule Rule(int id, std::string pattern, int hostgroup, bool apply = true) {
  QueryRule r;
  r.id = id;
  r.match_pattern = std::move(pattern);
  r.destination_hostgroup = hostgroup;
  r.apply = apply;
  return r;
}

RuleContext Ctx(std::string_view statement, std::string_view digest = "") {
  RuleContext c;
  c.cluster = "main";
  c.user = "app";
  c.schema = "shop";
  c.client_address = "127.0.0.1";
  c.statement = statement;
  c.digest = digest;
  return c;
}

RuleSet MustCompile(const std::vector<QueryRule>& rules) {
  auto set = RuleSet::Compile(rules);
  EXPECT_TRUE(set.ok()) << set.status().message();
  return std::move(set).value();
}

TEST(RoutingRules, NoRulesNoDecision) {
  RuleSet set = MustCompile({});
  RuleDecision d = set.Match(Ctx("SELECT 1"));
  EXPECT_EQ(d.rule_id, 0);
  EXPECT_EQ(d.destination_hostgroup, -1);
  EXPECT_FALSE(d.reject);
  EXPECT_FALSE(d.mirror);
}

TEST(RoutingRules, BadPatternIsAnErrorNamingRuleAndPattern) {
  auto set = RuleSet::Compile({Rule(1, "^SELECT", 1), Rule(7, "^SELECT (", 1)});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(set.status().message().find("7"), std::string::npos);
  EXPECT_NE(set.status().message().find("^SELECT ("), std::string::npos);
  QueryRule bad_digest;
  bad_digest.id = 3;
  bad_digest.match_digest = "[z-a]";
  auto set2 = RuleSet::Compile({bad_digest});
  ASSERT_FALSE(set2.ok());
  EXPECT_NE(set2.status().message().find("match_digest"), std::string::npos);
}

TEST(RoutingRules, DuplicateIdsAreRefused) {
  auto set = RuleSet::Compile({Rule(5, "a", 1), Rule(5, "b", 2)});
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("duplicate"), std::string::npos);
}

TEST(RoutingRules, WalkIsInIdOrderAndApplyStops) {
  // Given out of order: rule 10 must be seen before rule 20.
  RuleSet set = MustCompile({Rule(20, "^SELECT", 2), Rule(10, "FOR UPDATE$", 0)});
  EXPECT_EQ(set.Match(Ctx("SELECT * FROM t FOR UPDATE")).rule_id, 10);
  EXPECT_EQ(set.Match(Ctx("SELECT * FROM t FOR UPDATE")).destination_hostgroup, 0);
  EXPECT_EQ(set.Match(Ctx("SELECT * FROM t")).rule_id, 20);
  EXPECT_EQ(set.Match(Ctx("SELECT * FROM t")).destination_hostgroup, 2);
}

TEST(RoutingRules, WithoutApplyLaterRulesStillMatch) {
  QueryRule mirror = Rule(1, "^SELECT", -1, /*apply=*/false);
  mirror.mirror = true;
  RuleSet set = MustCompile({mirror, Rule(2, "sbtest", 3)});
  RuleDecision d = set.Match(Ctx("SELECT c FROM sbtest1"));
  EXPECT_EQ(d.rule_id, 2);
  EXPECT_TRUE(d.mirror);
  EXPECT_EQ(d.destination_hostgroup, 3);
  // A later match without a destination keeps the earlier one's.
  RuleSet set2 = MustCompile({Rule(1, "^SELECT", 4, false), Rule(2, "sbtest", -1)});
  d = set2.Match(Ctx("SELECT c FROM sbtest1"));
  EXPECT_EQ(d.rule_id, 2);
  EXPECT_EQ(d.destination_hostgroup, 4);
}

TEST(RoutingRules, InactiveRulesAreIgnored) {
  QueryRule r = Rule(1, "^SELECT", 5);
  r.active = false;
  RuleSet set = MustCompile({r});
  EXPECT_EQ(set.Match(Ctx("SELECT 1")).rule_id, 0);
}

TEST(RoutingRules, RejectCarriesTheMessageAndStops) {
  QueryRule r = Rule(1, "^DELETE FROM \\w+$", -1, /*apply=*/false);
  r.action = RuleAction::kReject;
  r.error_message = "DELETE without WHERE is not allowed";
  RuleSet set = MustCompile({r, Rule(2, ".", 7)});
  RuleDecision d = set.Match(Ctx("DELETE FROM orders"));
  EXPECT_TRUE(d.reject);
  EXPECT_EQ(d.rule_id, 1);
  EXPECT_EQ(d.error_message, "DELETE without WHERE is not allowed");
  EXPECT_EQ(d.destination_hostgroup, -1);
  d = set.Match(Ctx("DELETE FROM orders WHERE id = 1"));
  EXPECT_FALSE(d.reject);
  EXPECT_EQ(d.rule_id, 2);
}

TEST(RoutingRules, PatternsAreCaseInsensitive) {
  RuleSet set = MustCompile({Rule(1, "^SELECT .* FOR UPDATE", 0)});
  EXPECT_EQ(set.Match(Ctx("select a from t for update")).rule_id, 1);
}

TEST(RoutingRules, FiltersOnClusterUserSchemaAddress) {
  QueryRule r = Rule(1, "", 9);
  r.cluster = "main";
  r.user = "report";
  r.schema = "shop";
  r.client_addr = "10.1.%";
  RuleSet set = MustCompile({r});
  RuleContext c = Ctx("SELECT 1");
  c.user = "report";
  c.client_address = "10.1.2.3";
  EXPECT_EQ(set.Match(c).rule_id, 1);
  RuleContext other = c;
  other.user = "app";
  EXPECT_EQ(set.Match(other).rule_id, 0);
  other = c;
  other.schema = "blog";
  EXPECT_EQ(set.Match(other).rule_id, 0);
  other = c;
  other.cluster = "analytics";
  EXPECT_EQ(set.Match(other).rule_id, 0);
  other = c;
  other.client_address = "10.2.0.1";
  EXPECT_EQ(set.Match(other).rule_id, 0);
}

TEST(RoutingRules, ClientAddressFilter) {
  EXPECT_TRUE(ClientAddressMatches("", "1.2.3.4"));
  EXPECT_TRUE(ClientAddressMatches("1.2.3.4", "1.2.3.4"));
  EXPECT_FALSE(ClientAddressMatches("1.2.3.4", "1.2.3.45"));
  EXPECT_TRUE(ClientAddressMatches("1.2.%", "1.2.3.45"));
  EXPECT_FALSE(ClientAddressMatches("1.2.%", "1.20.3.4"));
}

TEST(RoutingRules, DigestPatternMatchesTheDigest) {
  QueryRule r;
  r.id = 1;
  r.match_digest = "^SELECT c FROM sbtest\\d+ WHERE id = \\?$";
  r.destination_hostgroup = 2;
  RuleSet set = MustCompile({r});
  EXPECT_EQ(set.Match(Ctx("SELECT c FROM sbtest1 WHERE id=5", "SELECT c FROM sbtest1 WHERE id = ?"))
                .rule_id,
            1);
  EXPECT_EQ(set.Match(Ctx("SELECT c FROM sbtest1 WHERE id=5", "SELECT c FROM sbtest1")).rule_id, 0);
}

TEST(RoutingRules, MovedRuleSetStillMatches) {
  RuleSet a = MustCompile({Rule(1, "x", 1)});
  RuleSet b = std::move(a);
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(b.Match(Ctx("x")).rule_id, 1);
}

}  // namespace
}  // namespace sluice::routing
