// Reading whole PostgreSQL messages off an evbuffer without copying more than needed: the
// header peek for streaming and the full-message view for messages sluice inspects.
#pragma once

#include <event2/buffer.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sluice::pgproxy {

struct MsgHeader {
  char type = 0;
  uint32_t length = 0;  // the length word: payload + 4
  size_t total() const { return size_t{length} + 1; }
};

enum class PeekResult { kNeedMore, kOk, kBad };

// The 5-byte header at the front of buf. kBad when the length word is below 4 or above
// max_len (so a peer cannot make sluice buffer a huge message first).
PeekResult PeekHeader(evbuffer* buf, MsgHeader* h, uint32_t max_len);
// The same for the header that starts `offset` bytes into buf.
PeekResult PeekHeaderAt(evbuffer* buf, size_t offset, MsgHeader* h, uint32_t max_len);

// The whole first message made contiguous; payload excludes type and length.
// Only valid until buf changes.
PeekResult PeekMessage(evbuffer* buf, MsgHeader* h, std::span<const uint8_t>* payload,
                       uint32_t max_len);

inline void AppendTo(evbuffer* out, const std::string& bytes) {
  evbuffer_add(out, bytes.data(), bytes.size());
}

}  // namespace sluice::pgproxy
