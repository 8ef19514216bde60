#include "protocol/mysql/messages.h"

#include "protocol/mysql/packet.h"
#include "protocol/mysql/wire.h"

namespace sluice::mysql {

bool IsOk(std::span<const uint8_t> payload) {
  return payload.size() >= 7 && payload[0] == kOkHeader;
}

bool IsErr(std::span<const uint8_t> payload) {
  return !payload.empty() && payload[0] == kErrHeader;
}

bool IsEof(std::span<const uint8_t> payload) {
  return !payload.empty() && payload.size() < 9 && payload[0] == kEofHeader;
}

bool IsResultSetEnd(std::span<const uint8_t> payload, uint64_t caps) {
  if (payload.empty() || payload[0] != kEofHeader) return false;
  if (caps & CLIENT_DEPRECATE_EOF) return payload.size() < kMaxPacketPayload;
  return payload.size() < 9;
}

Result<OkPacket> DecodeOk(std::span<const uint8_t> payload, uint64_t caps) {
  Reader r(payload);
  OkPacket ok;
  uint8_t header;
  if (!r.ReadU8(&header) || (header != kOkHeader && header != kEofHeader)) {
    return ProtocolError("OK packet: bad header");
  }
  ok.eof_header = header == kEofHeader;
  if (!r.ReadLenEnc(&ok.affected_rows) || !r.ReadLenEnc(&ok.last_insert_id)) {
    return ProtocolError("OK packet: truncated row counts");
  }
  if (caps & CLIENT_PROTOCOL_41) {
    if (!r.ReadU16(&ok.status_flags) || !r.ReadU16(&ok.warnings)) {
      return ProtocolError("OK packet: truncated status");
    }
  } else if (caps & CLIENT_TRANSACTIONS) {
    if (!r.ReadU16(&ok.status_flags)) return ProtocolError("OK packet: truncated status");
  }
  if (!(caps & CLIENT_SESSION_TRACK)) {
    ok.info = std::string(r.ReadRest());
    return ok;
  }
  // With session tracking the info string is length-encoded, and servers omit it when empty.
  if (r.empty()) return ok;
  std::string_view info;
  if (!r.ReadLenEncString(&info)) return ProtocolError("OK packet: bad info string");
  ok.info = std::string(info);
  if (ok.status_flags & SERVER_SESSION_STATE_CHANGED) {
    std::string_view state;
    if (!r.ReadLenEncString(&state)) return ProtocolError("OK packet: bad session state");
    ok.session_state_changes = std::string(state);
  }
  return ok;
}

Result<ErrPacket> DecodeErr(std::span<const uint8_t> payload, uint64_t caps) {
  Reader r(payload);
  uint8_t header;
  ErrPacket err;
  if (!r.ReadU8(&header) || header != kErrHeader || !r.ReadU16(&err.code)) {
    return ProtocolError("ERR packet: truncated");
  }
  // 0xFFFF is a MariaDB progress report, not an error.
  if (err.code == 0xffff) return ProtocolError("ERR packet: progress report");
  (void)caps;  // the '#' marker, not the capability, says whether a SQLSTATE follows
  std::string_view rest = r.ReadRest();
  if (rest.size() >= 6 && rest[0] == '#') {
    err.sql_state = std::string(rest.substr(1, 5));
    rest.remove_prefix(6);
  } else {
    err.sql_state = "HY000";
  }
  err.message = std::string(rest);
  return err;
}

Result<EofPacket> DecodeEof(std::span<const uint8_t> payload) {
  Reader r(payload);
  uint8_t header;
  EofPacket eof;
  if (!r.ReadU8(&header) || header != kEofHeader || payload.size() >= 9) {
    return ProtocolError("EOF packet: bad header or length");
  }
  // Pre-4.1 EOF is the single byte 0xFE.
  if (r.empty()) return eof;
  if (!r.ReadU16(&eof.warnings) || !r.ReadU16(&eof.status_flags)) {
    return ProtocolError("EOF packet: truncated");
  }
  return eof;
}

Result<uint16_t> DecodeStatusFlags(std::span<const uint8_t> payload, uint64_t caps) {
  if (payload.empty()) return ProtocolError("empty packet");
  if (payload[0] == kEofHeader && payload.size() < 9) {
    Result<EofPacket> eof = DecodeEof(payload);
    if (!eof.ok()) return eof.status();
    return eof->status_flags;
  }
  Reader r(payload);
  uint64_t n;
  uint16_t flags = 0;
  if (!r.Skip(1) || !r.ReadLenEnc(&n) || !r.ReadLenEnc(&n)) {
    return ProtocolError("OK packet: truncated row counts");
  }
  if ((caps & (CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS)) && !r.ReadU16(&flags)) {
    return ProtocolError("OK packet: truncated status");
  }
  return flags;
}

std::string EncodeOk(const OkPacket& ok, uint64_t caps) {
  std::string out;
  Writer w(&out);
  w.U8(ok.eof_header ? kEofHeader : kOkHeader).LenEnc(ok.affected_rows).LenEnc(ok.last_insert_id);
  uint16_t flags = ok.status_flags;
  if (!(caps & CLIENT_SESSION_TRACK)) flags &= ~SERVER_SESSION_STATE_CHANGED;
  if (caps & CLIENT_PROTOCOL_41) {
    w.U16(flags).U16(ok.warnings);
  } else if (caps & CLIENT_TRANSACTIONS) {
    w.U16(flags);
  }
  if (caps & CLIENT_SESSION_TRACK) {
    if (!ok.info.empty() || (flags & SERVER_SESSION_STATE_CHANGED)) w.LenEncString(ok.info);
    if (flags & SERVER_SESSION_STATE_CHANGED) w.LenEncString(ok.session_state_changes);
  } else {
    w.Raw(ok.info);
  }
  return out;
}

std::string EncodeErr(const ErrPacket& err) {
  std::string out;
  Writer w(&out);
  std::string state = err.sql_state.size() == 5 ? err.sql_state : "HY000";
  w.U8(kErrHeader).U16(err.code).U8('#').Raw(state).Raw(err.message);
  return out;
}

std::string EncodeEof(const EofPacket& eof) {
  std::string out;
  Writer(&out).U8(kEofHeader).U16(eof.warnings).U16(eof.status_flags);
  return out;
}

std::string MakeErr(uint16_t code, std::string_view sql_state, std::string_view message) {
  return EncodeErr(ErrPacket{code, std::string(sql_state), std::string(message)});
}

std::string MakeOk(uint64_t affected_rows, uint64_t last_insert_id, uint16_t status_flags,
                   uint16_t warnings, uint64_t caps) {
  OkPacket ok;
  ok.affected_rows = affected_rows;
  ok.last_insert_id = last_insert_id;
  ok.status_flags = status_flags & ~SERVER_SESSION_STATE_CHANGED;
  ok.warnings = warnings;
  return EncodeOk(ok, caps);
}

}  // namespace sluice::mysql
