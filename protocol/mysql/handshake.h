// Connection-phase messages: the server's v10 greeting, the client's HandshakeResponse41 and
// SSLRequest, AuthSwitchRequest and AuthMoreData; each decodes a payload and encodes one.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::mysql {

// Protocol::HandshakeV10. `capabilities` holds the standard flags in its lower 32 bits and the
// MariaDB extended ones (reserved bytes, only when CLIENT_MYSQL is clear) in its upper 32 bits.
struct InitialHandshake {
  uint8_t protocol_version = 10;
  std::string server_version;
  uint32_t connection_id = 0;
  std::string auth_plugin_data;  // the scramble, both parts joined, without the trailing NUL
  uint64_t capabilities = 0;
  uint8_t charset = 0;
  uint16_t status_flags = 0;
  std::string auth_plugin_name;
};

Result<InitialHandshake> DecodeInitialHandshake(std::span<const uint8_t> payload);
std::string EncodeInitialHandshake(const InitialHandshake& hs);

// Protocol::HandshakeResponse41 (4.0-style responses are refused).
struct HandshakeResponse {
  uint64_t capabilities = 0;  // lower 32 bits + MariaDB extended caps in the upper 32
  uint32_t max_packet_size = 0;
  uint8_t charset = 0;
  std::string user;
  std::string auth_response;
  std::string database;          // only with CLIENT_CONNECT_WITH_DB
  std::string auth_plugin_name;  // only with CLIENT_PLUGIN_AUTH
  std::vector<std::pair<std::string, std::string>> connect_attrs;  // CLIENT_CONNECT_ATTRS
};

Result<HandshakeResponse> DecodeHandshakeResponse(std::span<const uint8_t> payload);
std::string EncodeHandshakeResponse(const HandshakeResponse& resp);

// The 32-byte head of a handshake response with CLIENT_SSL: TLS follows, then the full response.
bool IsSslRequest(std::span<const uint8_t> payload);

// COM_CHANGE_USER (MySQL internals "COM_CHANGE_USER"): the whole payload, command byte
// included, read with the session's negotiated capabilities. Fills user, auth_response,
// database, charset (low byte), auth_plugin_name and connect_attrs of a HandshakeResponse.
Result<HandshakeResponse> DecodeChangeUser(std::span<const uint8_t> payload, uint64_t caps);
std::string EncodeSslRequest(uint64_t capabilities, uint32_t max_packet_size, uint8_t charset);

// 0xFE + plugin name NUL + plugin data. Servers end the data (a scramble) with a NUL that is not
// part of it: decoding drops one trailing NUL and encoding appends it.
struct AuthSwitchRequest {
  std::string plugin_name;
  std::string plugin_data;
};

Result<AuthSwitchRequest> DecodeAuthSwitchRequest(std::span<const uint8_t> payload);
std::string EncodeAuthSwitchRequest(const AuthSwitchRequest& req);

// 0x01 + data (caching_sha2_password's fast-auth result, a public key, ...).
Result<std::string> DecodeAuthMoreData(std::span<const uint8_t> payload);
std::string EncodeAuthMoreData(std::string_view data);

}  // namespace sluice::mysql
