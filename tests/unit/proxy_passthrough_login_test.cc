// The client logins' passthrough path from bytes (proxy/mysql/client_login, proxy/pgsql/startup)
// with scripted callbacks: the login waits for the lookup without answering, then checks the
// client's proof against the stored verifier and hands over what the backend login needs
// (MySQL SHA1(pw), PostgreSQL ClientKey + ServerKey); a wrong password, an unknown user and a
// failed lookup get the protocol's usual error.
#include <event2/buffer.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "health/auth_lookup.h"
#include "protocol/mysql/auth.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/handshake.h"
#include "protocol/mysql/wire.h"
#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/md5.h"
#include "protocol/pgsql/message.h"
#include "protocol/pgsql/scram.h"
#include "protocol/pgsql/startup.h"
#include "proxy/mysql/client_login.h"
#include "proxy/mysql/packet_io.h"
#include "proxy/pgsql/startup.h"

namespace sluice {
namespace {

using health::AuthAnswer;

struct Buf {
  Buf() : b(evbuffer_new()) {}
  ~Buf() { evbuffer_free(b); }
  std::string Take() {
    std::string s(evbuffer_get_length(b), '\0');
    evbuffer_remove(b, s.data(), s.size());
    return s;
  }
  void Add(const std::string& s) { evbuffer_add(b, s.data(), s.size()); }
  evbuffer* b;
};

AuthAnswer Found(std::string plugin, std::string verifier) {
  AuthAnswer a;
  a.kind = AuthAnswer::Kind::kFound;
  a.stored = {std::move(plugin), std::move(verifier)};
  return a;
}

// ---- MySQL --------------------------------------------------------------------------------

class FakeMysqlLogin : public mysqlproxy::MysqlClientLogin::Callbacks {
 public:
  const User* FindLoginUser(const std::string&) override { return nullptr; }
  bool Sha2Cached(const std::string&) override { return false; }
  void NoteSha2(const std::string&) override {}
  bool LookupEnabled() override { return true; }
  bool LookupUser(const std::string& name) override {
    lookups.push_back(name);
    return !busy;
  }
  void OnPassthroughLogin(std::string v, std::string secret) override {
    verifier = std::move(v);
    proven = std::move(secret);
  }
  void OnTlsRequested() override {}
  void OnLoginAccepted() override { accepted = true; }
  void OnLoginFailed(bool r) override {
    failed = true;
    refused = r;
  }
  std::vector<std::string> lookups;
  std::string verifier, proven;
  bool busy = false, accepted = false, failed = false, refused = false;
};

constexpr uint64_t kCaps =
    mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_SECURE_CONNECTION | mysql::CLIENT_PLUGIN_AUTH;

// One MySQL packet's payload off the front of WIRE.
std::string Payload(std::string* wire) {
  EXPECT_GE(wire->size(), 4u);
  size_t len = uint8_t((*wire)[0]) | uint8_t((*wire)[1]) << 8 | uint8_t((*wire)[2]) << 16;
  std::string p = wire->substr(4, len);
  wire->erase(0, 4 + len);
  return p;
}

class MysqlPassthroughTest : public ::testing::Test {
 protected:
  // Greets, answers with PLUGIN's token for PASSWORD; returns what sluice wrote back.
  std::string Login(const std::string& plugin, const std::string& password) {
    login_->SendGreeting(out_.b, "10.11.0-MariaDB", kCaps, 2);
    std::string wire = out_.Take();
    auto hs = mysql::DecodeInitialHandshake(mysql::AsBytes(Payload(&wire)));
    EXPECT_TRUE(hs.ok());
    scramble_ = hs->auth_plugin_data.substr(0, mysql::kScrambleSize);
    mysql::HandshakeResponse r;
    r.capabilities = kCaps;
    r.max_packet_size = 1 << 24;
    r.charset = 45;
    r.user = "app";
    r.auth_plugin_name = plugin;
    r.auth_response = plugin == mysql::kNativePasswordPlugin
                          ? mysql::NativeToken(password, mysql::AsBytes(scramble_))
                          : mysql::CachingSha2Token(password, mysql::AsBytes(scramble_));
    uint8_t seq = 1;
    mysqlproxy::WritePacket(in_.b, &seq, mysql::EncodeHandshakeResponse(r));
    login_->OnClientData(in_.b, out_.b, false, false);
    return out_.Take();
  }
  uint16_t ErrCode(std::string wire) {
    std::string p = Payload(&wire);
    EXPECT_EQ(uint8_t(p[0]), 0xFF);
    return uint8_t(p[1]) | uint8_t(p[2]) << 8;
  }

  void Reset() {
    cb_ = FakeMysqlLogin{};
    login_ = std::make_unique<mysqlproxy::MysqlClientLogin>(&cb_, 7, kCaps, "127.0.0.1");
  }

  FakeMysqlLogin cb_;
  std::unique_ptr<mysqlproxy::MysqlClientLogin> login_ =
      std::make_unique<mysqlproxy::MysqlClientLogin>(&cb_, 7, kCaps, "127.0.0.1");
  Buf in_, out_;
  std::string scramble_;
  std::string stored_ = mysql::FormatNativeVerifier(mysql::DoubleSha1("s3cret"));
};

TEST_F(MysqlPassthroughTest, WaitsForTheLookupThenProvesAndRecoversSha1) {
  EXPECT_EQ(Login(mysql::kNativePasswordPlugin, "s3cret"), "");  // nothing until the answer
  EXPECT_EQ(cb_.lookups, std::vector<std::string>{"app"});
  EXPECT_TRUE(login_->active());
  login_->OnLookupAnswer(Found("mysql_native_password", stored_), out_.b);
  EXPECT_TRUE(cb_.accepted);
  EXPECT_EQ(cb_.verifier, stored_);
  mysql::Sha1Digest sha1 = mysql::Sha1(mysql::AsBytes(std::string("s3cret")));
  EXPECT_EQ(cb_.proven, std::string(sha1.begin(), sha1.end()));
  EXPECT_EQ(out_.Take(), "");  // the session writes the OK (schema check first)
}

TEST_F(MysqlPassthroughTest, WrongPasswordUnknownUserAndFailedLookupAre1045) {
  Login(mysql::kNativePasswordPlugin, "wrong");
  login_->OnLookupAnswer(Found("mysql_native_password", stored_), out_.b);
  EXPECT_EQ(ErrCode(out_.Take()), 1045);
  EXPECT_TRUE(cb_.failed && cb_.refused);
  EXPECT_EQ(cb_.proven, "");

  for (AuthAnswer::Kind k : {AuthAnswer::Kind::kNotFound, AuthAnswer::Kind::kFailed}) {
    Reset();
    Login(mysql::kNativePasswordPlugin, "s3cret");
    AuthAnswer a;
    a.kind = k;
    a.error = "server down";
    login_->OnLookupAnswer(a, out_.b);
    EXPECT_EQ(ErrCode(out_.Take()), 1045);
    EXPECT_FALSE(cb_.accepted);
    EXPECT_TRUE(cb_.refused);
  }
}

TEST_F(MysqlPassthroughTest, OtherPluginsAreSwitchedToNativeAndOtherVerifiersRefused) {
  std::string wire = Login(mysql::kCachingSha2Plugin, "s3cret");
  std::string p = Payload(&wire);
  ASSERT_EQ(uint8_t(p[0]), 0xFE);  // auth switch
  EXPECT_EQ(p.substr(1, strlen(mysql::kNativePasswordPlugin)), mysql::kNativePasswordPlugin);
  EXPECT_TRUE(cb_.lookups.empty());
  uint8_t seq = 3;
  mysqlproxy::WritePacket(in_.b, &seq, mysql::NativeToken("s3cret", mysql::AsBytes(scramble_)));
  login_->OnClientData(in_.b, out_.b, false, false);
  EXPECT_EQ(cb_.lookups, std::vector<std::string>{"app"});
  // An ed25519 user cannot pass through: refused, not accepted.
  login_->OnLookupAnswer(Found("ed25519", "abc"), out_.b);
  EXPECT_EQ(ErrCode(out_.Take()), 1045);
  EXPECT_FALSE(cb_.accepted);
}

TEST_F(MysqlPassthroughTest, TooManyPendingLookupsIs1040) {
  cb_.busy = true;
  EXPECT_EQ(ErrCode(Login(mysql::kNativePasswordPlugin, "s3cret")), 1040);
  EXPECT_TRUE(cb_.failed);
}

// ---- PostgreSQL ---------------------------------------------------------------------------

class FakePgStartup : public pgproxy::PgStartup::Callbacks {
 public:
  bool OverClientLimit() override { return false; }
  const User* FindLoginUser(const std::string&) override { return nullptr; }
  bool LookupEnabled() override { return true; }
  bool LookupUser(const std::string& name) override {
    lookups.push_back(name);
    return true;
  }
  void OnPassthroughLogin(std::string v, std::string secret) override {
    verifier = std::move(v);
    proven = std::move(secret);
  }
  bool TlsAvailable() override { return false; }
  void OnTlsRequested() override {}
  void OnCancelRequest(int32_t, uint32_t) override {}
  void OnAuthenticated() override { authenticated = true; }
  void OnStartupFailed(bool r) override {
    failed = true;
    refused = r;
  }
  std::vector<std::string> lookups;
  std::string verifier, proven;
  bool authenticated = false, failed = false, refused = false;
};

// One backend message (type, payload) off the front of WIRE.
std::pair<char, std::string> Message(std::string* wire) {
  EXPECT_GE(wire->size(), 5u);
  char type = (*wire)[0];
  uint32_t len = uint8_t((*wire)[1]) << 24 | uint8_t((*wire)[2]) << 16 | uint8_t((*wire)[3]) << 8 |
                 uint8_t((*wire)[4]);
  std::string p = wire->substr(5, len - 4);
  wire->erase(0, 1 + len);
  return {type, p};
}

class PgPassthroughTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto v = pgsql::MakeVerifierWithRandomSalt("s3cret", 1000);
    ASSERT_TRUE(v.ok());
    verifier_ = *v;
    stored_ = pgsql::FormatVerifier(*v);
    pgsql::StartupMessage m;
    m.params = {{"user", "app"}, {"database", "db"}};
    std::string wire;
    pgsql::AppendStartupMessage(&wire, m);
    in_.Add(wire);
    startup_.OnClientData(in_.b, out_.b, false);
  }
  // Runs the SCRAM exchange with PASSWORD after the lookup answered; the last message.
  std::pair<char, std::string> Scram(const std::string& password) {
    std::string wire = out_.Take();
    auto [type, p] = Message(&wire);
    EXPECT_EQ(type, 'R');
    auto auth = pgsql::DecodeAuthentication(pgsql::AsBytes(p));
    EXPECT_TRUE(auth.ok());
    EXPECT_EQ(auth->code, pgsql::kAuthSasl);
    auto client = pgsql::ScramClientSession::FromPassword(password);
    std::string msg;
    pgsql::AppendSaslInitialResponse(&msg, pgsql::kScramSha256, *client.ClientFirst());
    in_.Add(msg);
    startup_.OnClientData(in_.b, out_.b, false);
    wire = out_.Take();
    std::tie(type, p) = Message(&wire);
    auth = pgsql::DecodeAuthentication(pgsql::AsBytes(p));
    EXPECT_TRUE(auth.ok());
    EXPECT_EQ(auth->code, pgsql::kAuthSaslContinue);
    msg.clear();
    pgsql::AppendSaslResponse(&msg, *client.ClientFinal(pgsql::AsStringView(auth->data)));
    in_.Add(msg);
    startup_.OnClientData(in_.b, out_.b, false);
    wire = out_.Take();
    std::pair<char, std::string> last;
    while (!wire.empty()) last = Message(&wire);
    return last;
  }

  FakePgStartup cb_;
  pgproxy::PgStartup startup_{&cb_};
  Buf in_, out_;
  pgsql::ScramVerifier verifier_;
  std::string stored_;
};

TEST_F(PgPassthroughTest, WaitsForTheLookupThenKeepsTheClientKey) {
  EXPECT_EQ(cb_.lookups, std::vector<std::string>{"app"});
  EXPECT_EQ(out_.Take(), "");  // no authentication request before the answer
  startup_.OnLookupAnswer(Found("", stored_), in_.b, out_.b);
  auto last = Scram("s3cret");
  EXPECT_EQ(last.first, 'R');
  EXPECT_TRUE(cb_.authenticated);
  EXPECT_EQ(cb_.verifier, stored_);
  auto keys = pgsql::DeriveScramKeys("s3cret", verifier_.salt, verifier_.iterations);
  ASSERT_TRUE(keys.ok());
  std::string want(keys->client_key.begin(), keys->client_key.end());
  want.append(keys->server_key.begin(), keys->server_key.end());
  EXPECT_EQ(cb_.proven, want);
}

TEST_F(PgPassthroughTest, WrongPasswordIs28P01) {
  startup_.OnLookupAnswer(Found("", stored_), in_.b, out_.b);
  auto last = Scram("wrong");
  EXPECT_EQ(last.first, 'E');
  EXPECT_NE(last.second.find("28P01"), std::string::npos);
  EXPECT_TRUE(cb_.failed && cb_.refused);
  EXPECT_EQ(cb_.proven, "");
}

TEST_F(PgPassthroughTest, AnUnknownUserGoesThroughScramAndIsRefusedAtItsEnd) {
  AuthAnswer a;
  a.kind = AuthAnswer::Kind::kNotFound;
  startup_.OnLookupAnswer(a, in_.b, out_.b);
  auto last = Scram("s3cret");
  EXPECT_EQ(last.first, 'E');
  EXPECT_NE(last.second.find("28P01"), std::string::npos);
  EXPECT_FALSE(cb_.authenticated);
}

TEST_F(PgPassthroughTest, AFailedLookupIs08006) {
  AuthAnswer a;
  a.error = "server down";
  startup_.OnLookupAnswer(a, in_.b, out_.b);
  std::string wire = out_.Take();
  auto [type, p] = Message(&wire);
  EXPECT_EQ(type, 'E');
  EXPECT_NE(p.find("08006"), std::string::npos);
  EXPECT_NE(p.find("could not look up user"), std::string::npos);
  EXPECT_TRUE(cb_.failed);
}

TEST_F(PgPassthroughTest, Md5VerifiersPassThrough) {
  std::string hash = pgsql::Md5PasswordHash("app", "s3cret");
  startup_.OnLookupAnswer(Found("", hash), in_.b, out_.b);
  std::string wire = out_.Take();
  auto [type, p] = Message(&wire);
  auto auth = pgsql::DecodeAuthentication(pgsql::AsBytes(p));
  ASSERT_TRUE(auth.ok());
  ASSERT_EQ(auth->code, pgsql::kAuthMd5Password);
  auto salt = pgsql::DecodeMd5Salt(auth->data);
  ASSERT_TRUE(salt.ok());
  std::string msg;
  pgsql::AppendPasswordMessage(&msg, pgsql::Md5Password("app", "s3cret", *salt));
  in_.Add(msg);
  startup_.OnClientData(in_.b, out_.b, false);
  EXPECT_TRUE(cb_.authenticated);
  EXPECT_EQ(cb_.proven, hash);  // the hash answers the backend's md5 challenge
}

}  // namespace
}  // namespace sluice
