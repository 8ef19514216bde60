// Unit tests of admin/admin_errors.h: the wire error each admin front end sends for an
// executor failure (MySQL number + SQLSTATE, PostgreSQL SQLSTATE).
#include "admin/admin_errors.h"

#include <string>

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(AdminErrorFor, KillOfAnUnknownIdIsUnknownThreadId) {
  for (const char* kill : {"KILL 42", "kill query 42", "KILL CONNECTION 42;"}) {
    AdminWireError e = AdminErrorFor(kill, NotFound("Unknown thread id: 42"));
    EXPECT_EQ(e.mysql_code, 1094) << kill;
    EXPECT_EQ(std::string(e.mysql_state), "HY000") << kill;
    EXPECT_EQ(std::string(e.pg_state), "42704") << kill;
  }
}

TEST(AdminErrorFor, OtherFailuresKeepTheAdminCodes) {
  // A missing mirror is not a thread id.
  EXPECT_EQ(AdminErrorFor("MIRROR REPORT x", NotFound("no mirror")).mysql_code, 1105);
  EXPECT_EQ(AdminErrorFor("SELECT 1", InvalidArgument("bad")).mysql_code, 1105);
  EXPECT_EQ(std::string(AdminErrorFor("SELECT 1", InvalidArgument("bad")).pg_state), "42601");
  AdminWireError denied =
      AdminErrorFor("DROP TABLE servers", Status(StatusCode::kPermissionDenied, "no"));
  EXPECT_EQ(denied.mysql_code, 1227);
  EXPECT_EQ(std::string(denied.mysql_state), "42000");
  EXPECT_EQ(std::string(denied.pg_state), "42501");
  EXPECT_EQ(std::string(AdminErrorFor("KILL 1", Unavailable("later")).pg_state), "55000");
  EXPECT_EQ(AdminErrorFor("KILL 1", Unavailable("later")).mysql_code, 1105);
}

}  // namespace
}  // namespace sluice
