// The first packet of a PostgreSQL connection (no type byte): StartupMessage, SSLRequest,
// GSSENCRequest or CancelRequest; decoders plus the encoders the proxy logs in with.
//
// Layout: docs "Frontend/Backend Protocol" > "Message Formats" (StartupMessage,
// SSLRequest, GSSENCRequest, CancelRequest, NegotiateProtocolVersion); codes and limits
// from src/include/libpq/pqcomm.h; checks follow ProcessStartupPacket() in the server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::pgsql {

struct StartupMessage {
  uint16_t major = 3;
  uint16_t minor = 0;
  // In wire order: user, database, application_name, options, replication, _pq_.* …
  std::vector<std::pair<std::string, std::string>> params;

  // The value of `name`, or "" when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  // Names starting with "_pq_.": protocol extensions, which protocol 3.0 knows none of
  // and so reports back with NegotiateProtocolVersion.
  std::vector<std::string> ProtocolOptions() const;
};

struct CancelRequest {
  int32_t pid = 0;
  uint32_t secret = 0;
};

enum class StartupKind {
  kNeedMoreData,
  kStartup,
  kSslRequest,
  kGssEncRequest,
  kCancel,
  kError,
};

struct StartupResult {
  StartupKind kind = StartupKind::kNeedMoreData;
  StartupMessage startup;  // kStartup
  CancelRequest cancel;    // kCancel
  std::string error;       // kError: why, for the log and the 08P01 ErrorResponse
};

// Decodes the packet at the front of `in`; *consumed is set for every kind but
// kNeedMoreData and kError. After SSLRequest/GSSENCRequest (answered 'S' or 'N') the
// client sends another startup packet: call again. A StartupMessage with major 3 and a
// minor above kNewestMinorVersion is returned as kStartup: answer it with
// NegotiateProtocolVersion, as the server does. The caller checks that "user" is set.
StartupResult DecodeStartup(std::span<const uint8_t> in, size_t* consumed);

void AppendStartupMessage(std::string* out, const StartupMessage& msg);
void AppendSslRequest(std::string* out);
void AppendGssEncRequest(std::string* out);
void AppendCancelRequest(std::string* out, const CancelRequest& cancel);
// NegotiateProtocolVersion 'v': newest minor version we support + the options we did not
// recognise.
void AppendNegotiateProtocolVersion(std::string* out, int32_t newest_minor,
                                    std::span<const std::string> unrecognized_options);

}  // namespace sluice::pgsql
