// MySQL packet framing: 3-byte length + sequence id, zero-copy decoding of one wire packet,
// encoding with the 16 MiB split, and joining of split packets into one bounded logical payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sluice::mysql {

inline constexpr size_t kPacketHeaderSize = 4;
// A wire packet of exactly this payload length is continued by the next one.
inline constexpr size_t kMaxPacketPayload = 0xffffff;

struct PacketView {
  uint8_t seq = 0;
  std::span<const uint8_t> payload;
};

enum class DecodeStatus { kNeedMoreData, kPacket, kError };

// Decodes the first wire packet of `in`. On kPacket, `out->payload` points into `in` and
// `*consumed` is header + payload. kError when the announced length exceeds `max_payload` (a
// caller's bound, e.g. for unauthenticated clients).
DecodeStatus DecodePacket(std::span<const uint8_t> in, PacketView* out, size_t* consumed,
                          size_t max_payload = kMaxPacketPayload);

// Appends `payload` as one logical packet starting at sequence `*seq`, split into 0xFFFFFF
// chunks (plus an empty packet when the length is an exact multiple); `*seq` ends one past the
// last packet written.
void AppendPacket(std::string* out, uint8_t* seq, std::span<const uint8_t> payload);
void AppendPacket(std::string* out, uint8_t* seq, std::string_view payload);

// Joins the wire packets of one logical packet. Feed wire packets in order; kComplete means
// payload() holds the whole logical payload. Past max_size every remaining wire packet of that
// logical packet answers kTooLarge (nothing more is buffered); the next one starts afresh.
class LogicalPacketAssembler {
 public:
  enum class Status { kNeedMore, kComplete, kTooLarge };

  explicit LogicalPacketAssembler(size_t max_size) : max_size_(max_size) {}

  Status Add(const PacketView& packet);
  // Valid after kComplete until the next Add/Reset. Points into the fed packet when the logical
  // packet was a single wire packet (no copy), otherwise into the assembler's buffer.
  std::span<const uint8_t> payload() const { return payload_; }
  uint8_t first_seq() const { return first_seq_; }
  uint8_t last_seq() const { return last_seq_; }
  void Reset();

 private:
  size_t max_size_;
  std::string buffer_;
  std::span<const uint8_t> payload_;
  bool in_progress_ = false;
  bool overflowed_ = false;
  uint8_t first_seq_ = 0;
  uint8_t last_seq_ = 0;
};

}  // namespace sluice::mysql
