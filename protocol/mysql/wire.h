// Bounds-checked reading and appending of the MySQL wire primitives: little-endian fixed ints,
// length-encoded ints and strings, NUL-terminated strings. A failed read never moves past the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sluice::mysql {

using Bytes = std::span<const uint8_t>;

inline Bytes AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsStringView(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Reads from a span it does not own. Each Read* returns false (and leaves the position where it
// was) when the data is too short or malformed.
class Reader {
 public:
  explicit Reader(Bytes data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }

  bool ReadU8(uint8_t* v);
  bool ReadU16(uint16_t* v);
  bool ReadU24(uint32_t* v);
  bool ReadU32(uint32_t* v);
  bool ReadU64(uint64_t* v);
  // Little-endian unsigned of `n` (1..8) bytes.
  bool ReadFixed(size_t n, uint64_t* v);
  // Length-encoded integer. 0xFB is SQL NULL in a row: *is_null is set when given, otherwise
  // 0xFB is refused; 0xFF (an ERR header, not an integer) is always refused.
  bool ReadLenEnc(uint64_t* v, bool* is_null = nullptr);
  bool ReadBytes(size_t n, Bytes* out);
  bool ReadLenEncString(std::string_view* out);
  bool ReadNulString(std::string_view* out);
  std::string_view ReadRest();
  bool Skip(size_t n);

  std::optional<uint64_t> LenEnc() {
    uint64_t v;
    return ReadLenEnc(&v) ? std::optional<uint64_t>(v) : std::nullopt;
  }

 private:
  Bytes data_;
  size_t pos_ = 0;
};

// Appends to a string it does not own.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  Writer& U8(uint8_t v);
  Writer& U16(uint16_t v);
  Writer& U24(uint32_t v);
  Writer& U32(uint32_t v);
  Writer& U64(uint64_t v);
  Writer& Fixed(size_t n, uint64_t v);
  Writer& LenEnc(uint64_t v);
  Writer& LenEncNull();
  Writer& LenEncString(std::string_view s);
  Writer& NulString(std::string_view s);
  Writer& Raw(std::string_view s);
  Writer& Raw(Bytes b) { return Raw(AsStringView(b)); }
  Writer& Zeros(size_t n);

 private:
  std::string* out_;
};

// Bytes a length-encoded integer of value v takes on the wire.
size_t LenEncSize(uint64_t v);

}  // namespace sluice::mysql
