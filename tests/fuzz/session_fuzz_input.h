// The fuzz input of the session targets, read front to back: a flags byte, then operations
// (client bytes, backend answers, closes). Running out of bytes ends the script.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sluice::fuzz {

// The operations of a session script; the low three bits of an op byte choose one.
enum class Op : uint8_t {
  kClientBytes = 0,    // raw bytes from the client, as one read
  kClientCommand = 1,  // one command, framed by the driver (packet / typed message)
  kAnswer = 2,         // the next scripted backend answer
  kServerBytes = 3,    // raw bytes from one backend connection
  kServerClose = 4,    // one backend connection dies (EOF)
  kClientClose = 5,    // the client closes; the script ends
  kRuntime = 6,        // the monitor publishes a change (promotion, shunning)
  kClientReading = 7,  // the client stops / starts reading its answers
};

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t Byte() { return empty() ? 0 : data_[pos_++]; }
  // A length: one byte, or 255 and two more (little-endian), so long statements fit.
  size_t Length() {
    size_t n = Byte();
    if (n == 255) n = Byte() | (size_t{Byte()} << 8);
    return n;
  }
  std::string Bytes(size_t n) {
    if (n > size_ - pos_) n = empty() ? 0 : size_ - pos_;
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  std::string Chunk() { return Bytes(Length()); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Appends what Length() reads back as n.
inline void AppendLength(std::string* out, size_t n) {
  if (n < 255) {
    out->push_back(static_cast<char>(n));
  } else {
    out->push_back('\xff');
    out->push_back(static_cast<char>(n & 0xff));
    out->push_back(static_cast<char>((n >> 8) & 0xff));
  }
}

}  // namespace sluice::fuzz
