// Connection phase: the v10 greeting and HandshakeResponse41 (captured from MariaDB 10.11 and
// round-tripped), SSLRequest, AuthSwitchRequest and AuthMoreData.
#include <gtest/gtest.h>

#include <string>

#include "protocol/mysql/auth.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/handshake.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/wire.h"

namespace sluice::mysql {
namespace {

// Raw wire bytes (header included) captured from mariadbd 10.11.19 (Debian 12) on 127.0.0.1 by a
// throwaway /usr/bin/python3 socket client: the server greeting, and the client's handshake
// response (user "sluice", password "secret", database "t", mysql_native_password, attribute
// _pid=1234) that the server accepted with OK. kEof*: without CLIENT_DEPRECATE_EOF, kNoEof*: with.
constexpr char kEofGreeting[] =
    "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b646562313275310009000000794d"
    "52365731303d00fef7080200ff81150000000000001d00000023347a307b3f6560337b3532006d7973716c5f"
    "6e61746976655f70617373776f726400";

constexpr char kEofHandshakeResponse[] =
    "5f0000018da2bf00000000012d0000000000000000000000000000000000000000000000736c756963650014"
    "872d9e9aefcd635ee5d03edae971b0fd88742c0174006d7973716c5f6e61746976655f70617373776f726400"
    "0a045f7069640431323334";

constexpr char kNoEofGreeting[] =
    "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b64656231327531000a000000415f"
    "3c4d4e7e525c00fef7080200ff81150000000000001d0000005a307c457e6f304033792e75006d7973716c5f"
    "6e61746976655f70617373776f726400";

constexpr char kNoEofHandshakeResponse[] =
    "5f0000018da2bf01000000012d0000000000000000000000000000000000000000000000736c756963650014"
    "0674c84536d65cf53749e8dd591b2d88c0748a0874006d7973716c5f6e61746976655f70617373776f726400"
    "0a045f7069640431323334";

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Payload of the single wire packet in `hex`.
std::string Payload(std::string_view hex, uint8_t expected_seq) {
  std::string wire = FromHex(hex);
  PacketView p;
  size_t used = 0;
  EXPECT_EQ(DecodePacket(AsBytes(wire), &p, &used), DecodeStatus::kPacket);
  EXPECT_EQ(used, wire.size());
  EXPECT_EQ(p.seq, expected_seq);
  return std::string(AsStringView(p.payload));
}

TEST(MysqlHandshake, DecodesRealMariaDbGreeting) {
  std::string payload = Payload(kEofGreeting, 0);
  Result<InitialHandshake> hs = DecodeInitialHandshake(AsBytes(payload));
  ASSERT_TRUE(hs.ok()) << hs.status().message();
  EXPECT_EQ(hs->protocol_version, 10);
  EXPECT_EQ(hs->server_version, "5.5.5-10.11.19-MariaDB-0+deb12u1");
  EXPECT_EQ(hs->connection_id, 9u);
  EXPECT_EQ(hs->auth_plugin_data, FromHex("794d52365731303d23347a307b3f6560337b3532"));
  EXPECT_EQ(hs->auth_plugin_name, "mysql_native_password");
  EXPECT_EQ(hs->charset, 8);
  EXPECT_EQ(hs->status_flags, SERVER_STATUS_AUTOCOMMIT);
  // MariaDB clears CLIENT_MYSQL and puts its extended caps in the reserved bytes (0x1d).
  EXPECT_FALSE(hs->capabilities & CLIENT_MYSQL);
  EXPECT_TRUE(hs->capabilities & CLIENT_PROTOCOL_41);
  EXPECT_TRUE(hs->capabilities & CLIENT_DEPRECATE_EOF);
  EXPECT_TRUE(hs->capabilities & MARIADB_CLIENT_PROGRESS);
  EXPECT_TRUE(hs->capabilities & MARIADB_CLIENT_STMT_BULK_OPERATIONS);
  EXPECT_TRUE(hs->capabilities & MARIADB_CLIENT_EXTENDED_METADATA);
  EXPECT_TRUE(hs->capabilities & MARIADB_CLIENT_CACHE_METADATA);
  EXPECT_FALSE(hs->capabilities & MARIADB_CLIENT_COM_MULTI);
  // Encoding what was decoded gives the server's bytes back.
  EXPECT_EQ(EncodeInitialHandshake(*hs), payload);
}

TEST(MysqlHandshake, GreetingRoundTripMySqlStyle) {
  InitialHandshake hs;
  hs.server_version = "8.0.36-sluice";
  hs.connection_id = 0xabcdef01;
  Scramble s = GenerateScramble();
  hs.auth_plugin_data = std::string(AsStringView(s));
  hs.capabilities = CLIENT_MYSQL | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION |
                    CLIENT_PLUGIN_AUTH | CLIENT_SSL | MARIADB_CLIENT_PROGRESS;
  hs.charset = kCharsetUtf8mb4GeneralCi;
  hs.status_flags = SERVER_STATUS_AUTOCOMMIT;
  hs.auth_plugin_name = kCachingSha2Plugin;
  std::string enc = EncodeInitialHandshake(hs);
  Result<InitialHandshake> dec = DecodeInitialHandshake(AsBytes(enc));
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec->server_version, hs.server_version);
  EXPECT_EQ(dec->connection_id, hs.connection_id);
  EXPECT_EQ(dec->auth_plugin_data, hs.auth_plugin_data);
  EXPECT_EQ(dec->auth_plugin_name, kCachingSha2Plugin);
  // With CLIENT_MYSQL set the reserved bytes are not MariaDB capabilities.
  EXPECT_EQ(dec->capabilities, hs.capabilities & ~MARIADB_CLIENT_PROGRESS);
}

TEST(MysqlHandshake, TruncatedGreetingsAreErrors) {
  std::string payload = Payload(kNoEofGreeting, 0);
  ASSERT_TRUE(DecodeInitialHandshake(AsBytes(payload)).ok());
  for (size_t n = 0; n < payload.size() - 23; ++n) {
    // Only the capability-less 4.0 layout may stop right after the lower capability flags.
    if (n == 1 + 33 + 4 + 8 + 1 + 2) continue;
    EXPECT_FALSE(DecodeInitialHandshake(AsBytes(payload).first(n)).ok()) << n;
  }
  std::string v9 = payload;
  v9[0] = 9;
  EXPECT_FALSE(DecodeInitialHandshake(AsBytes(v9)).ok());
}

TEST(MysqlHandshake, DecodesRealHandshakeResponseAndVerifiesToken) {
  std::string greeting = Payload(kEofGreeting, 0);
  std::string payload = Payload(kEofHandshakeResponse, 1);
  Result<HandshakeResponse> r = DecodeHandshakeResponse(AsBytes(payload));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->user, "sluice");
  EXPECT_EQ(r->database, "t");
  EXPECT_EQ(r->auth_plugin_name, kNativePasswordPlugin);
  EXPECT_EQ(r->charset, 45);
  EXPECT_EQ(r->max_packet_size, 16777216u);
  EXPECT_FALSE(r->capabilities & CLIENT_DEPRECATE_EOF);
  ASSERT_EQ(r->connect_attrs.size(), 1u);
  EXPECT_EQ(r->connect_attrs[0].first, "_pid");
  EXPECT_EQ(r->connect_attrs[0].second, "1234");
  EXPECT_FALSE(IsSslRequest(AsBytes(payload)));
  EXPECT_EQ(EncodeHandshakeResponse(*r), payload);

  // The server accepted this token, so the proxy must too from the stored double SHA1.
  Result<InitialHandshake> hs = DecodeInitialHandshake(AsBytes(greeting));
  ASSERT_TRUE(hs.ok());
  auto sha1 = VerifyNativeToken(AsBytes(r->auth_response), AsBytes(hs->auth_plugin_data),
                                DoubleSha1("secret"));
  ASSERT_TRUE(sha1.has_value());
  EXPECT_EQ(NativeToken("secret", AsBytes(hs->auth_plugin_data)), r->auth_response);
  EXPECT_FALSE(VerifyNativeToken(AsBytes(r->auth_response), AsBytes(hs->auth_plugin_data),
                                 DoubleSha1("Secret"))
                   .has_value());

  Result<HandshakeResponse> r2 =
      DecodeHandshakeResponse(AsBytes(Payload(kNoEofHandshakeResponse, 1)));
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->capabilities & CLIENT_DEPRECATE_EOF);
}

TEST(MysqlHandshake, ResponseVariantsRoundTrip) {
  HandshakeResponse base;
  base.max_packet_size = 1 << 24;
  base.charset = 33;
  base.user = "app";
  base.auth_response = std::string(300, '\x07');  // longer than a 1-byte length allows
  base.database = "shop";
  base.auth_plugin_name = kCachingSha2Plugin;
  base.connect_attrs = {{"_client_name", "libmariadb"}, {"program_name", "test"}};
  base.capabilities = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
                      CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_CONNECT_WITH_DB |
                      CLIENT_CONNECT_ATTRS | MARIADB_CLIENT_STMT_BULK_OPERATIONS;
  std::string enc = EncodeHandshakeResponse(base);
  Result<HandshakeResponse> dec = DecodeHandshakeResponse(AsBytes(enc));
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec->capabilities, base.capabilities);
  EXPECT_EQ(dec->auth_response, base.auth_response);
  EXPECT_EQ(dec->database, "shop");
  EXPECT_EQ(dec->connect_attrs, base.connect_attrs);

  // 1-byte length (SECURE_CONNECTION) and no database / attributes.
  HandshakeResponse s = base;
  s.capabilities = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
  s.auth_response = std::string(20, '\x01');
  s.database.clear();
  s.connect_attrs.clear();
  dec = DecodeHandshakeResponse(AsBytes(EncodeHandshakeResponse(s)));
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec->auth_response, s.auth_response);
  EXPECT_EQ(dec->database, "");
  EXPECT_EQ(dec->auth_plugin_name, kCachingSha2Plugin);

  // 4.0-style responses are refused; truncations are errors.
  std::string old("\x05\x00\x00\x00", 4);
  EXPECT_FALSE(DecodeHandshakeResponse(AsBytes(old)).ok());
  for (size_t n = 0; n < 40; ++n) {
    EXPECT_FALSE(DecodeHandshakeResponse(AsBytes(enc).first(n)).ok()) << n;
  }
  std::string bad_attrs = enc;
  bad_attrs[bad_attrs.size() - 5] = '\x7f';  // "test" claims 127 bytes
  EXPECT_FALSE(DecodeHandshakeResponse(AsBytes(bad_attrs)).ok());
}

TEST(MysqlHandshake, SslRequest) {
  std::string req = EncodeSslRequest(CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION, 1 << 24, 45);
  EXPECT_EQ(req.size(), 32u);
  EXPECT_TRUE(IsSslRequest(AsBytes(req)));
  std::string no_ssl = req;
  no_ssl[1] = 0;  // clears CLIENT_SSL (bit 11)
  EXPECT_FALSE(IsSslRequest(AsBytes(no_ssl)));
  EXPECT_FALSE(IsSslRequest(AsBytes(req).first(31)));
}

TEST(MysqlHandshake, AuthSwitchAndMoreData) {
  AuthSwitchRequest sw{kNativePasswordPlugin, std::string(20, 'k')};
  std::string enc = EncodeAuthSwitchRequest(sw);
  EXPECT_EQ(enc[0], '\xfe');
  EXPECT_EQ(enc.back(), '\0');
  Result<AuthSwitchRequest> dec = DecodeAuthSwitchRequest(AsBytes(enc));
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(dec->plugin_name, kNativePasswordPlugin);
  EXPECT_EQ(dec->plugin_data, std::string(20, 'k'));
  EXPECT_FALSE(DecodeAuthSwitchRequest(AsBytes(std::string("\xfe"))).ok());
  EXPECT_FALSE(DecodeAuthSwitchRequest(AsBytes(std::string("\xfe"
                                                           "abc")))
                   .ok());

  std::string fast = EncodeAuthMoreData(std::string(1, static_cast<char>(kCachingSha2FastAuthOk)));
  EXPECT_EQ(fast, std::string("\x01\x03", 2));
  Result<std::string> more = DecodeAuthMoreData(AsBytes(fast));
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(*more, "\x03");
  EXPECT_FALSE(DecodeAuthMoreData(AsBytes(std::string("\x02"))).ok());
}

}  // namespace
}  // namespace sluice::mysql

namespace sluice::mysql {
namespace {

TEST(ChangeUser, DecodesSecureConnectionForm) {
  std::string p;
  Writer w(&p);
  w.U8(COM_CHANGE_USER).NulString("bob").U8(3).Raw(std::string_view("abc")).NulString("shop");
  w.U16(45).NulString("mysql_native_password");
  auto r = DecodeChangeUser(AsBytes(p),
                            CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->user, "bob");
  EXPECT_EQ(r->auth_response, "abc");
  EXPECT_EQ(r->database, "shop");
  EXPECT_EQ(r->charset, 45);
  EXPECT_EQ(r->auth_plugin_name, "mysql_native_password");
}

TEST(ChangeUser, OldFormWithoutCharsetOrPlugin) {
  std::string p;
  Writer w(&p);
  w.U8(COM_CHANGE_USER).NulString("bob").U8(0).NulString("");
  auto r = DecodeChangeUser(AsBytes(p), CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->auth_response, "");
  EXPECT_EQ(r->database, "");
}

TEST(ChangeUser, TruncatedIsAnError) {
  std::string p;
  Writer w(&p);
  w.U8(COM_CHANGE_USER).NulString("bob").U8(20).Raw(std::string_view("short"));
  EXPECT_FALSE(DecodeChangeUser(AsBytes(p), CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION).ok());
  std::string q = "\x03";
  EXPECT_FALSE(DecodeChangeUser(AsBytes(q), CLIENT_SECURE_CONNECTION).ok());
}

}  // namespace
}  // namespace sluice::mysql
