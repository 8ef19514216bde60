#include "proxy/mysql/compression.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include <algorithm>
#include <string>

#include "protocol/mysql/compress.h"

namespace sluice::mysqlproxy {
namespace {

// What sluice writes is cut in frames of at most this much (the protocol allows 16 MiB):
// a bounded buffer per frame, and a large result starts leaving before it is all here.
constexpr size_t kFrameBytes = 1 << 20;

struct Compression {
  // The compressed sequence id of sluice's next frame: each client frame sets it to its own
  // id + 1 (a client starts every command at 0), every frame sluice sends takes one.
  uint8_t seq = 0;
};

bufferevent_filter_result Inflate(evbuffer* src, evbuffer* dst, ev_ssize_t limit,
                                  bufferevent_flush_mode, void* ctx) {
  auto* c = static_cast<Compression*>(ctx);
  bool wrote = false;
  while (limit <= 0 || evbuffer_get_length(dst) < static_cast<size_t>(limit)) {
    size_t avail = evbuffer_get_length(src);
    uint8_t head[mysql::kCompressedHeaderSize];
    mysql::CompressedHeader h;
    if (avail < sizeof head) break;
    evbuffer_copyout(src, head, sizeof head);
    mysql::PeekCompressedHeader(head, &h);
    size_t frame = sizeof head + h.compressed_length;
    if (avail < frame) break;
    const uint8_t* p = evbuffer_pullup(src, static_cast<ev_ssize_t>(frame));
    auto data = mysql::InflateFrame(h, {p + sizeof head, h.compressed_length});
    if (!data.ok()) return BEV_ERROR;
    evbuffer_add(dst, data->data(), data->size());
    evbuffer_drain(src, frame);
    c->seq = static_cast<uint8_t>(h.seq + 1);
    wrote = true;
  }
  return wrote ? BEV_OK : BEV_NEED_MORE;
}

bufferevent_filter_result Deflate(evbuffer* src, evbuffer* dst, ev_ssize_t, bufferevent_flush_mode,
                                  void* ctx) {
  auto* c = static_cast<Compression*>(ctx);
  if (evbuffer_get_length(src) == 0) return BEV_NEED_MORE;
  std::string out;
  while (size_t n = std::min(evbuffer_get_length(src), kFrameBytes)) {
    const uint8_t* p = evbuffer_pullup(src, static_cast<ev_ssize_t>(n));
    out.clear();
    mysql::AppendCompressedFrame(&out, c->seq++, {reinterpret_cast<const char*>(p), n});
    evbuffer_add(dst, out.data(), out.size());
    evbuffer_drain(src, n);
  }
  return BEV_OK;
}

}  // namespace

bool StartCompression(ClientConn* client) {
  auto* c = new Compression;
  if (client->PushFilter(&Inflate, &Deflate, c,
                         [](void* p) { delete static_cast<Compression*>(p); }))
    return true;
  delete c;
  return false;
}

}  // namespace sluice::mysqlproxy
