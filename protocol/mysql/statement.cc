#include "protocol/mysql/statement.h"

#include "protocol/mysql/constants.h"
#include "protocol/mysql/wire.h"

namespace sluice::mysql {

Result<PrepareOk> DecodePrepareOk(std::span<const uint8_t> payload) {
  Reader r(payload);
  uint8_t header = 0xff;
  PrepareOk ok;
  if (!r.ReadU8(&header) || header != kOkHeader || !r.ReadU32(&ok.statement_id) ||
      !r.ReadU16(&ok.num_columns) || !r.ReadU16(&ok.num_params)) {
    return ProtocolError("PREPARE_OK: truncated");
  }
  // Filler + warning count; very old servers stop after the parameter count.
  if (r.remaining() >= 3) {
    (void)r.Skip(1);
    (void)r.ReadU16(&ok.warnings);
  }
  return ok;
}

std::string EncodePrepareOk(const PrepareOk& ok) {
  std::string out;
  Writer(&out)
      .U8(kOkHeader)
      .U32(ok.statement_id)
      .U16(ok.num_columns)
      .U16(ok.num_params)
      .U8(0)
      .U16(ok.warnings);
  return out;
}

Result<StmtExecute> ParseStmtExecute(std::span<const uint8_t> payload, uint16_t num_params) {
  Reader r(payload);
  uint8_t command = 0;
  StmtExecute ex;
  if (!r.ReadU8(&command) || command != COM_STMT_EXECUTE || !r.ReadU32(&ex.statement_id) ||
      !r.ReadU8(&ex.flags) || !r.ReadU32(&ex.iteration_count)) {
    return ProtocolError("COM_STMT_EXECUTE: truncated header");
  }
  if (num_params == 0) {
    ex.values = payload.subspan(r.position());
    return ex;
  }
  uint8_t bound = 0;
  if (!r.ReadBytes((num_params + 7) / 8, &ex.null_bitmap) || !r.ReadU8(&bound)) {
    return ProtocolError("COM_STMT_EXECUTE: truncated NULL bitmap");
  }
  ex.new_params_bound = bound != 0;
  if (ex.new_params_bound && !r.ReadBytes(2 * size_t{num_params}, &ex.param_types)) {
    return ProtocolError("COM_STMT_EXECUTE: truncated parameter types");
  }
  ex.values = payload.subspan(r.position());
  return ex;
}

std::optional<uint32_t> StatementIdOf(std::span<const uint8_t> payload) {
  Reader r(payload);
  uint32_t id;
  if (!r.Skip(1) || !r.ReadU32(&id)) return std::nullopt;
  return id;
}

bool RewriteStatementId(std::span<uint8_t> payload, uint32_t new_id) {
  if (payload.size() < 5) return false;
  for (int i = 0; i < 4; ++i) payload[1 + i] = static_cast<uint8_t>(new_id >> (8 * i));
  return true;
}

bool RewriteStatementId(std::string* payload, uint32_t new_id) {
  return RewriteStatementId(
      std::span<uint8_t>(reinterpret_cast<uint8_t*>(payload->data()), payload->size()), new_id);
}

std::optional<std::string> ExtractParamTypes(std::span<const uint8_t> payload,
                                             uint16_t num_params) {
  Result<StmtExecute> ex = ParseStmtExecute(payload, num_params);
  if (!ex.ok() || !ex->new_params_bound || num_params == 0) return std::nullopt;
  return std::string(AsStringView(ex->param_types));
}

Result<std::string> BuildExecuteWithTypes(std::span<const uint8_t> execute_payload,
                                          uint16_t num_params, std::string_view saved_types) {
  Result<StmtExecute> ex = ParseStmtExecute(execute_payload, num_params);
  if (!ex.ok()) return ex.status();
  std::string_view whole = AsStringView(execute_payload);
  if (num_params == 0 || ex->new_params_bound) return std::string(whole);
  if (saved_types.size() != 2 * size_t{num_params}) {
    return InvalidArgument("saved parameter types do not match the parameter count");
  }
  // Header (10 bytes) + NULL bitmap, then the flag byte, then the values.
  size_t flag_pos = 10 + ex->null_bitmap.size();
  std::string out;
  out.reserve(whole.size() + saved_types.size());
  out.append(whole.substr(0, flag_pos));
  out.push_back('\x01');
  out.append(saved_types);
  out.append(whole.substr(flag_pos + 1));
  return out;
}

}  // namespace sluice::mysql
