// Backend TLS from bytes, MySQL side: after the greeting sluice sends the 32-byte SSL request
// (CLIENT_SSL, sequence 1) and then a TLS ClientHello, or refuses a server that offers no TLS
// when backend_tls requires it. (PostgreSQL: proxy_pgsql_session_test.cc.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "proxy/backend_tls.h"
#include "tests/unit/mysql_session_fixture.h"

namespace sluice::mysqlproxy {
namespace {

class BackendTlsTest : public MysqlSessionTest {
 protected:
  // The backend's greeting, with or without CLIENT_SSL.
  void Greet(size_t i, bool offer_tls) {
    ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() > i; }));
    mysql::InitialHandshake hs;
    hs.server_version = "10.11.6-MariaDB";
    hs.connection_id = 7;
    hs.auth_plugin_data = std::string(20, 'x');
    hs.capabilities =
        kClientCaps | mysql::CLIENT_CONNECT_WITH_DB | (offer_tls ? uint64_t{mysql::CLIENT_SSL} : 0);
    hs.charset = 45;
    hs.auth_plugin_name = mysql::kNativePasswordPlugin;
    h_.server(i).Write(Packet(0, mysql::EncodeInitialHandshake(hs)));
  }
  // Waits for at least n bytes from backend i.
  std::string ServerBytes(size_t i, size_t n) {
    std::string got;
    h_.RunUntil([&] {
      got += h_.server(i).TakeAll();
      return got.size() >= n;
    });
    return got;
  }
};

TEST_F(BackendTlsTest, SslRequestThenClientHelloWhenTheServerOffersTls) {
  h_.SetBackendTls(BackendTlsMode::kPrefer);
  LoggedIn();
  Query("SELECT 1");
  Greet(0, true);
  std::string got = ServerBytes(0, 4 + 32 + 6);
  ASSERT_GE(got.size(), 4u + 32 + 6);
  // The SSL request: 32 bytes, sequence 1, CLIENT_SSL set, nothing of the login in it.
  auto pk = Packets(got.substr(0, 36));
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_EQ(pk[0].first, 1);
  ASSERT_EQ(pk[0].second.size(), 32u);
  EXPECT_TRUE(mysql::IsSslRequest(mysql::AsBytes(pk[0].second)));
  EXPECT_EQ(pk[0].second.find("app"), std::string::npos);
  // Then a TLS record: handshake (22), TLS 1.x, a ClientHello (1).
  EXPECT_EQ(static_cast<uint8_t>(got[36]), 0x16);
  EXPECT_EQ(static_cast<uint8_t>(got[37]), 0x03);
  EXPECT_EQ(static_cast<uint8_t>(got[36 + 5]), 0x01);
}

TEST_F(BackendTlsTest, PreferLogsInInPlainWhenTheServerOffersNoTls) {
  h_.SetBackendTls(BackendTlsMode::kPrefer);
  LoggedIn();
  Query("SELECT 1");
  Greet(0, false);
  auto pk = Packets(ServerBytes(0, 40));
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_EQ(pk[0].first, 1);
  auto resp = mysql::DecodeHandshakeResponse(mysql::AsBytes(pk[0].second));
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->capabilities & mysql::CLIENT_SSL, 0u);
  EXPECT_EQ(resp->user, "app");
}

TEST_F(BackendTlsTest, RequireRefusesAServerWithoutTlsWithAClearError) {
  h_.SetBackendTls(BackendTlsMode::kRequire);
  LoggedIn();
  Query("SELECT 1");
  // Every attempt (the statement is retried on the other servers) meets a plain server.
  for (size_t i = 0; i < 3; ++i) {
    if (!h_.RunUntil([&] { return h_.dialed() > i; }, 500)) break;
    Greet(i, false);
    h_.Settle();
    // Not a byte of the login (user, password token) went to that server.
    EXPECT_EQ(h_.server(i).TakeAll(), "");
  }
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  ASSERT_TRUE(mysql::IsErr(mysql::AsBytes(pk[0].second)));
  auto err = mysql::DecodeErr(mysql::AsBytes(pk[0].second), kClientCaps);
  EXPECT_NE(err->message.find("SSL connection error: the server does not offer TLS"),
            std::string::npos)
      << err->message;
  EXPECT_NE(err->message.find("backend_tls = require"), std::string::npos) << err->message;
}

TEST_F(BackendTlsTest, DisableNeverAsksForTls) {
  LoggedIn();
  Query("SELECT 1");
  Greet(0, true);
  auto pk = Packets(ServerBytes(0, 40));
  ASSERT_EQ(pk.size(), 1u);
  auto resp = mysql::DecodeHandshakeResponse(mysql::AsBytes(pk[0].second));
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->capabilities & mysql::CLIENT_SSL, 0u);
}

// A file that is there but holds no PEM: the context is refused, naming the file and key.
TEST(BackendTlsContextTest, BadPemNamesTheFileAndTheKey) {
  char path[] = "/tmp/sluice-backend-tls-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "not a certificate\n", 18), 18);
  close(fd);
  BackendTls tls;
  tls.mode = BackendTlsMode::kVerifyCa;
  tls.ca_file = path;
  auto ctx = MakeBackendTlsContext(tls);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().message().find(std::string(path) + ": backend_tls_ca_file: "), 0u)
      << ctx.status().message();
  tls.mode = BackendTlsMode::kRequire;
  tls.ca_file.clear();
  tls.cert_file = path;
  tls.key_file = path;
  ctx = MakeBackendTlsContext(tls);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("backend_tls_cert_file"), std::string::npos);
  unlink(path);
  // prefer/require without files: a context that does not check the certificate.
  tls.cert_file.clear();
  tls.key_file.clear();
  ctx = MakeBackendTlsContext(tls);
  ASSERT_TRUE(ctx.ok());
  EXPECT_EQ(SSL_CTX_get_verify_mode(*ctx), SSL_VERIFY_NONE);
  SSL_CTX_free(*ctx);
}

}  // namespace
}  // namespace sluice::mysqlproxy
