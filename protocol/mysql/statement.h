// Prepared-statement messages: the COM_STMT_PREPARE OK, COM_STMT_EXECUTE parsing, and the
// rewrites a multiplexing proxy needs (statement id swap, re-sending saved parameter types).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::mysql {

// COM_STMT_PREPARE_OK.
struct PrepareOk {
  uint32_t statement_id = 0;
  uint16_t num_columns = 0;
  uint16_t num_params = 0;
  uint16_t warnings = 0;
};

Result<PrepareOk> DecodePrepareOk(std::span<const uint8_t> payload);
std::string EncodePrepareOk(const PrepareOk& ok);

// A parsed COM_STMT_EXECUTE (MySQL internals "COM_STMT_EXECUTE"), spans into the payload.
struct StmtExecute {
  uint32_t statement_id = 0;
  uint8_t flags = 0;  // CURSOR_TYPE_*
  uint32_t iteration_count = 0;
  std::span<const uint8_t> null_bitmap;  // (num_params + 7) / 8 bytes
  bool new_params_bound = false;
  std::span<const uint8_t> param_types;  // 2 bytes per parameter, when new_params_bound
  std::span<const uint8_t> values;       // the rest: binary parameter values
};

// `num_params` comes from the statement's PrepareOk; the layout depends on it.
Result<StmtExecute> ParseStmtExecute(std::span<const uint8_t> payload, uint16_t num_params);

// MariaDB (10.2+): this statement id in COM_STMT_EXECUTE/SEND_LONG_DATA/RESET/CLOSE/FETCH
// means "the statement prepared last on this connection", so a driver can pipeline
// COM_STMT_PREPARE and its COM_STMT_EXECUTE without waiting for the id (the mariadb Node.js
// and Java connectors do). After a failed prepare it names no statement.
inline constexpr uint32_t kLastPreparedStatement = 0xFFFFFFFF;

// Statement id of COM_STMT_EXECUTE/CLOSE/RESET/SEND_LONG_DATA/FETCH (bytes 1..4).
std::optional<uint32_t> StatementIdOf(std::span<const uint8_t> payload);
// Overwrites that id in place; false when the payload is too short.
bool RewriteStatementId(std::span<uint8_t> payload, uint32_t new_id);
bool RewriteStatementId(std::string* payload, uint32_t new_id);

// The parameter types an execute carries (2 * num_params bytes), if it set new-params-bound.
std::optional<std::string> ExtractParamTypes(std::span<const uint8_t> payload, uint16_t num_params);

// The same execute with new-params-bound = 1 and `saved_types` inserted when the client sent
// none (drivers send types only on a statement's first execute, but a backend connection that
// has not seen them needs them). An execute that already carries types is returned unchanged.
Result<std::string> BuildExecuteWithTypes(std::span<const uint8_t> execute_payload,
                                          uint16_t num_params, std::string_view saved_types);

}  // namespace sluice::mysql
