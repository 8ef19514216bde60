#include "protocol/pgsql/message.h"

#include <cstring>

namespace sluice::pgsql {
namespace {

uint32_t LoadBE32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

void StoreBE32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

}  // namespace

DecodeStatus DecodeMessage(std::span<const uint8_t> in, MessageView* out, size_t* consumed,
                           uint32_t max_len) {
  if (in.size() < 5) return DecodeStatus::kNeedMoreData;
  const uint32_t len = LoadBE32(in.data() + 1);
  if (len < 4 || len > max_len) return DecodeStatus::kError;
  const size_t total = size_t{len} + 1;
  if (in.size() < total) return DecodeStatus::kNeedMoreData;
  out->type = static_cast<char>(in[0]);
  out->payload = in.subspan(5, len - 4);
  *consumed = total;
  return DecodeStatus::kMessage;
}

bool Reader::Byte(uint8_t* out) {
  if (remaining() < 1) return false;
  *out = data_[pos_++];
  return true;
}

bool Reader::Int16(int16_t* out) {
  if (remaining() < 2) return false;
  *out = static_cast<int16_t>((uint16_t{data_[pos_]} << 8) | data_[pos_ + 1]);
  pos_ += 2;
  return true;
}

bool Reader::UInt32(uint32_t* out) {
  if (remaining() < 4) return false;
  *out = LoadBE32(data_.data() + pos_);
  pos_ += 4;
  return true;
}

bool Reader::Int32(int32_t* out) {
  uint32_t v;
  if (!UInt32(&v)) return false;
  *out = static_cast<int32_t>(v);
  return true;
}

bool Reader::String(std::string_view* out) {
  if (remaining() == 0) return false;  // data() may be null; memchr must not see it
  const uint8_t* start = data_.data() + pos_;
  const void* nul = std::memchr(start, 0, remaining());
  if (nul == nullptr) return false;
  const size_t n = static_cast<const uint8_t*>(nul) - start;
  *out = std::string_view(reinterpret_cast<const char*>(start), n);
  pos_ += n + 1;
  return true;
}

bool Reader::Bytes(size_t n, std::span<const uint8_t>* out) {
  if (remaining() < n) return false;
  *out = data_.subspan(pos_, n);
  pos_ += n;
  return true;
}

std::span<const uint8_t> Reader::Rest() {
  auto rest = data_.subspan(pos_);
  pos_ = data_.size();
  return rest;
}

std::string_view AsStringView(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void AppendByte(std::string* out, uint8_t v) {
  out->push_back(static_cast<char>(v));
}

void AppendInt16(std::string* out, int16_t v) {
  const auto u = static_cast<uint16_t>(v);
  out->push_back(static_cast<char>(u >> 8));
  out->push_back(static_cast<char>(u));
}

void AppendUInt32(std::string* out, uint32_t v) {
  char buf[4];
  StoreBE32(buf, v);
  out->append(buf, 4);
}

void AppendInt32(std::string* out, int32_t v) {
  AppendUInt32(out, static_cast<uint32_t>(v));
}

void AppendCString(std::string* out, std::string_view s) {
  const size_t nul = s.find('\0');
  if (nul != std::string_view::npos) s = s.substr(0, nul);
  out->append(s);
  out->push_back('\0');
}

void AppendBytes(std::string* out, std::span<const uint8_t> bytes) {
  out->append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void AppendMessage(std::string* out, char type, std::string_view payload) {
  out->push_back(type);
  AppendUInt32(out, static_cast<uint32_t>(payload.size() + 4));
  out->append(payload);
}

void AppendMessage(std::string* out, char type, std::span<const uint8_t> payload) {
  AppendMessage(out, type, AsStringView(payload));
}

size_t BeginMessage(std::string* out, char type) {
  const size_t start = out->size();
  out->push_back(type);
  out->append(4, '\0');
  return start;
}

void EndMessage(std::string* out, size_t start) {
  StoreBE32(out->data() + start + 1, static_cast<uint32_t>(out->size() - start - 1));
}

}  // namespace sluice::pgsql
