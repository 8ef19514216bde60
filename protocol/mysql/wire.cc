#include "protocol/mysql/wire.h"

#include <cstring>

namespace sluice::mysql {

bool Reader::ReadFixed(size_t n, uint64_t* v) {
  if (n == 0 || n > 8 || remaining() < n) return false;
  uint64_t r = 0;
  for (size_t i = 0; i < n; ++i) r |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
  pos_ += n;
  *v = r;
  return true;
}

bool Reader::ReadU8(uint8_t* v) {
  if (remaining() < 1) return false;
  *v = data_[pos_++];
  return true;
}

bool Reader::ReadU16(uint16_t* v) {
  uint64_t r;
  if (!ReadFixed(2, &r)) return false;
  *v = static_cast<uint16_t>(r);
  return true;
}

bool Reader::ReadU24(uint32_t* v) {
  uint64_t r;
  if (!ReadFixed(3, &r)) return false;
  *v = static_cast<uint32_t>(r);
  return true;
}

bool Reader::ReadU32(uint32_t* v) {
  uint64_t r;
  if (!ReadFixed(4, &r)) return false;
  *v = static_cast<uint32_t>(r);
  return true;
}

bool Reader::ReadU64(uint64_t* v) {
  return ReadFixed(8, v);
}

bool Reader::ReadLenEnc(uint64_t* v, bool* is_null) {
  if (remaining() < 1) return false;
  uint8_t first = data_[pos_];
  if (first < 0xfb) {
    ++pos_;
    *v = first;
    if (is_null) *is_null = false;
    return true;
  }
  if (first == 0xfb) {
    if (!is_null) return false;
    ++pos_;
    *v = 0;
    *is_null = true;
    return true;
  }
  if (first == 0xff) return false;
  size_t n = first == 0xfc ? 2 : first == 0xfd ? 3 : 8;
  if (remaining() < 1 + n) return false;
  ++pos_;
  if (is_null) *is_null = false;
  return ReadFixed(n, v);
}

bool Reader::ReadBytes(size_t n, Bytes* out) {
  if (remaining() < n) return false;
  *out = data_.subspan(pos_, n);
  pos_ += n;
  return true;
}

bool Reader::ReadLenEncString(std::string_view* out) {
  size_t start = pos_;
  uint64_t n;
  if (!ReadLenEnc(&n)) return false;
  if (n > remaining()) {
    pos_ = start;
    return false;
  }
  *out = AsStringView(data_.subspan(pos_, n));
  pos_ += n;
  return true;
}

bool Reader::ReadNulString(std::string_view* out) {
  const uint8_t* begin = data_.data() + pos_;
  const void* nul = remaining() ? std::memchr(begin, 0, remaining()) : nullptr;
  if (!nul) return false;
  size_t n = static_cast<const uint8_t*>(nul) - begin;
  *out = AsStringView(data_.subspan(pos_, n));
  pos_ += n + 1;
  return true;
}

std::string_view Reader::ReadRest() {
  std::string_view r = AsStringView(data_.subspan(pos_));
  pos_ = data_.size();
  return r;
}

bool Reader::Skip(size_t n) {
  if (remaining() < n) return false;
  pos_ += n;
  return true;
}

Writer& Writer::Fixed(size_t n, uint64_t v) {
  for (size_t i = 0; i < n; ++i) out_->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return *this;
}

Writer& Writer::U8(uint8_t v) {
  return Fixed(1, v);
}
Writer& Writer::U16(uint16_t v) {
  return Fixed(2, v);
}
Writer& Writer::U24(uint32_t v) {
  return Fixed(3, v);
}
Writer& Writer::U32(uint32_t v) {
  return Fixed(4, v);
}
Writer& Writer::U64(uint64_t v) {
  return Fixed(8, v);
}

Writer& Writer::LenEnc(uint64_t v) {
  if (v < 0xfb) return U8(static_cast<uint8_t>(v));
  if (v <= 0xffff) return U8(0xfc).Fixed(2, v);
  if (v <= 0xffffff) return U8(0xfd).Fixed(3, v);
  return U8(0xfe).Fixed(8, v);
}

Writer& Writer::LenEncNull() {
  return U8(0xfb);
}

Writer& Writer::LenEncString(std::string_view s) {
  return LenEnc(s.size()).Raw(s);
}

Writer& Writer::NulString(std::string_view s) {
  return Raw(s).U8(0);
}

Writer& Writer::Raw(std::string_view s) {
  out_->append(s);
  return *this;
}

Writer& Writer::Zeros(size_t n) {
  out_->append(n, '\0');
  return *this;
}

size_t LenEncSize(uint64_t v) {
  if (v < 0xfb) return 1;
  if (v <= 0xffff) return 3;
  if (v <= 0xffffff) return 4;
  return 9;
}

}  // namespace sluice::mysql
