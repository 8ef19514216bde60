// MysqlSession, what a client can tell from the server (issue #14), driven from bytes: the
// greeting carries the backend's version and extended capabilities, closed statements are
// closed on the backend, status flags of sluice's own packets follow the session, and under
// session pooling a backend the server closed is the client's loss too.
#include <gtest/gtest.h>

#include <algorithm>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "protocol/mysql/sha2_rsa.h"
#include "protocol/mysql/statement.h"
#include "tests/unit/mysql_session_fixture.h"

namespace sluice::mysqlproxy {
namespace {

std::string Command(uint8_t code, std::string_view body = {}) {
  return std::string(1, static_cast<char>(code)) + std::string(body);
}

std::string StmtCommand(uint8_t code, uint32_t id) {
  std::string p(1, static_cast<char>(code));
  mysql::Writer(&p).U32(id);
  return p;
}

class MysqlCompatTest : public MysqlSessionTest {
 protected:
  explicit MysqlCompatTest(bool seed_greeting = true) : MysqlSessionTest(seed_greeting) {}
  // Prepares text (no parameters, no columns) on backend 0 as backend id backend_id;
  // returns the client's statement id. login: backend 0 still has to log in.
  uint32_t Prepare(const std::string& text, uint32_t backend_id, bool login) {
    h_.client().Write(Packet(0, Command(mysql::COM_STMT_PREPARE, text)));
    if (login) ServerLogin(0);
    auto got = ServerGets(0, 1);
    EXPECT_EQ(got.size(), 1u);
    h_.server(0).Write(Packet(1, mysql::EncodePrepareOk(mysql::PrepareOk{backend_id, 0, 0, 0})));
    auto pk = ClientGets(1);
    auto ok = mysql::DecodePrepareOk(mysql::AsBytes(pk.at(0).second));
    EXPECT_TRUE(ok.ok());
    return ok.ok() ? ok->statement_id : 0;
  }
  uint16_t ClientOkStatus() {
    auto pk = ClientGets(1);
    auto ok = mysql::DecodeOk(mysql::AsBytes(pk.at(0).second), kClientCaps);
    EXPECT_TRUE(ok.ok());
    return ok.ok() ? ok->status_flags : 0xFFFF;
  }
  // sql runs on backend 0 (logged in first when login), which answers with answer; returns
  // the status flags of the OK the client gets.
  uint16_t Answered(std::string_view sql, const std::string& answer, bool login = false) {
    Query(sql);
    if (login) ServerLogin(0);
    ServerGets(0, 1);
    h_.server(0).Write(Packet(1, answer));
    return ClientOkStatus();
  }
  void UseSessionPooling() {
    h_.Publish([](Runtime* rt) { rt->clusters[0].pool_mode = PoolMode::kSession; });
  }
};

TEST_F(MysqlCompatTest, StmtCloseClosesTheBackendStatement) {
  LoggedIn();
  uint32_t id = Prepare("DO 1", 77, true);
  h_.client().Write(Packet(0, StmtCommand(mysql::COM_STMT_CLOSE, id)));
  auto got = ServerGets(0, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], StmtCommand(mysql::COM_STMT_CLOSE, 77));
}

TEST_F(MysqlCompatTest, AStatementAnotherClientUsesStaysOpen) {
  LoggedIn();
  uint32_t first = Prepare("DO 1", 77, true);
  uint32_t second = Prepare("DO 1", 78, false);  // same text: the connection replaces it
  auto got = ServerGets(0, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], StmtCommand(mysql::COM_STMT_CLOSE, 77));  // the displaced copy
  h_.client().Write(Packet(0, StmtCommand(mysql::COM_STMT_CLOSE, first)));
  h_.Settle();
  EXPECT_EQ(h_.server(0).TakeAll(), "");  // `second` still uses the text
  h_.client().Write(Packet(0, StmtCommand(mysql::COM_STMT_CLOSE, second)));
  got = ServerGets(0, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], StmtCommand(mysql::COM_STMT_CLOSE, 78));
}

// MariaDB connectors pipeline COM_STMT_PREPARE and a COM_STMT_EXECUTE of statement id
// 0xFFFFFFFF ("the statement prepared last"): the execute goes to the server with the id
// the server gave the prepare (it got 1243 "Unknown prepared statement handler" before).
TEST_F(MysqlCompatTest, PipelinedExecuteOfTheLastPreparedStatement) {
  LoggedIn();
  std::string exec_tail("\x00\x01\x00\x00\x00", 5);  // flags, iteration count 1
  h_.client().Write(
      Packet(0, Command(mysql::COM_STMT_PREPARE, "DO 1")) +
      Packet(0, StmtCommand(mysql::COM_STMT_EXECUTE, mysql::kLastPreparedStatement) + exec_tail));
  ServerLogin(0);
  ASSERT_EQ(ServerGets(0, 1).size(), 1u);
  h_.server(0).Write(Packet(1, mysql::EncodePrepareOk(mysql::PrepareOk{77, 0, 0, 0})));
  auto got = ServerGets(0, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], StmtCommand(mysql::COM_STMT_EXECUTE, 77) + exec_tail);
}

// After a failed prepare, 0xFFFFFFFF names no statement (as on the server), not the one
// prepared before it.
TEST_F(MysqlCompatTest, AfterAFailedPrepareTheLastStatementIsUnknown) {
  LoggedIn();
  Prepare("DO 1", 77, true);
  h_.client().Write(Packet(0, Command(mysql::COM_STMT_PREPARE, "DO nonsense(")));
  ASSERT_EQ(ServerGets(0, 1).size(), 1u);
  h_.server(0).Write(Packet(1, mysql::EncodeErr(mysql::ErrPacket{1064, "42000", "syntax"})));
  ASSERT_EQ(ClientGets(1).size(), 1u);
  h_.client().Write(Packet(0, StmtCommand(mysql::COM_STMT_EXECUTE, mysql::kLastPreparedStatement) +
                                  std::string("\x00\x01\x00\x00\x00", 5)));
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  auto err = mysql::DecodeErr(mysql::AsBytes(pk[0].second), kClientCaps);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->code, 1243);
  h_.Settle();
  EXPECT_EQ(h_.server(0).TakeAll(), "");
}

TEST_F(MysqlCompatTest, ADisconnectedClientsStatementsAreClosed) {
  LoggedIn();
  Prepare("DO 1", 77, true);
  Prepare("DO 2", 78, false);
  h_.client().Close();
  auto got = ServerGets(0, 2);
  ASSERT_EQ(got.size(), 2u);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got[0], StmtCommand(mysql::COM_STMT_CLOSE, 77));
  EXPECT_EQ(got[1], StmtCommand(mysql::COM_STMT_CLOSE, 78));
}

TEST_F(MysqlCompatTest, PingSaysAutocommitOffAfterSetAutocommit0) {
  LoggedIn();
  EXPECT_EQ(Answered("SET autocommit=0", Ok(0), true), 0);
  h_.client().Write(Packet(0, Command(mysql::COM_PING)));
  EXPECT_EQ(ClientOkStatus() & mysql::SERVER_STATUS_AUTOCOMMIT, 0);
}

TEST_F(MysqlCompatTest, PingInsideATransactionSaysInTrans) {
  LoggedIn();
  Answered("BEGIN", Ok(mysql::SERVER_STATUS_AUTOCOMMIT | mysql::SERVER_STATUS_IN_TRANS), true);
  h_.client().Write(Packet(0, Command(mysql::COM_PING)));
  EXPECT_EQ(ClientOkStatus(), mysql::SERVER_STATUS_AUTOCOMMIT | mysql::SERVER_STATUS_IN_TRANS);
  Answered("COMMIT", Ok());
  h_.client().Write(Packet(0, Command(mysql::COM_PING)));
  EXPECT_EQ(ClientOkStatus(), mysql::SERVER_STATUS_AUTOCOMMIT);
}

TEST_F(MysqlCompatTest, SessionPoolingBackendClosedWhileIdleClosesTheClient) {
  UseSessionPooling();
  LoggedIn();
  Answered("SET @x = 1", Ok(), true);
  // The server ends the connection and says why (MySQL 8 does at wait_timeout).
  h_.server(0).Write(Packet(0, mysql::MakeErr(mysql::ER_CONNECTION_KILLED)));
  h_.server(0).Close();
  auto& clients = h_.worker().shared()->cluster_counters[0]->client_connections;
  ASSERT_EQ(clients.load(), 1);
  std::string got;
  ASSERT_TRUE(h_.RunUntil([&] {
    got += h_.client().TakeAll();
    return clients.load() == 0 && !Packets(got).empty();  // the session closed
  }));
  auto pk = Packets(got);
  auto err = mysql::DecodeErr(mysql::AsBytes(pk.at(0).second), kClientCaps);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->code, mysql::ER_CONNECTION_KILLED.code);
  EXPECT_EQ(h_.dialed(), 1u);  // no silent reconnect
}

TEST_F(MysqlCompatTest, TransactionPoolingStillReconnectsAfterAnIdleLoss) {
  LoggedIn();
  Answered("SELECT 1", Ok(), true);
  h_.server(0).Close();  // wait_timeout on a pooled connection
  h_.Settle();
  Query("SELECT 2");
  ServerLogin(1);
  EXPECT_EQ(ServerGets(1, 1).size(), 1u);
}

// A MySQL 8 server whose caching_sha2 cache misses the user: sluice asks for its RSA key
// and sends the password encrypted under it (no TLS towards the backend).
TEST_F(MysqlCompatTest, CachingSha2FullAuthenticationTowardsTheBackendOverRsa) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  ASSERT_NE(key, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* pem_data = nullptr;
  long pem_len = BIO_get_mem_data(bio, &pem_data);
  std::string pem(pem_data, static_cast<size_t>(pem_len));
  BIO_free(bio);

  LoggedIn();
  Query("SELECT 1");
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() == 1; }));
  const std::string scramble = "abcdefghij0123456789";
  mysql::InitialHandshake hs;
  hs.server_version = "8.0.36";
  hs.connection_id = 5;
  hs.auth_plugin_data = scramble;
  hs.capabilities = kClientCaps | mysql::CLIENT_CONNECT_WITH_DB;
  hs.charset = 45;
  hs.auth_plugin_name = mysql::kCachingSha2Plugin;
  h_.server(0).Write(Packet(0, mysql::EncodeInitialHandshake(hs)));
  auto got = ServerGets(0, 1);  // the HandshakeResponse with the scramble token
  ASSERT_EQ(got.size(), 1u);
  h_.server(0).Write(Packet(2, std::string("\x01\x04", 2)));  // perform full authentication
  got = ServerGets(0, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], std::string(1, '\x02'));  // request public key
  h_.server(0).Write(Packet(4, "\x01" + pem));
  got = ServerGets(0, 1);
  ASSERT_EQ(got.size(), 1u);
  // The server decrypts: password NUL, XORed with the scramble.
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  ASSERT_EQ(EVP_PKEY_decrypt_init(ctx), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
  std::string plain(512, '\0');
  size_t len = plain.size();
  ASSERT_EQ(EVP_PKEY_decrypt(ctx, reinterpret_cast<unsigned char*>(plain.data()), &len,
                             reinterpret_cast<const unsigned char*>(got[0].data()), got[0].size()),
            1);
  plain.resize(len);
  for (size_t i = 0; i < plain.size(); ++i) plain[i] ^= scramble[i % scramble.size()];
  EXPECT_EQ(plain, std::string("app_pw\0", 7));
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(key);
  h_.server(0).Write(Packet(6, Ok()));
  got = ServerGets(0, 1);  // logged in: the client's statement follows
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], Command(mysql::COM_QUERY, "SELECT 1"));
  EXPECT_FALSE(mysql::Sha2RsaEncryptPassword("pw", mysql::AsBytes(scramble), "not a key").ok());
}

class MysqlGreetingTest : public MysqlCompatTest {
 protected:
  MysqlGreetingTest() : MysqlCompatTest(false) {}
};

TEST_F(MysqlGreetingTest, TheGreetingCarriesTheBackendsVersionAndExtendedMetadata) {
  auto* s = new MysqlSession(&h_.worker(), 0, h_.NewClient(), "10.9.9.9");
  s->Start();
  ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() == 1; }));  // the probe
  EXPECT_EQ(h_.server(0).address, "10.0.0.1");                 // the primary
  mysql::InitialHandshake hs;
  hs.server_version = "5.5.5-10.11.6-MariaDB-log";
  hs.connection_id = 9;
  hs.auth_plugin_data = std::string(20, 'x');
  hs.capabilities = (kClientCaps & ~mysql::CLIENT_MYSQL) | mysql::MARIADB_CLIENT_EXTENDED_METADATA |
                    mysql::MARIADB_CLIENT_PROGRESS;
  hs.charset = 45;
  hs.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT;
  hs.auth_plugin_name = mysql::kNativePasswordPlugin;
  h_.server(0).Write(Packet(0, mysql::EncodeInitialHandshake(hs)));
  auto pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  auto got = mysql::DecodeInitialHandshake(mysql::AsBytes(pk[0].second));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->server_version, "5.5.5-10.11.6-MariaDB-log");
  EXPECT_EQ(got->capabilities & mysql::CLIENT_MYSQL, 0u);
  EXPECT_NE(got->capabilities & mysql::MARIADB_CLIENT_EXTENDED_METADATA, 0u);
  EXPECT_EQ(got->capabilities & mysql::MARIADB_CLIENT_PROGRESS, 0u);  // not passed through
  // The next client is greeted from the worker's memory, without a probe.
  auto* s2 = new MysqlSession(&h_.worker(), 0, h_.NewClient(), "10.9.9.9");
  s2->Start();
  pk = ClientGets(1);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_EQ(mysql::DecodeInitialHandshake(mysql::AsBytes(pk[0].second))->server_version,
            "5.5.5-10.11.6-MariaDB-log");
  EXPECT_EQ(h_.dialed(), 1u);
}

}  // namespace
}  // namespace sluice::mysqlproxy
