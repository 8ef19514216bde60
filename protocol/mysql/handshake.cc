#include "protocol/mysql/handshake.h"

#include <algorithm>

#include "protocol/mysql/constants.h"
#include "protocol/mysql/wire.h"

namespace sluice::mysql {
namespace {

// Bytes of the handshake response before the user name: caps, max packet, charset, 19 filler
// bytes, then 4 bytes of MariaDB extended caps (zero for MySQL clients).
constexpr size_t kResponseFixedSize = 32;

uint64_t ExtendedCaps(uint64_t lower, uint32_t reserved) {
  if (lower & CLIENT_MYSQL) return lower;
  return lower | (static_cast<uint64_t>(reserved) << 32);
}

}  // namespace

Result<InitialHandshake> DecodeInitialHandshake(std::span<const uint8_t> payload) {
  Reader r(payload);
  InitialHandshake hs;
  std::string_view version;
  Bytes part1;
  uint16_t caps_lo = 0, caps_hi = 0;
  if (!r.ReadU8(&hs.protocol_version)) return ProtocolError("handshake: empty");
  if (hs.protocol_version != 10) return ProtocolError("handshake: protocol version is not 10");
  if (!r.ReadNulString(&version) || !r.ReadU32(&hs.connection_id) || !r.ReadBytes(8, &part1) ||
      !r.Skip(1) || !r.ReadU16(&caps_lo)) {
    return ProtocolError("handshake: truncated");
  }
  hs.server_version = std::string(version);
  hs.auth_plugin_data = std::string(AsStringView(part1));
  hs.capabilities = caps_lo;
  if (r.empty()) return hs;
  uint8_t data_len = 0;
  uint32_t mariadb_caps = 0;
  if (!r.ReadU8(&hs.charset) || !r.ReadU16(&hs.status_flags) || !r.ReadU16(&caps_hi) ||
      !r.ReadU8(&data_len) || !r.Skip(6) || !r.ReadU32(&mariadb_caps)) {
    return ProtocolError("handshake: truncated capabilities");
  }
  hs.capabilities = ExtendedCaps(caps_lo | (static_cast<uint64_t>(caps_hi) << 16), mariadb_caps);
  if (hs.capabilities & CLIENT_SECURE_CONNECTION) {
    size_t n = std::max<int>(13, static_cast<int>(data_len) - 8);
    Bytes part2;
    if (!r.ReadBytes(n, &part2)) return ProtocolError("handshake: truncated scramble");
    std::string_view p2 = AsStringView(part2);
    if (!p2.empty() && p2.back() == '\0') p2.remove_suffix(1);
    hs.auth_plugin_data.append(p2);
  }
  if (hs.capabilities & CLIENT_PLUGIN_AUTH) {
    std::string_view name;
    // Some servers (MySQL 5.5.7-5.5.9) omit the final NUL.
    hs.auth_plugin_name = std::string(r.ReadNulString(&name) ? name : r.ReadRest());
  }
  return hs;
}

std::string EncodeInitialHandshake(const InitialHandshake& hs) {
  std::string out;
  Writer w(&out);
  std::string data = hs.auth_plugin_data;
  if (data.size() < 8) data.resize(8, '\0');
  uint64_t caps = hs.capabilities;
  w.U8(hs.protocol_version).NulString(hs.server_version).U32(hs.connection_id);
  w.Raw(std::string_view(data).substr(0, 8)).U8(0);
  w.U16(static_cast<uint16_t>(caps)).U8(hs.charset).U16(hs.status_flags);
  w.U16(static_cast<uint16_t>(caps >> 16));
  w.U8((caps & CLIENT_PLUGIN_AUTH) ? static_cast<uint8_t>(data.size() + 1) : 0);
  w.Zeros(6).U32((caps & CLIENT_MYSQL) ? 0 : static_cast<uint32_t>(caps >> 32));
  if (caps & CLIENT_SECURE_CONNECTION) {
    std::string part2 = data.substr(8);
    if (part2.size() < 12) part2.resize(12, '\0');
    w.NulString(part2);
  }
  if (caps & CLIENT_PLUGIN_AUTH) w.NulString(hs.auth_plugin_name);
  return out;
}

Result<HandshakeResponse> DecodeHandshakeResponse(std::span<const uint8_t> payload) {
  Reader r(payload);
  HandshakeResponse resp;
  uint32_t caps = 0, mariadb_caps = 0;
  if (!r.ReadU32(&caps)) return ProtocolError("handshake response: truncated");
  if (!(caps & CLIENT_PROTOCOL_41)) {
    return ProtocolError("handshake response: pre-4.1 clients are not supported");
  }
  if (!r.ReadU32(&resp.max_packet_size) || !r.ReadU8(&resp.charset) || !r.Skip(19) ||
      !r.ReadU32(&mariadb_caps)) {
    return ProtocolError("handshake response: truncated");
  }
  resp.capabilities = ExtendedCaps(caps, mariadb_caps);
  std::string_view user, auth, db, plugin;
  if (!r.ReadNulString(&user)) return ProtocolError("handshake response: bad user name");
  resp.user = std::string(user);
  bool auth_ok;
  if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    auth_ok = r.ReadLenEncString(&auth);
  } else if (caps & CLIENT_SECURE_CONNECTION) {
    uint8_t n = 0;
    Bytes b;
    auth_ok = r.ReadU8(&n) && r.ReadBytes(n, &b);
    auth = AsStringView(b);
  } else {
    auth_ok = r.ReadNulString(&auth);
  }
  if (!auth_ok) return ProtocolError("handshake response: bad auth response");
  resp.auth_response = std::string(auth);
  // Clients end the packet early when the remaining fields are empty; accept that.
  if ((caps & CLIENT_CONNECT_WITH_DB) && !r.empty()) {
    if (!r.ReadNulString(&db)) return ProtocolError("handshake response: bad database");
    resp.database = std::string(db);
  }
  if ((caps & CLIENT_PLUGIN_AUTH) && !r.empty()) {
    if (!r.ReadNulString(&plugin)) return ProtocolError("handshake response: bad plugin name");
    resp.auth_plugin_name = std::string(plugin);
  }
  if ((caps & CLIENT_CONNECT_ATTRS) && !r.empty()) {
    uint64_t total;
    Bytes attrs;
    if (!r.ReadLenEnc(&total) || !r.ReadBytes(total, &attrs)) {
      return ProtocolError("handshake response: bad connect attributes");
    }
    Reader a(attrs);
    while (!a.empty()) {  // bounded: each pass consumes at least one byte
      std::string_view k, v;
      if (!a.ReadLenEncString(&k) || !a.ReadLenEncString(&v)) {
        return ProtocolError("handshake response: bad connect attribute");
      }
      resp.connect_attrs.emplace_back(std::string(k), std::string(v));
    }
  }
  return resp;
}

std::string EncodeHandshakeResponse(const HandshakeResponse& resp) {
  std::string out;
  Writer w(&out);
  uint64_t caps = resp.capabilities | CLIENT_PROTOCOL_41;
  w.U32(static_cast<uint32_t>(caps)).U32(resp.max_packet_size).U8(resp.charset).Zeros(19);
  w.U32((caps & CLIENT_MYSQL) ? 0 : static_cast<uint32_t>(caps >> 32));
  w.NulString(resp.user);
  if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    w.LenEncString(resp.auth_response);
  } else if (caps & CLIENT_SECURE_CONNECTION) {
    std::string_view a(resp.auth_response);
    a = a.substr(0, 255);
    w.U8(static_cast<uint8_t>(a.size())).Raw(a);
  } else {
    w.NulString(resp.auth_response);
  }
  if (caps & CLIENT_CONNECT_WITH_DB) w.NulString(resp.database);
  if (caps & CLIENT_PLUGIN_AUTH) w.NulString(resp.auth_plugin_name);
  if (caps & CLIENT_CONNECT_ATTRS) {
    std::string attrs;
    Writer aw(&attrs);
    for (const auto& [k, v] : resp.connect_attrs) aw.LenEncString(k).LenEncString(v);
    w.LenEncString(attrs);
  }
  return out;
}

bool IsSslRequest(std::span<const uint8_t> payload) {
  Reader r(payload);
  uint32_t caps = 0;
  return payload.size() == kResponseFixedSize && r.ReadU32(&caps) && (caps & CLIENT_SSL);
}

std::string EncodeSslRequest(uint64_t capabilities, uint32_t max_packet_size, uint8_t charset) {
  std::string out;
  uint64_t caps = capabilities | CLIENT_SSL | CLIENT_PROTOCOL_41;
  Writer(&out)
      .U32(static_cast<uint32_t>(caps))
      .U32(max_packet_size)
      .U8(charset)
      .Zeros(19)
      .U32((caps & CLIENT_MYSQL) ? 0 : static_cast<uint32_t>(caps >> 32));
  return out;
}

Result<AuthSwitchRequest> DecodeAuthSwitchRequest(std::span<const uint8_t> payload) {
  Reader r(payload);
  uint8_t header;
  AuthSwitchRequest req;
  std::string_view name;
  if (!r.ReadU8(&header) || header != kEofHeader) return ProtocolError("auth switch: bad header");
  // A lone 0xFE is the old-password switch, which no supported plugin uses.
  if (!r.ReadNulString(&name)) return ProtocolError("auth switch: no plugin name");
  req.plugin_name = std::string(name);
  std::string_view data = r.ReadRest();
  if (!data.empty() && data.back() == '\0') data.remove_suffix(1);
  req.plugin_data = std::string(data);
  return req;
}

std::string EncodeAuthSwitchRequest(const AuthSwitchRequest& req) {
  std::string out;
  Writer(&out).U8(kEofHeader).NulString(req.plugin_name).NulString(req.plugin_data);
  return out;
}

Result<std::string> DecodeAuthMoreData(std::span<const uint8_t> payload) {
  if (payload.empty() || payload[0] != kAuthMoreDataHeader) {
    return ProtocolError("auth more data: bad header");
  }
  return std::string(AsStringView(payload.subspan(1)));
}

std::string EncodeAuthMoreData(std::string_view data) {
  std::string out;
  Writer(&out).U8(kAuthMoreDataHeader).Raw(data);
  return out;
}

}  // namespace sluice::mysql

namespace sluice::mysql {

Result<HandshakeResponse> DecodeChangeUser(std::span<const uint8_t> payload, uint64_t caps) {
  Reader r(payload);
  uint8_t cmd = 0;
  if (!r.ReadU8(&cmd) || cmd != COM_CHANGE_USER)
    return ProtocolError("change user: not COM_CHANGE_USER");
  HandshakeResponse resp;
  resp.capabilities = caps;
  std::string_view user, auth, db, plugin;
  if (!r.ReadNulString(&user)) return ProtocolError("change user: bad user name");
  resp.user = std::string(user);
  bool auth_ok;
  if (caps & CLIENT_SECURE_CONNECTION) {
    uint8_t n = 0;
    Bytes b;
    auth_ok = r.ReadU8(&n) && r.ReadBytes(n, &b);
    auth = AsStringView(b);
  } else {
    auth_ok = r.ReadNulString(&auth);
  }
  if (!auth_ok) return ProtocolError("change user: bad auth response");
  resp.auth_response = std::string(auth);
  if (!r.ReadNulString(&db)) return ProtocolError("change user: bad database");
  resp.database = std::string(db);
  // The rest is optional: old clients stop after the database.
  uint16_t charset = 0;
  if (!r.empty()) {
    if (!r.ReadU16(&charset)) return ProtocolError("change user: bad character set");
    resp.charset = static_cast<uint8_t>(charset);
  }
  if ((caps & CLIENT_PLUGIN_AUTH) && !r.empty()) {
    if (!r.ReadNulString(&plugin)) return ProtocolError("change user: bad plugin name");
    resp.auth_plugin_name = std::string(plugin);
  }
  return resp;
}

}  // namespace sluice::mysql
