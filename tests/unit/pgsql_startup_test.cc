// Startup-packet decoding (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest) and the
// startup encoders of protocol/pgsql.

#include <gtest/gtest.h>

#include <string>

#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/message.h"
#include "protocol/pgsql/startup.h"

namespace sluice::pgsql {
namespace {

StartupResult Decode(const std::string& wire, size_t* consumed) {
  return DecodeStartup(AsBytes(wire), consumed);
}

std::string Packet(int32_t code, const std::string& body) {
  std::string out;
  AppendInt32(&out, static_cast<int32_t>(8 + body.size()));
  AppendInt32(&out, code);
  return out + body;
}

TEST(PgsqlStartupTest, StartupMessageRoundTripKeepsParamOrder) {
  StartupMessage msg;
  msg.params = {{"user", "alice"},
                {"database", "shop"},
                {"application_name", "psql"},
                {"options", "-c search_path=x"},
                {"replication", "database"}};
  std::string wire;
  AppendStartupMessage(&wire, msg);
  size_t consumed = 0;
  StartupResult r = Decode(wire + "extra", &consumed);
  ASSERT_EQ(r.kind, StartupKind::kStartup) << r.error;
  EXPECT_EQ(consumed, wire.size());
  EXPECT_EQ(r.startup.major, 3);
  EXPECT_EQ(r.startup.minor, 0);
  EXPECT_EQ(r.startup.params, msg.params);
  EXPECT_EQ(r.startup.Get("database"), "shop");
  EXPECT_TRUE(r.startup.Has("replication"));
  EXPECT_FALSE(r.startup.Has("nope"));
  EXPECT_EQ(r.startup.Get("nope"), "");
}

TEST(PgsqlStartupTest, NeedsMoreDataUntilWholePacketByteAtATime) {
  StartupMessage msg;
  msg.params = {{"user", "u"}};
  std::string wire;
  AppendStartupMessage(&wire, msg);
  for (size_t n = 0; n < wire.size(); ++n) {
    size_t consumed = 0;
    EXPECT_EQ(Decode(wire.substr(0, n), &consumed).kind, StartupKind::kNeedMoreData) << n;
  }
  size_t consumed = 0;
  EXPECT_EQ(Decode(wire, &consumed).kind, StartupKind::kStartup);
}

TEST(PgsqlStartupTest, SslGssAndCancelRequests) {
  std::string wire;
  AppendSslRequest(&wire);
  size_t consumed = 0;
  EXPECT_EQ(Decode(wire, &consumed).kind, StartupKind::kSslRequest);
  EXPECT_EQ(consumed, 8u);

  wire.clear();
  AppendGssEncRequest(&wire);
  EXPECT_EQ(Decode(wire, &consumed).kind, StartupKind::kGssEncRequest);

  wire.clear();
  AppendCancelRequest(&wire, CancelRequest{4242, 0xfeedface});
  StartupResult r = Decode(wire, &consumed);
  ASSERT_EQ(r.kind, StartupKind::kCancel);
  EXPECT_EQ(consumed, 16u);
  EXPECT_EQ(r.cancel.pid, 4242);
  EXPECT_EQ(r.cancel.secret, 0xfeedfaceu);
}

TEST(PgsqlStartupTest, SslRequestFollowedByStartupInOneBuffer) {
  std::string wire;
  AppendSslRequest(&wire);
  AppendStartupMessage(&wire, StartupMessage{3, 0, {{"user", "bob"}}});
  size_t consumed = 0;
  ASSERT_EQ(Decode(wire, &consumed).kind, StartupKind::kSslRequest);
  StartupResult r = Decode(wire.substr(consumed), &consumed);
  ASSERT_EQ(r.kind, StartupKind::kStartup);
  EXPECT_EQ(r.startup.Get("user"), "bob");
}

TEST(PgsqlStartupTest, RejectsBadLengths) {
  size_t consumed = 0;
  for (int32_t len : {0, 3, 4, 7}) {
    std::string wire;
    AppendInt32(&wire, len);
    AppendInt32(&wire, kProtocolVersion3);
    EXPECT_EQ(Decode(wire, &consumed).kind, StartupKind::kError) << len;
  }
  std::string huge;
  AppendInt32(&huge, -1);
  EXPECT_EQ(Decode(huge, &consumed).kind, StartupKind::kError);
  // The server allows a body (length minus 4) of exactly 10000 bytes and not one more.
  std::string at_limit;
  AppendInt32(&at_limit, 10004);
  EXPECT_EQ(Decode(at_limit, &consumed).kind, StartupKind::kNeedMoreData);
  std::string over;
  AppendInt32(&over, 10005);
  StartupResult r = Decode(over, &consumed);
  EXPECT_EQ(r.kind, StartupKind::kError);
  EXPECT_NE(r.error.find("invalid length"), std::string::npos);
  // Fixed-size requests with the wrong size.
  EXPECT_EQ(Decode(Packet(kSslRequestCode, "x"), &consumed).kind, StartupKind::kError);
  EXPECT_EQ(Decode(Packet(kCancelRequestCode, "1234"), &consumed).kind, StartupKind::kError);
}

TEST(PgsqlStartupTest, RejectsBadLayouts) {
  size_t consumed = 0;
  // No final terminator.
  EXPECT_EQ(Decode(Packet(kProtocolVersion3, std::string("user\0u\0", 7)), &consumed).kind,
            StartupKind::kError);
  // Name with no value.
  EXPECT_EQ(Decode(Packet(kProtocolVersion3, std::string("user\0", 5)), &consumed).kind,
            StartupKind::kError);
  // Unterminated name.
  EXPECT_EQ(Decode(Packet(kProtocolVersion3, "user"), &consumed).kind, StartupKind::kError);
  // Bytes after the terminator.
  EXPECT_EQ(Decode(Packet(kProtocolVersion3, std::string("user\0u\0\0x", 9)), &consumed).kind,
            StartupKind::kError);
  // Empty body: no terminator at all.
  EXPECT_EQ(Decode(Packet(kProtocolVersion3, ""), &consumed).kind, StartupKind::kError);
  // Only the terminator: valid, no parameters.
  StartupResult r = Decode(Packet(kProtocolVersion3, std::string("\0", 1)), &consumed);
  ASSERT_EQ(r.kind, StartupKind::kStartup) << r.error;
  EXPECT_TRUE(r.startup.params.empty());
}

TEST(PgsqlStartupTest, RejectsOtherMajorVersions) {
  size_t consumed = 0;
  StartupResult r = Decode(Packet(2 << 16, std::string("\0", 1)), &consumed);
  EXPECT_EQ(r.kind, StartupKind::kError);
  EXPECT_NE(r.error.find("unsupported frontend protocol 2.0"), std::string::npos);
  EXPECT_EQ(Decode(Packet((1234 << 16) | 9999, ""), &consumed).kind, StartupKind::kError);
}

TEST(PgsqlStartupTest, NewerMinorAndProtocolOptionsForNegotiation) {
  StartupMessage msg{3, 2, {{"user", "u"}, {"_pq_.compression", "on"}, {"_pq_.x", "1"}}};
  std::string wire;
  AppendStartupMessage(&wire, msg);
  size_t consumed = 0;
  StartupResult r = Decode(wire, &consumed);
  ASSERT_EQ(r.kind, StartupKind::kStartup);
  EXPECT_EQ(r.startup.minor, 2);
  const std::vector<std::string> options = r.startup.ProtocolOptions();
  EXPECT_EQ(options, (std::vector<std::string>{"_pq_.compression", "_pq_.x"}));

  std::string reply;
  AppendNegotiateProtocolVersion(&reply, kNewestMinorVersion, options);
  MessageView m;
  ASSERT_EQ(DecodeMessage(AsBytes(reply), &m, &consumed), DecodeStatus::kMessage);
  EXPECT_EQ(m.type, 'v');
  auto v = DecodeNegotiateProtocolVersion(m.payload);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->newest_version, kProtocolVersion3);
  EXPECT_EQ(v->unrecognized_options, (std::vector<std::string_view>{"_pq_.compression", "_pq_.x"}));
}

}  // namespace
}  // namespace sluice::pgsql
