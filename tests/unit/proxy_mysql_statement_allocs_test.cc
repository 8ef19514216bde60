// A MySQL point select allocates nothing in the session once its buffers are warm (issue #17,
// docs/performance.md "MySQL statement path"): every operator new of this test binary is
// counted while a session runs sysbench's oltp_point_select, prepared and as COM_QUERY
// (tests/unit/mysql_point_select.h; the test's own peers allocate nothing once warm).
// libevent's own mallocs are not counted here.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/counting_new.h"
#include "tests/unit/mysql_point_select.h"

namespace sluice::mysqlproxy {
namespace {

using point_select::Session;

// Allocations of the fewest-allocating of three windows of 50 statements. The worker hands
// its statistics over once a second and the rows it counts into next are new (allocated):
// that can fall in one window, not in all three.
uint64_t FewestPerWindow(Session& s, const std::vector<std::string>& requests) {
  for (size_t i = 0; i < 16; ++i) EXPECT_TRUE(s.RoundTrip(requests[i % requests.size()]));
  uint64_t fewest = UINT64_MAX;
  for (int w = 0; w < 3; ++w) {
    uint64_t before = sluice::testing::CountingNew::calls().load();
    for (size_t i = 0; i < 50; ++i) {
      if (!s.RoundTrip(requests[i % requests.size()])) {
        ADD_FAILURE() << "no answer to statement " << i;
        return UINT64_MAX;
      }
    }
    fewest = std::min(fewest, sluice::testing::CountingNew::calls().load() - before);
  }
  return fewest;
}

TEST(MysqlStatementAllocs, CountingSeesAllocations) {
  uint64_t before = sluice::testing::CountingNew::calls().load();
  auto* p = new std::string(100, 'x');
  delete p;
  EXPECT_GE(sluice::testing::CountingNew::calls().load() - before, 2u);
}

// Before: the command's payload copied out of the client buffer, RewriteExecute's copy of
// it, and the pool's std::list node per connection given back (3 per statement).
TEST(MysqlStatementAllocs, APreparedPointSelectAllocatesNothing) {
  Session s;
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s.Prepare());
  ASSERT_TRUE(s.RoundTrip(point_select::Execute(1, 1, true)));
  std::vector<std::string> requests;
  for (int64_t id = 1; id <= 8; ++id) requests.push_back(point_select::Execute(1, id, false));
  EXPECT_EQ(FewestPerWindow(s, requests), 0u);
}

// Before: the payload copy, the digest's buffer, the pool's node (2 per statement).
TEST(MysqlStatementAllocs, ATextPointSelectAllocatesNothing) {
  Session s;
  ASSERT_TRUE(s.ok());
  std::vector<std::string> requests;
  for (int64_t id = 1; id <= 8; ++id) requests.push_back(point_select::Query(id));
  EXPECT_EQ(FewestPerWindow(s, requests), 0u);
}

}  // namespace
}  // namespace sluice::mysqlproxy
