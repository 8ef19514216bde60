#include "protocol/pgsql/startup.h"

#include <fmt/format.h>

#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/message.h"

namespace sluice::pgsql {
namespace {

constexpr std::string_view kProtocolOptionPrefix = "_pq_.";

StartupResult Fail(std::string why) {
  StartupResult r;
  r.kind = StartupKind::kError;
  r.error = std::move(why);
  return r;
}

// Body after the version word: name NUL value NUL … NUL. Like the server, a name with
// no value, or anything but exactly one NUL after the last pair, is a layout error.
bool ParseParams(Reader* r, StartupMessage* msg, std::string* error) {
  // Bounded: every pass consumes at least one byte of a packet of at most 10000 bytes.
  while (true) {
    std::string_view name, value;
    if (!r->String(&name)) {
      *error = "invalid startup packet layout: expected terminator as last byte";
      return false;
    }
    if (name.empty()) break;
    if (!r->String(&value)) {
      *error = fmt::format("invalid startup packet layout: no value for \"{}\"", name);
      return false;
    }
    msg->params.emplace_back(std::string(name), std::string(value));
  }
  if (!r->done()) {
    *error = "invalid startup packet layout: expected terminator as last byte";
    return false;
  }
  return true;
}

}  // namespace

std::string_view StartupMessage::Get(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

bool StartupMessage::Has(std::string_view name) const {
  for (const auto& kv : params) {
    if (kv.first == name) return true;
  }
  return false;
}

std::vector<std::string> StartupMessage::ProtocolOptions() const {
  std::vector<std::string> out;
  for (const auto& kv : params) {
    if (kv.first.starts_with(kProtocolOptionPrefix)) out.push_back(kv.first);
  }
  return out;
}

StartupResult DecodeStartup(std::span<const uint8_t> in, size_t* consumed) {
  Reader header(in);
  uint32_t len;
  if (!header.UInt32(&len)) return {};
  // The server subtracts the length word itself before checking (ProcessStartupPacket).
  if (len < 8 || len - 4 > kMaxStartupPacketLength) {
    return Fail(fmt::format("invalid length of startup packet: {}", len));
  }
  if (in.size() < len) return {};

  Reader r(in.subspan(4, len - 4));
  int32_t code;
  (void)r.Int32(&code);  // len >= 8 guarantees it
  StartupResult result;
  switch (code) {
    case kSslRequestCode:
    case kGssEncRequestCode:
      if (len != 8) return Fail(fmt::format("invalid length of encryption request: {}", len));
      result.kind =
          code == kSslRequestCode ? StartupKind::kSslRequest : StartupKind::kGssEncRequest;
      break;
    case kCancelRequestCode:
      if (len != 16) return Fail(fmt::format("invalid length of cancel request: {}", len));
      (void)r.Int32(&result.cancel.pid);
      (void)r.UInt32(&result.cancel.secret);
      result.kind = StartupKind::kCancel;
      break;
    default: {
      const auto version = static_cast<uint32_t>(code);
      result.startup.major = static_cast<uint16_t>(version >> 16);
      result.startup.minor = static_cast<uint16_t>(version & 0xffff);
      if (result.startup.major != 3) {
        return Fail(fmt::format("unsupported frontend protocol {}.{}", result.startup.major,
                                result.startup.minor));
      }
      std::string error;
      if (!ParseParams(&r, &result.startup, &error)) return Fail(std::move(error));
      result.kind = StartupKind::kStartup;
      break;
    }
  }
  *consumed = len;
  return result;
}

void AppendStartupMessage(std::string* out, const StartupMessage& msg) {
  const size_t start = out->size();
  AppendUInt32(out, 0);
  AppendUInt32(out, (uint32_t{msg.major} << 16) | msg.minor);
  for (const auto& [k, v] : msg.params) {
    AppendCString(out, k);
    AppendCString(out, v);
  }
  out->push_back('\0');
  const auto len = static_cast<uint32_t>(out->size() - start);
  std::string word;
  AppendUInt32(&word, len);
  out->replace(start, 4, word);
}

void AppendSslRequest(std::string* out) {
  AppendInt32(out, 8);
  AppendInt32(out, kSslRequestCode);
}

void AppendGssEncRequest(std::string* out) {
  AppendInt32(out, 8);
  AppendInt32(out, kGssEncRequestCode);
}

void AppendCancelRequest(std::string* out, const CancelRequest& cancel) {
  AppendInt32(out, 16);
  AppendInt32(out, kCancelRequestCode);
  AppendInt32(out, cancel.pid);
  AppendUInt32(out, cancel.secret);
}

void AppendNegotiateProtocolVersion(std::string* out, int32_t newest_minor,
                                    std::span<const std::string> unrecognized_options) {
  const size_t start = BeginMessage(out, backend::kNegotiateProtocolVersion);
  AppendInt32(out, (3 << 16) | newest_minor);
  AppendInt32(out, static_cast<int32_t>(unrecognized_options.size()));
  for (const auto& o : unrecognized_options) AppendCString(out, o);
  EndMessage(out, start);
}

}  // namespace sluice::pgsql
