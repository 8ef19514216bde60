// libFuzzer target for the MySQL codec: framing, logical-packet assembly, every payload decoder
// and the response tracker over arbitrary packets. Any crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "protocol/mysql/constants.h"
#include "protocol/mysql/handshake.h"
#include "protocol/mysql/messages.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/response.h"
#include "protocol/mysql/statement.h"
#include "protocol/mysql/wire.h"

namespace sm = sluice::mysql;

namespace {

void DecodePayload(std::span<const uint8_t> p, uint64_t caps, uint16_t num_params) {
  (void)sm::DecodeInitialHandshake(p);
  auto resp = sm::DecodeHandshakeResponse(p);
  if (resp.ok()) {
    // Whatever decodes must encode and decode to the same fields.
    std::string again = sm::EncodeHandshakeResponse(*resp);
    auto back = sm::DecodeHandshakeResponse(sm::AsBytes(again));
    if (!back.ok() || back->user != resp->user || back->database != resp->database)
      __builtin_trap();
  }
  auto hs = sm::DecodeInitialHandshake(p);
  if (hs.ok()) (void)sm::EncodeInitialHandshake(*hs);
  (void)sm::IsSslRequest(p);
  (void)sm::DecodeAuthSwitchRequest(p);
  (void)sm::DecodeAuthMoreData(p);
  auto ok = sm::DecodeOk(p, caps);
  if (ok.ok()) (void)sm::EncodeOk(*ok, caps);
  (void)sm::DecodeErr(p, caps);
  (void)sm::DecodeEof(p);
  (void)sm::DecodeStatusFlags(p, caps);
  (void)sm::DecodePrepareOk(p);
  (void)sm::ParseStmtExecute(p, num_params);
  (void)sm::ExtractParamTypes(p, num_params);
  (void)sm::BuildExecuteWithTypes(p, num_params, std::string(2 * size_t{num_params}, '\x08'));
  (void)sm::StatementIdOf(p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  // First bytes choose the command, capabilities and parameter count; the rest is the stream.
  uint8_t command = data[0];
  uint64_t caps = sm::CLIENT_PROTOCOL_41 | sm::CLIENT_TRANSACTIONS;
  if (data[1] & 1) caps |= sm::CLIENT_DEPRECATE_EOF;
  if (data[1] & 2) caps |= sm::CLIENT_SESSION_TRACK;
  if (data[1] & 4) caps |= sm::MARIADB_CLIENT_PROGRESS;
  if (data[1] & 8) caps |= sm::MARIADB_CLIENT_CACHE_METADATA;
  if (data[1] & 16) caps &= ~sm::CLIENT_PROTOCOL_41;
  uint16_t num_params = data[2];
  std::span<const uint8_t> in(data + 3, size - 3);

  sm::ResponseTracker tracker;
  tracker.Begin(command, caps);
  sm::LogicalPacketAssembler assembler(1 << 16);
  sm::PacketView p;
  size_t used = 0;
  // Bounded: every decoded packet consumes at least its 4-byte header.
  while (sm::DecodePacket(in, &p, &used) == sm::DecodeStatus::kPacket) {
    in = in.subspan(used);
    DecodePayload(p.payload, caps, num_params);
    (void)assembler.Add(p);
    if (!tracker.done()) {
      sm::TrackStatus st = tracker.Feed(p);
      if (st == sm::TrackStatus::kDone && !tracker.done()) __builtin_trap();
    }
  }
  // The encoder must frame anything so that the decoder gets it back.
  std::string wire;
  uint8_t seq = 0;
  sm::AppendPacket(&wire, &seq, std::span<const uint8_t>(data, size));
  std::span<const uint8_t> w = sm::AsBytes(wire);
  if (sm::DecodePacket(w, &p, &used) != sm::DecodeStatus::kPacket || p.payload.size() != size ||
      used != wire.size()) {
    __builtin_trap();
  }
  return 0;
}
