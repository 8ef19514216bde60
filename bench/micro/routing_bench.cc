// Per-statement costs of the routing decisions: classify, digest, rules, snapshot read,
// node pick. Run a Release build: build-release/bench/routing_bench.
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "routing/balancer.h"
#include "routing/classifier.h"
#include "routing/digest.h"
#include "routing/rules.h"
#include "routing/runtime.h"

namespace sluice::routing {
namespace {

// sysbench oltp_read_write's statement mix (10 point selects, 4 ranges, 4 writes, txn).
const std::vector<std::string>& SysbenchMix() {
  static const std::vector<std::string> mix = {
      "BEGIN",
      "SELECT c FROM sbtest1 WHERE id=5023",
      "SELECT c FROM sbtest7 WHERE id=4988",
      "SELECT c FROM sbtest3 WHERE id=5012",
      "SELECT c FROM sbtest1 WHERE id=4999",
      "SELECT c FROM sbtest2 WHERE id=5030",
      "SELECT c FROM sbtest1 WHERE id=5023",
      "SELECT c FROM sbtest7 WHERE id=4988",
      "SELECT c FROM sbtest3 WHERE id=5012",
      "SELECT c FROM sbtest1 WHERE id=4999",
      "SELECT c FROM sbtest2 WHERE id=5030",
      "SELECT c FROM sbtest3 WHERE id BETWEEN 5001 AND 5100",
      "SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN 4980 AND 5079",
      "SELECT c FROM sbtest1 WHERE id BETWEEN 5011 AND 5110 ORDER BY c",
      "SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 5004 AND 5103 ORDER BY c",
      "UPDATE sbtest1 SET k=k+1 WHERE id=5042",
      "UPDATE sbtest1 SET c='83868641912-28773972837-60736120486-75162659906-27563526494-"
      "20381887404-41576422241-93426793964-56405065102-33518432330' WHERE id=4970",
      "DELETE FROM sbtest1 WHERE id=5001",
      "INSERT INTO sbtest1 (id, k, c, pad) VALUES (5001, 5020, '68487932199-96439406143-"
      "93774651418-41631865787-96406072701-20604855487-25459966574-28203206787-41238978918-"
      "19503783441', '22195207048-70116052123-74140395089-76317954521-98694025897')",
      "COMMIT",
  };
  return mix;
}

void BM_Classify(benchmark::State& state) {
  const auto& mix = SysbenchMix();
  size_t i = 0;
  for (auto _ : state) {
    Classification c = Classify(mix[i], Dialect::kMysql);
    benchmark::DoNotOptimize(c);
    if (++i == mix.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Classify);

void BM_ClassifyPostgres(benchmark::State& state) {
  const std::vector<std::string> mix = {
      "BEGIN;",
      "UPDATE pgbench_accounts SET abalance = abalance + -2740 WHERE aid = 77367;",
      "SELECT abalance FROM pgbench_accounts WHERE aid = 77367;",
      "UPDATE pgbench_tellers SET tbalance = tbalance + -2740 WHERE tid = 3;",
      "UPDATE pgbench_branches SET bbalance = bbalance + -2740 WHERE bid = 1;",
      "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 77367, -2740, "
      "CURRENT_TIMESTAMP);",
      "END;"};
  size_t i = 0;
  for (auto _ : state) {
    Classification c = Classify(mix[i], Dialect::kPostgres);
    benchmark::DoNotOptimize(c);
    if (++i == mix.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClassifyPostgres);

void BM_Digest(benchmark::State& state) {
  const auto& mix = SysbenchMix();
  std::string out;
  uint64_t h = 0;
  size_t i = 0;
  for (auto _ : state) {
    Digest(mix[i], Dialect::kMysql, &out);
    h ^= DigestHash(out);
    if (++i == mix.size()) i = 0;
  }
  benchmark::DoNotOptimize(h);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Digest);

// 100 rules as an operator writes them: anchored on the digest and the statement text.
RuleSet HundredRules(bool last_matches) {
  std::vector<QueryRule> rules;
  for (int i = 1; i <= 100; ++i) {
    QueryRule r;
    r.id = i;
    if (i % 2 == 0) {
      r.match_digest = fmt::format("^SELECT .* FROM orders_{} WHERE", i);
    } else {
      r.match_pattern = fmt::format("^(UPDATE|DELETE FROM) audit_{}\\b", i);
    }
    r.destination_hostgroup = i % 3;
    rules.push_back(r);
  }
  if (last_matches) rules.back().match_digest = "^SELECT c FROM sbtest";
  return std::move(RuleSet::Compile(rules)).value();
}

void BM_RulesMatch(benchmark::State& state) {
  RuleSet rules = HundredRules(state.range(0) != 0);
  RuleContext ctx;
  ctx.cluster = "main";
  ctx.user = "app";
  ctx.statement = "SELECT c FROM sbtest1 WHERE id=5023";
  ctx.digest = "SELECT c FROM sbtest1 WHERE id = ?";
  int matched = 0;
  for (auto _ : state) matched += RuleDecision(rules.Match(ctx)).rule_id;
  benchmark::DoNotOptimize(matched);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RulesMatch)->Arg(0)->Arg(1)->ArgName("last_rule_matches");

void BM_RuntimeCacheCurrent(benchmark::State& state) {
  RuntimeHolder holder;
  auto rt = std::make_shared<Runtime>();
  rt->clusters.resize(1);
  holder.Publish(rt);
  RuntimeCache cache(&holder);
  size_t n = 0;
  for (auto _ : state) n += cache.Current()->clusters.size();
  benchmark::DoNotOptimize(n);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RuntimeCacheCurrent);

void BM_PickServer(benchmark::State& state) {
  Cluster c;
  c.servers.resize(3);
  for (int i = 0; i < 3; ++i) {
    c.servers[i].hostgroup = 1;
    c.servers[i].weight = i + 1;
  }
  std::vector<int> outstanding = {0, 0, 0};
  uint64_t cursor = 0;
  int sum = 0;
  for (auto _ : state) {
    int s = PickServer(c, 1, outstanding, &cursor);
    sum += s;
    outstanding[s] = (outstanding[s] + 1) & 3;  // some load that moves
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PickServer);

}  // namespace
}  // namespace sluice::routing
