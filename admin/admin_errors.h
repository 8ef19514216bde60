// admin_errors: how the admin front ends word an error of the admin statement executor: the
// MySQL error number and SQLSTATE, and the PostgreSQL SQLSTATE. One mapping for both ports.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace sluice {

struct AdminWireError {
  uint16_t mysql_code;
  const char* mysql_state;
  const char* pg_state;
};

// The wire error for ST, the failure of STATEMENT. A KILL of an id no session has is
// MySQL's ER_NO_SUCH_THREAD (1094, what the server answers for an unknown thread id).
AdminWireError AdminErrorFor(std::string_view statement, const Status& st);

}  // namespace sluice
