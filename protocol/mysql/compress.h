// The compressed protocol (CLIENT_COMPRESS, zlib): after the login's OK every packet
// travels inside frames of a 7-byte header (3-byte compressed length, 1-byte compressed
// sequence id, 3-byte uncompressed length; 0 = stored as is) and a zlib stream or the raw
// bytes. A frame carries any bytes of the packet stream: parts of packets or several.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::mysql {

inline constexpr size_t kCompressedHeaderSize = 7;
// Below this many bytes a frame is stored, not deflated (what libmariadb and the server do).
inline constexpr size_t kMinCompressLength = 50;
// The most bytes of the stream one frame holds (its lengths are 3 bytes).
inline constexpr size_t kMaxFramePayload = 0xFFFFFF;

struct CompressedHeader {
  uint32_t compressed_length = 0;    // bytes after the header
  uint8_t seq = 0;                   // compressed sequence id
  uint32_t uncompressed_length = 0;  // 0: the bytes are stored uncompressed
};

// The header at the front of bytes, when there are 7 of them.
bool PeekCompressedHeader(std::span<const uint8_t> bytes, CompressedHeader* h);
// The stream bytes of one frame's body (exactly h.compressed_length bytes).
Result<std::string> InflateFrame(const CompressedHeader& h, std::span<const uint8_t> body);
// Appends data (at most kMaxFramePayload bytes) as one frame with sequence id seq.
void AppendCompressedFrame(std::string* out, uint8_t seq, std::string_view data);

}  // namespace sluice::mysql
