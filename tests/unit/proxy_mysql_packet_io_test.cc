// WritePacket (proxy/mysql/packet_io.h) frames straight into the buffer: the same bytes as
// mysql::AppendPacket for empty, small, exactly 16 MiB - 1 and larger payloads, the
// sequence id advanced past every chunk, and one add per packet for a filter behind it.
#include "proxy/mysql/packet_io.h"

#include <event2/buffer.h>
#include <gtest/gtest.h>

#include <string>

namespace sluice::mysqlproxy {
namespace {

std::string Drain(evbuffer* b) {
  std::string s(evbuffer_get_length(b), '\0');
  evbuffer_remove(b, s.data(), s.size());
  return s;
}

TEST(MysqlPacketIo, WritePacketFramesAsAppendPacket) {
  evbuffer* out = evbuffer_new();
  evbuffer_add(out, "x", 1);  // after what is already queued
  for (size_t n : {size_t{0}, size_t{5}, mysql::kMaxPacketPayload, mysql::kMaxPacketPayload + 3}) {
    std::string payload(n, 'p');
    uint8_t seq = 7, want_seq = 7;
    std::string want = "x";
    mysql::AppendPacket(&want, &want_seq, payload);
    WritePacket(out, &seq, payload);
    EXPECT_EQ(seq, want_seq) << n;
    std::string got = Drain(out);
    EXPECT_EQ(got.size(), want.size()) << n;
    EXPECT_TRUE(got == want) << n;
    evbuffer_add(out, "x", 1);
  }
  evbuffer_free(out);
}

TEST(MysqlPacketIo, APacketIsOneAddForWhatWatchesTheBuffer) {
  evbuffer* out = evbuffer_new();
  struct Count {
    int adds = 0;
    static void Cb(evbuffer*, const evbuffer_cb_info* info, void* arg) {
      if (info->n_added) ++static_cast<Count*>(arg)->adds;
    }
  } count;
  evbuffer_add_cb(out, &Count::Cb, &count);
  uint8_t seq = 1;
  WritePacket(out, &seq, std::string(100, 'q'));
  EXPECT_EQ(count.adds, 1);
  EXPECT_EQ(evbuffer_get_length(out), 104u);
  evbuffer_free(out);
}

}  // namespace
}  // namespace sluice::mysqlproxy
