// Reading and writing whole MySQL packets on libevent buffers: the next complete packet at
// the front of an input buffer (made contiguous), and packet framing onto an output buffer.
#pragma once

#include <event2/buffer.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "protocol/mysql/packet.h"
#include "protocol/mysql/statement.h"
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

namespace detail {
// WritePacket, and when stmt_id is set, the copy's statement id (bytes 1..4) set to it.
inline void FramePackets(evbuffer* out, uint8_t* seq, std::string_view payload,
                         const uint32_t* stmt_id) {
  size_t off = 0;
  for (;;) {
    size_t n = std::min(payload.size() - off, mysql::kMaxPacketPayload);
    const size_t wire = mysql::kPacketHeaderSize + n;
    evbuffer_iovec v;
    if (evbuffer_reserve_space(out, static_cast<ev_ssize_t>(wire), &v, 1) < 1) return;
    auto* p = static_cast<uint8_t*>(v.iov_base);
    p[0] = static_cast<uint8_t>(n & 0xff);
    p[1] = static_cast<uint8_t>((n >> 8) & 0xff);
    p[2] = static_cast<uint8_t>((n >> 16) & 0xff);
    p[3] = (*seq)++;
    if (n) std::memcpy(p + mysql::kPacketHeaderSize, payload.data() + off, n);
    if (stmt_id && off == 0)
      mysql::RewriteStatementId(std::span<uint8_t>(p + mysql::kPacketHeaderSize, n), *stmt_id);
    v.iov_len = wire;
    evbuffer_commit_space(out, &v, 1);
    off += n;
    if (n < mysql::kMaxPacketPayload) return;
  }
}
}  // namespace detail

// Frames payload as packet(s) starting at seq (advanced past them) onto out: each header and
// its chunk written straight into one reserved extent of out (no framed copy, and one add,
// so a filter behind out sees whole packets); a chunk per 0xFFFFFF bytes, plus an empty
// packet when the length is a multiple of it (as mysql::AppendPacket).
inline void WritePacket(evbuffer* out, uint8_t* seq, std::string_view payload) {
  detail::FramePackets(out, seq, payload, nullptr);
}

// WritePacket of a COM_STMT_* payload with its statement id replaced by stmt_id in what is
// written (mysql::RewriteStatementId; too short a payload goes unchanged): payload itself
// stays the client's, and no copy of it is built.
inline void WriteStmtPacket(evbuffer* out, uint8_t* seq, std::string_view payload,
                            uint32_t stmt_id) {
  detail::FramePackets(out, seq, payload, &stmt_id);
}

}  // namespace sluice::mysqlproxy
