// Reading and writing whole MySQL packets on libevent buffers: the next complete packet at
// the front of an input buffer (made contiguous), and packet framing onto an output buffer.
#pragma once

#include <event2/buffer.h>

#include <span>
#include <string>
#include <string_view>

#include "protocol/mysql/packet.h"
#include "proxy/evbuffer_io.h"

namespace sluice::mysqlproxy {

// True and fills pkt/wire_len when a whole packet is at the front of buf.
inline bool PeekPacket(evbuffer* buf, mysql::PacketView* pkt, size_t* wire_len) {
  size_t avail = evbuffer_get_length(buf);
  if (avail < 4) return false;
  uint8_t hdr[4];
  evbuffer_copyout(buf, hdr, 4);
  size_t len = hdr[0] | (hdr[1] << 8) | (size_t{hdr[2]} << 16);
  if (avail < 4 + len) return false;
  return mysql::DecodePacket(Front(buf, 4 + len), pkt, wire_len) == mysql::DecodeStatus::kPacket;
}

// Frames payload as packet(s) starting at seq (advanced past them) onto out.
inline void WritePacket(evbuffer* out, uint8_t* seq, std::string_view payload) {
  std::string framed;
  mysql::AppendPacket(&framed, seq,
                      {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()});
  Append(out, framed);
}

}  // namespace sluice::mysqlproxy
