// SessionState: the per-connection settings a MySQL client set (schema, SET variables,
// SET NAMES), kept for the client and for each backend connection, and the plan of
// commands that brings a pooled backend connection in line with its next client.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "proxy/session_vars.h"

namespace sluice::mysqlproxy {

// The variables (proxy/session_vars.h) are named lower-case without @@session./SESSION,
// valued with the SQL expression text as the client wrote it; "names" holds the text after
// SET NAMES (charset [COLLATE collation]).
struct SessionState : SessionVars {
  std::string schema;
};

// Normalises a variable name as written after SET: strips `@@session.`, `@@local.`,
// `@@`, `SESSION `, `LOCAL ` and lower-cases it. Returns "" for names that are not
// session variables (user variables `@x`, `GLOBAL` ones).
std::string NormaliseVarName(std::string_view written);

struct SyncStep {
  enum Kind { kInitDb, kQuery } kind;
  std::string text;  // schema for kInitDb, SQL for kQuery
};

// Commands that turn `have` into `want`: COM_INIT_DB for the schema, SET NAMES on its own,
// then one SET with every other differing variable (`name=DEFAULT` for what `have` set
// and `want` did not).
std::vector<SyncStep> PlanSync(const SessionState& want, const SessionState& have);

}  // namespace sluice::mysqlproxy
