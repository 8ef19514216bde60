// Framing of regular PostgreSQL protocol messages (type byte + Int32 length + payload),
// plus a bounds-checked Reader and the append helpers every encoder builds on.
//
// Layout: PostgreSQL docs, "Frontend/Backend Protocol" > "Message Formats". All integers
// are big-endian; strings are NUL-terminated. Decoding never copies: views point into the
// caller's buffer and live only as long as it does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sluice::pgsql {

enum class DecodeStatus { kNeedMoreData, kMessage, kError };

struct MessageView {
  char type = 0;
  std::span<const uint8_t> payload;  // without type byte and length word
};

// PostgreSQL's own ceiling for a message (PQ_LARGE_MESSAGE_LIMIT, MaxAllocSize - 1).
inline constexpr uint32_t kMaxMessageLength = 0x3fffffff - 1;

// Decodes one message at the front of `in`. On kMessage, *out views `in` and *consumed is
// the whole message size. A length word below 4 or above `max_len` (the length word counts
// itself, not the type byte) is kError as soon as the 5-byte header is there, so a peer
// cannot make the caller buffer a huge message before it is refused.
DecodeStatus DecodeMessage(std::span<const uint8_t> in, MessageView* out, size_t* consumed,
                           uint32_t max_len = kMaxMessageLength);

// Reads fields from a payload. Every call checks bounds; a failed call returns false and
// leaves the position unchanged.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}

  bool Byte(uint8_t* out);
  bool Int16(int16_t* out);
  bool Int32(int32_t* out);
  bool UInt32(uint32_t* out);
  // A NUL-terminated string; *out excludes the NUL.
  bool String(std::string_view* out);
  bool Bytes(size_t n, std::span<const uint8_t>* out);
  // Everything not read yet; the reader is then at the end.
  std::span<const uint8_t> Rest();

  size_t remaining() const { return data_.size() - pos_; }
  bool done() const { return pos_ == data_.size(); }
  size_t position() const { return pos_; }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

std::string_view AsStringView(std::span<const uint8_t> bytes);
std::span<const uint8_t> AsBytes(std::string_view s);

void AppendByte(std::string* out, uint8_t v);
void AppendInt16(std::string* out, int16_t v);
void AppendInt32(std::string* out, int32_t v);
void AppendUInt32(std::string* out, uint32_t v);
// Writes s up to its first NUL and a terminating NUL: a NUL inside a value would end the
// string early on the wire and misalign every field after it.
void AppendCString(std::string* out, std::string_view s);
void AppendBytes(std::string* out, std::span<const uint8_t> bytes);

// Appends a whole message: type, length, payload.
void AppendMessage(std::string* out, char type, std::string_view payload);
void AppendMessage(std::string* out, char type, std::span<const uint8_t> payload);

// Builds a message in place: BeginMessage writes the type and a length placeholder and
// returns where the message starts; EndMessage fills the length in. Saves a payload copy.
size_t BeginMessage(std::string* out, char type);
void EndMessage(std::string* out, size_t start);

}  // namespace sluice::pgsql
