// The KILL statement and CONNECTION_ID(), as a proxy that gives clients its own connection
// ids must read them: pure functions over the statement text (routing/sql_lexer.h), used by
// the MySQL sessions and the admin port.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::routing {

struct KillStatement {
  bool query_only = false;  // KILL QUERY (else KILL [CONNECTION])
  uint32_t id = 0;
  // Set when the statement is a KILL sluice does not map: KILL QUERY ID (a query id),
  // KILL USER, or a target that is not a connection id.
  std::string unsupported;
};

// KILL [HARD | SOFT] [CONNECTION | QUERY] <id> [;]; nullopt when SQL is not a KILL.
std::optional<KillStatement> ParseKill(std::string_view sql);

// SQL with every call CONNECTION_ID() (outside strings, comments and quoted names) replaced
// by the literal ID; nullopt when there is none.
std::optional<std::string> ReplaceConnectionId(std::string_view sql, uint32_t id);

}  // namespace sluice::routing
