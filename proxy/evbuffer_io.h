// Small helpers over libevent's evbuffer shared by the protocol sessions: appending
// strings and viewing the front of a buffer as contiguous bytes.
#pragma once

#include <event2/buffer.h>

#include <cstdint>
#include <span>
#include <string_view>

namespace sluice {

inline void Append(evbuffer* out, std::string_view bytes) {
  evbuffer_add(out, bytes.data(), bytes.size());
}

// The first n bytes of buf, made contiguous (a no-op when they already are).
inline std::span<const uint8_t> Front(evbuffer* buf, size_t n) {
  const uint8_t* p = evbuffer_pullup(buf, static_cast<ev_ssize_t>(n));
  return {p, p ? n : 0};
}

}  // namespace sluice
