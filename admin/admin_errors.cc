#include "admin/admin_errors.h"

#include "routing/kill_statement.h"

namespace sluice {
namespace {

// From MariaDB include/mysqld_error.h.
constexpr uint16_t ER_NO_SUCH_THREAD = 1094;
constexpr uint16_t ER_UNKNOWN_ERROR = 1105;  // what ProxySQL's admin sends for any error
constexpr uint16_t ER_SPECIFIC_ACCESS_DENIED_ERROR = 1227;

}  // namespace

AdminWireError AdminErrorFor(std::string_view statement, const Status& st) {
  switch (st.code()) {
    case StatusCode::kPermissionDenied:
      return {ER_SPECIFIC_ACCESS_DENIED_ERROR, "42000", "42501"};  // insufficient_privilege
    case StatusCode::kNotFound:
      if (routing::ParseKill(statement)) return {ER_NO_SUCH_THREAD, "HY000", "42704"};
      return {ER_UNKNOWN_ERROR, "HY000", "42704"};  // undefined_object
    case StatusCode::kInvalidArgument:
      return {ER_UNKNOWN_ERROR, "HY000", "42601"};  // syntax_error (or a refused value)
    case StatusCode::kUnavailable:
      return {ER_UNKNOWN_ERROR, "HY000", "55000"};  // object_not_in_prerequisite_state
    default:
      return {ER_UNKNOWN_ERROR, "HY000", "XX000"};  // internal_error
  }
}

}  // namespace sluice
