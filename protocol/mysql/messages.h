// The generic server responses OK, ERR and EOF: decode, encode, and tell them apart from rows.
// MakeErr/MakeOk build the payloads the proxy answers clients with.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "protocol/mysql/constants.h"

namespace sluice::mysql {

struct OkPacket {
  uint64_t affected_rows = 0;
  uint64_t last_insert_id = 0;
  uint16_t status_flags = 0;
  uint16_t warnings = 0;
  std::string info;
  // Raw session-state-change data (CLIENT_SESSION_TRACK with SERVER_SESSION_STATE_CHANGED):
  // a sequence of (type, lenenc data) entries, kept as is.
  std::string session_state_changes;
  bool eof_header = false;  // 0xFE: the OK that ends a result set under CLIENT_DEPRECATE_EOF
};

struct ErrPacket {
  uint16_t code = 0;
  std::string sql_state;  // five characters; "HY000" when the packet has none (pre-4.1 form)
  std::string message;
};

struct EofPacket {
  uint16_t warnings = 0;
  uint16_t status_flags = 0;
};

// Classification by header and length. An EOF is 0xFE with fewer than 9 bytes; a text row may
// start with 0xFE too (an 8-byte length prefix), but then it is at least 9 bytes long.
bool IsOk(std::span<const uint8_t> payload);
bool IsErr(std::span<const uint8_t> payload);
bool IsEof(std::span<const uint8_t> payload);
// The packet that ends a result set: EOF, or under CLIENT_DEPRECATE_EOF an OK with 0xFE header
// (any length below 0xFFFFFF: such an OK may carry info and session state).
bool IsResultSetEnd(std::span<const uint8_t> payload, uint64_t caps);

Result<OkPacket> DecodeOk(std::span<const uint8_t> payload, uint64_t caps);
Result<ErrPacket> DecodeErr(std::span<const uint8_t> payload, uint64_t caps);
Result<EofPacket> DecodeEof(std::span<const uint8_t> payload);
// Status flags of an OK, EOF or OK-as-EOF packet, without allocating.
Result<uint16_t> DecodeStatusFlags(std::span<const uint8_t> payload, uint64_t caps);

std::string EncodeOk(const OkPacket& ok, uint64_t caps);
std::string EncodeErr(const ErrPacket& err);  // always the 4.1 form with '#' + SQLSTATE
std::string EncodeEof(const EofPacket& eof);

std::string MakeErr(uint16_t code, std::string_view sql_state, std::string_view message);
inline std::string MakeErr(const ErrorInfo& e) {
  return MakeErr(e.code, e.sql_state, e.message);
}
std::string MakeOk(uint64_t affected_rows, uint64_t last_insert_id, uint16_t status_flags,
                   uint16_t warnings, uint64_t caps);

}  // namespace sluice::mysql
