// The compressed protocol's frames (protocol/mysql/compress.h): stored and deflated frames
// round-trip, and a frame whose body does not inflate to its stated length is refused.
#include "protocol/mysql/compress.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/mysql/wire.h"

namespace sluice::mysql {
namespace {

std::string RoundTrip(const std::string& data, uint8_t seq, CompressedHeader* h) {
  std::string frame;
  AppendCompressedFrame(&frame, seq, data);
  EXPECT_TRUE(PeekCompressedHeader(AsBytes(frame), h));
  EXPECT_EQ(frame.size(), kCompressedHeaderSize + h->compressed_length);
  auto out = InflateFrame(*h, AsBytes(frame).subspan(kCompressedHeaderSize));
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? *out : "";
}

TEST(MysqlCompressTest, ShortDataIsStored) {
  CompressedHeader h;
  const std::string ping("\x01\x00\x00\x00\x0e", 5);  // a COM_PING packet
  EXPECT_EQ(RoundTrip(ping, 3, &h), ping);
  EXPECT_EQ(h.seq, 3);
  EXPECT_EQ(h.uncompressed_length, 0u);  // stored
  EXPECT_EQ(h.compressed_length, 5u);
}

TEST(MysqlCompressTest, LongDataIsDeflated) {
  std::string data(100000, 'a');
  CompressedHeader h;
  EXPECT_EQ(RoundTrip(data, 0, &h), data);
  EXPECT_EQ(h.uncompressed_length, 100000u);
  EXPECT_LT(h.compressed_length, 1000u);
}

TEST(MysqlCompressTest, IncompressibleDataIsStored) {
  std::string data;
  uint32_t x = 1;
  for (int i = 0; i < 4096; ++i) data += static_cast<char>((x = x * 1103515245 + 12345) >> 24);
  CompressedHeader h;
  EXPECT_EQ(RoundTrip(data, 9, &h), data);
  EXPECT_EQ(h.uncompressed_length, 0u);
}

TEST(MysqlCompressTest, ACorruptFrameIsRefused) {
  std::string frame;
  AppendCompressedFrame(&frame, 0, std::string(1000, 'b'));
  CompressedHeader h;
  ASSERT_TRUE(PeekCompressedHeader(AsBytes(frame), &h));
  frame[kCompressedHeaderSize + 3] ^= 0x5a;
  EXPECT_FALSE(InflateFrame(h, AsBytes(frame).subspan(kCompressedHeaderSize)).ok());
  h.uncompressed_length += 1;  // a length the stream does not have
  frame[kCompressedHeaderSize + 3] ^= 0x5a;
  EXPECT_FALSE(InflateFrame(h, AsBytes(frame).subspan(kCompressedHeaderSize)).ok());
  EXPECT_FALSE(InflateFrame(h, AsBytes(frame).subspan(kCompressedHeaderSize + 1)).ok());
  EXPECT_FALSE(PeekCompressedHeader(AsBytes(frame).first(6), &h));
}

}  // namespace
}  // namespace sluice::mysql
