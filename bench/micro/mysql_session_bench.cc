// Micro benchmarks of the MySQL statement path: one logged-in MysqlSession on in-memory
// bufferevent pairs (tests/unit/session_harness.h), a sysbench oltp_point_select per
// iteration (COM_STMT_EXECUTE of a prepared statement, and the same as a COM_QUERY), in and
// its answer out. The peers' own work is in the time too and the same before and after a
// change: read the difference. allocs_per_stmt counts operator new per statement; the
// peers allocate nothing once warm, so it is the session's (libevent's own mallocs not).

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "tests/unit/counting_new.h"
#include "tests/unit/mysql_point_select.h"

namespace sluice::mysqlproxy {
namespace {

using point_select::Execute;
using point_select::Session;

// Runs REQUESTS round-robin through S, one per iteration (warm first), and reports the
// allocations per statement.
void Run(benchmark::State& state, Session& s, const std::vector<std::string>& requests) {
  for (size_t i = 0; i < 16; ++i) s.RoundTrip(requests[i % requests.size()]);  // warm buffers
  uint64_t news = sluice::testing::CountingNew::calls().load();
  size_t i = 0;
  for (auto _ : state) {
    if (!s.RoundTrip(requests[i++ % requests.size()])) {
      state.SkipWithError("no answer");
      return;
    }
  }
  state.counters["allocs_per_stmt"] =
      benchmark::Counter(static_cast<double>(sluice::testing::CountingNew::calls().load() - news),
                         benchmark::Counter::kAvgIterations);
}

void BM_PointSelectExecute(benchmark::State& state) {
  Session s;
  if (!s.ok() || !s.Prepare() || !s.RoundTrip(Execute(1, 1, true))) {
    state.SkipWithError("login or prepare failed");
    return;
  }
  // Requests built up front: the loop allocates nothing of its own.
  std::vector<std::string> requests;
  for (int64_t id = 0; id < 64; ++id) requests.push_back(Execute(1, id + 1, false));
  Run(state, s, requests);
}
BENCHMARK(BM_PointSelectExecute);

void BM_PointSelectQuery(benchmark::State& state) {
  Session s;
  if (!s.ok()) {
    state.SkipWithError("login failed");
    return;
  }
  std::vector<std::string> requests;
  for (int64_t id = 0; id < 64; ++id) requests.push_back(point_select::Query(id + 1));
  Run(state, s, requests);
}
BENCHMARK(BM_PointSelectQuery);

}  // namespace
}  // namespace sluice::mysqlproxy
