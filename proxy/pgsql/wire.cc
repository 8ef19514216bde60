#include "proxy/pgsql/wire.h"

namespace sluice::pgproxy {

PeekResult PeekHeader(evbuffer* buf, MsgHeader* h, uint32_t max_len) {
  return PeekHeaderAt(buf, 0, h, max_len);
}

PeekResult PeekHeaderAt(evbuffer* buf, size_t offset, MsgHeader* h, uint32_t max_len) {
  uint8_t hdr[5];
  if (evbuffer_get_length(buf) < offset + 5) return PeekResult::kNeedMore;
  evbuffer_ptr pos;
  evbuffer_ptr_set(buf, &pos, offset, EVBUFFER_PTR_SET);
  if (evbuffer_copyout_from(buf, &pos, hdr, 5) < 5) return PeekResult::kNeedMore;
  h->type = static_cast<char>(hdr[0]);
  h->length =
      (uint32_t{hdr[1]} << 24) | (uint32_t{hdr[2]} << 16) | (uint32_t{hdr[3]} << 8) | hdr[4];
  if (h->length < 4 || h->length > max_len) return PeekResult::kBad;
  return PeekResult::kOk;
}

PeekResult PeekMessage(evbuffer* buf, MsgHeader* h, std::span<const uint8_t>* payload,
                       uint32_t max_len) {
  PeekResult r = PeekHeader(buf, h, max_len);
  if (r != PeekResult::kOk) return r;
  if (evbuffer_get_length(buf) < h->total()) return PeekResult::kNeedMore;
  const uint8_t* p = evbuffer_pullup(buf, static_cast<ev_ssize_t>(h->total()));
  *payload = {p + 5, h->length - 4};
  return PeekResult::kOk;
}

}  // namespace sluice::pgproxy
