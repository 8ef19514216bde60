// SCRAM-SHA-256 (verifiers, server and client sessions) and MD5 passwords of protocol/pgsql.

#include <gtest/gtest.h>

#include <string>

#include "protocol/pgsql/md5.h"
#include "protocol/pgsql/message.h"
#include "protocol/pgsql/saslprep.h"
#include "protocol/pgsql/scram.h"

namespace sluice::pgsql {
namespace {

// RFC 7677 section 3: user "user", password "pencil".
constexpr std::string_view kRfcClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kRfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kRfcSaltB64 = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr std::string_view kRfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kRfcServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kRfcClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kRfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

ScramVerifier RfcVerifier() {
  auto salt = Base64Decode(kRfcSaltB64);
  EXPECT_TRUE(salt.ok());
  auto v = MakeVerifier("pencil", *salt, 4096);
  EXPECT_TRUE(v.ok());
  return *v;
}

TEST(PgsqlScramTest, Rfc7677VectorClientSide) {
  ScramClientSession c = ScramClientSession::FromPassword("pencil");
  c.set_user("user");
  c.set_client_nonce(std::string(kRfcClientNonce));
  auto first = c.ClientFirst();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, kRfcClientFirst);
  auto final_msg = c.ClientFinal(kRfcServerFirst);
  ASSERT_TRUE(final_msg.ok()) << final_msg.status().message();
  EXPECT_EQ(*final_msg, kRfcClientFinal);
  EXPECT_TRUE(c.VerifyServerFinal(kRfcServerFinal).ok());
}

TEST(PgsqlScramTest, Rfc7677VectorServerSide) {
  ScramServerSession s(RfcVerifier());
  s.set_server_nonce(std::string(kRfcServerNonce));
  auto first = s.ServerFirst(kRfcClientFirst);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(*first, kRfcServerFirst);
  EXPECT_FALSE(s.authenticated());
  auto final_msg = s.ServerFinal(kRfcClientFinal);
  ASSERT_TRUE(final_msg.ok()) << final_msg.status().message();
  EXPECT_EQ(*final_msg, kRfcServerFinal);
  EXPECT_TRUE(s.authenticated());
  auto keys = DeriveScramKeys("pencil", *Base64Decode(kRfcSaltB64), 4096);
  ASSERT_TRUE(s.client_key().has_value());
  EXPECT_EQ(*s.client_key(), keys->client_key);
}

// The RFC 7677 user's verifier in pg_authid's text form (computed independently with Python's
// hashlib.pbkdf2_hmac and hmac), as an operator would paste it from SELECT rolpassword.
constexpr std::string_view kRfcVerifierText =
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

TEST(PgsqlScramTest, ServerExchangeFromAParsedVerifierOnly) {
  auto v = ParseVerifier(kRfcVerifierText);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(FormatVerifier(*v), kRfcVerifierText);
  ScramServerSession s(*v);
  s.set_server_nonce(std::string(kRfcServerNonce));
  auto first = s.ServerFirst(kRfcClientFirst);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(*first, kRfcServerFirst);
  auto final_msg = s.ServerFinal(kRfcClientFinal);
  ASSERT_TRUE(final_msg.ok()) << final_msg.status().message();
  EXPECT_EQ(*final_msg, kRfcServerFinal);
  EXPECT_TRUE(s.authenticated());

  // A wrong password against the same stored verifier is refused as 28P01.
  ScramServerSession s2(*v);
  ScramClientSession c = ScramClientSession::FromPassword("pencil2");
  auto cf = c.ClientFirst();
  ASSERT_TRUE(cf.ok());
  auto sf = s2.ServerFirst(*cf);
  ASSERT_TRUE(sf.ok());
  auto cfin = c.ClientFinal(*sf);
  ASSERT_TRUE(cfin.ok());
  auto sfin = s2.ServerFinal(*cfin);
  ASSERT_FALSE(sfin.ok());
  EXPECT_EQ(sfin.status().code(), StatusCode::kPermissionDenied);
}

TEST(PgsqlScramTest, ClientRejectsForgedServerSignature) {
  ScramClientSession c = ScramClientSession::FromPassword("pencil");
  c.set_user("user");
  c.set_client_nonce(std::string(kRfcClientNonce));
  ASSERT_TRUE(c.ClientFirst().ok());
  ASSERT_TRUE(c.ClientFinal(kRfcServerFirst).ok());
  const Status bad = c.VerifyServerFinal("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  EXPECT_EQ(bad.code(), StatusCode::kPermissionDenied);
  const Status err = c.VerifyServerFinal("e=invalid-proof");
  EXPECT_EQ(err.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(err.message().find("invalid-proof"), std::string::npos);
  EXPECT_FALSE(c.VerifyServerFinal("x").ok());
}

TEST(PgsqlScramTest, ClientRejectsNonceThatDoesNotExtendOurs) {
  ScramClientSession c = ScramClientSession::FromPassword("pencil");
  c.set_client_nonce("abc");
  ASSERT_TRUE(c.ClientFirst().ok());
  EXPECT_FALSE(c.ClientFinal("r=xyzdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096").ok());
  EXPECT_FALSE(c.ClientFinal("r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096").ok());  // not extended
  EXPECT_FALSE(c.ClientFinal("r=abcdef,s=!!!!,i=4096").ok());
  EXPECT_FALSE(c.ClientFinal("r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0").ok());
  EXPECT_FALSE(c.ClientFinal("m=ext,r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1").ok());
}

// Runs a whole exchange with random nonces; returns the server's status at the end.
Status Exchange(ScramClientSession* c, ScramServerSession* s) {
  auto cf = c->ClientFirst();
  if (!cf.ok()) return cf.status();
  auto sf = s->ServerFirst(*cf);
  if (!sf.ok()) return sf.status();
  auto cfin = c->ClientFinal(*sf);
  if (!cfin.ok()) return cfin.status();
  auto sfin = s->ServerFinal(*cfin);
  if (!sfin.ok()) return sfin.status();
  return c->VerifyServerFinal(*sfin);
}

TEST(PgsqlScramTest, WrongPasswordIsPermissionDenied) {
  auto v = MakeVerifierWithRandomSalt("right");
  ASSERT_TRUE(v.ok());
  ScramServerSession s(*v);
  ScramClientSession c = ScramClientSession::FromPassword("wrong");
  const Status st = Exchange(&c, &s);
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st.message();
  EXPECT_FALSE(s.authenticated());
  EXPECT_FALSE(s.client_key().has_value());
}

TEST(PgsqlScramTest, PassthroughLogsInWithRecoveredClientKey) {
  auto v = MakeVerifierWithRandomSalt("s3cret", 1000);
  ASSERT_TRUE(v.ok());
  ScramServerSession proxy_side(*v);
  ScramClientSession app = ScramClientSession::FromPassword("s3cret");
  ASSERT_TRUE(Exchange(&app, &proxy_side).ok());
  ASSERT_TRUE(proxy_side.client_key().has_value());

  // The backend holds the same verifier; the proxy has no plaintext, only the keys.
  ScramServerSession backend(*v);
  ScramClientSession proxy =
      ScramClientSession::FromKeys(*proxy_side.client_key(), proxy_side.verifier().server_key);
  EXPECT_TRUE(Exchange(&proxy, &backend).ok());
  EXPECT_TRUE(backend.authenticated());
}

// Passthrough from pg_authid's text (what auth_query returns), and md5's pass-the-hash: the
// stored hash alone checks a client's answer and answers a server's challenge.
TEST(PgsqlScramTest, PassthroughFromTheStoredTexts) {
  auto made = MakeVerifierWithRandomSalt("s3cret");
  ASSERT_TRUE(made.ok());
  auto parsed = ParseVerifier(FormatVerifier(*made));
  ASSERT_TRUE(parsed.ok());
  ScramServerSession proxy_side(*parsed);
  ScramClientSession app = ScramClientSession::FromPassword("s3cret");
  ASSERT_TRUE(Exchange(&app, &proxy_side).ok());
  ScramServerSession backend(*made);
  ScramClientSession proxy =
      ScramClientSession::FromKeys(*proxy_side.client_key(), proxy_side.verifier().server_key);
  EXPECT_TRUE(Exchange(&proxy, &backend).ok());
  ScramServerSession wrong_side(*parsed);
  ScramClientSession wrong = ScramClientSession::FromPassword("wrong");
  EXPECT_FALSE(Exchange(&wrong, &wrong_side).ok());
  EXPECT_FALSE(wrong_side.client_key().has_value());

  std::string hash = Md5PasswordHash("app", "s3cret");
  std::array<uint8_t, 4> salt{1, 2, 3, 4};
  auto answer = Md5PasswordFromHash(hash, salt);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(*answer, Md5Password("app", "s3cret", salt));
  EXPECT_NE(*answer, Md5Password("app", "wrong", salt));
}

TEST(PgsqlScramTest, RandomNoncesDiffer) {
  ScramClientSession a = ScramClientSession::FromPassword("x");
  ScramClientSession b = ScramClientSession::FromPassword("x");
  auto fa = a.ClientFirst();
  auto fb = b.ClientFirst();
  ASSERT_TRUE(fa.ok() && fb.ok());
  EXPECT_NE(*fa, *fb);
  EXPECT_EQ(fa->substr(0, 8), "n,,n=,r=");
  EXPECT_EQ(fa->size(), 8u + 24u);  // 18 raw bytes in base64
}

TEST(PgsqlScramTest, ServerRefusesChannelBindingAuthzidAndExtensions) {
  const ScramVerifier v = RfcVerifier();
  const std::string_view bad[] = {
      "p=tls-server-end-point,,n=,r=abc",
      "n,a=admin,n=,r=abc",
      "n,,m=ext,n=,r=abc",
      "x,,n=,r=abc",
      "n,,r=abc",
      "n,,n=,r=",
      "n,,n=,r=a b",
      "n,,n=,r=abc,bad",
      "",
  };
  for (std::string_view msg : bad) {
    ScramServerSession s(v);
    auto r = s.ServerFirst(msg);
    EXPECT_FALSE(r.ok()) << msg;
    EXPECT_EQ(r.status().code(), StatusCode::kProtocolError) << msg;
  }
}

TEST(PgsqlScramTest, ServerAcceptsYFlagAndChecksItsBinding) {
  const ScramVerifier v = RfcVerifier();
  ScramServerSession s(v);
  s.set_server_nonce("SRV");
  ASSERT_TRUE(s.ServerFirst("y,,n=,r=CLI").ok());
  // c=biws is base64("n,,"): the header does not match "y,,".
  auto wrong = s.ServerFinal("c=biws,r=CLISRV,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  EXPECT_EQ(wrong.status().code(), StatusCode::kProtocolError);
  // And the session is over after an error.
  ScramServerSession s2(v);
  s2.set_server_nonce("SRV");
  ASSERT_TRUE(s2.ServerFirst("y,,n=,r=CLI").ok());
  auto right = s2.ServerFinal("c=eSws,r=CLISRV,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  EXPECT_EQ(right.status().code(), StatusCode::kPermissionDenied);  // binding ok, proof not
}

TEST(PgsqlScramTest, ServerRejectsBadFinalMessages) {
  const ScramVerifier v = RfcVerifier();
  const std::string_view bad[] = {
      "c=biws,r=CLISRV",                                                 // no proof
      "c=biws,r=CLIXXX,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",  // nonce
      "r=CLISRV,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",         // no c=
      "c=biws,r=CLISRV,p=AAAA",                                          // short proof
      "c=biws,r=CLISRV,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",   // bad base64
  };
  for (std::string_view msg : bad) {
    ScramServerSession s(v);
    s.set_server_nonce("SRV");
    ASSERT_TRUE(s.ServerFirst("n,,n=,r=CLI").ok());
    EXPECT_EQ(s.ServerFinal(msg).status().code(), StatusCode::kProtocolError) << msg;
  }
  ScramServerSession fresh(v);
  EXPECT_FALSE(fresh.ServerFinal(kRfcClientFinal).ok());  // final before first
}

TEST(PgsqlScramTest, VerifierFormatRoundTrip) {
  const ScramVerifier v = RfcVerifier();
  const std::string text = FormatVerifier(v);
  EXPECT_TRUE(text.starts_with("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")) << text;
  auto parsed = ParseVerifier(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->iterations, 4096);
  EXPECT_EQ(parsed->salt, v.salt);
  EXPECT_EQ(parsed->stored_key, v.stored_key);
  EXPECT_EQ(parsed->server_key, v.server_key);
  EXPECT_EQ(FormatVerifier(*parsed), text);
}

TEST(PgsqlScramTest, ParseVerifierRejectsJunk) {
  const std::string good = FormatVerifier(RfcVerifier());
  EXPECT_TRUE(ParseVerifier(good).ok());
  EXPECT_FALSE(ParseVerifier("md5abcdef").ok());
  EXPECT_FALSE(ParseVerifier("SCRAM-SHA-256$").ok());
  EXPECT_FALSE(ParseVerifier("SCRAM-SHA-256$0:" + good.substr(19)).ok());
  EXPECT_FALSE(ParseVerifier(good.substr(0, good.size() - 4)).ok());  // short ServerKey
  EXPECT_FALSE(ParseVerifier("SCRAM-SHA-256$4096:$AAAA:AAAA").ok());
}

TEST(PgsqlScramTest, Base64IsStrict) {
  EXPECT_EQ(*Base64Decode("biws"), "n,,");
  EXPECT_EQ(*Base64Decode("eQ=="), "y");
  EXPECT_EQ(*Base64Decode("eSw="), "y,");
  EXPECT_EQ(*Base64Decode(""), "");
  EXPECT_FALSE(Base64Decode("eQ=").ok());
  EXPECT_FALSE(Base64Decode("e===").ok());
  EXPECT_FALSE(Base64Decode("e=Q=").ok());
  EXPECT_FALSE(Base64Decode("bi s").ok());
  EXPECT_FALSE(Base64Decode("bi\nw").ok());
  EXPECT_EQ(Base64Encode(AsBytes("n,,")), "biws");
}

// Expected values computed independently with /usr/bin/python3:
//   inner = hashlib.md5(b'secret' + b'alice').hexdigest()
//   'md5' + inner                                                  -> stored hash
//   'md5' + hashlib.md5(inner.encode() + bytes([1, 2, 3, 4])).hexdigest() -> salted answer
TEST(PgsqlMd5Test, MatchesIndependentlyComputedValues) {
  EXPECT_EQ(Md5PasswordHash("alice", "secret"), "md54a0a68b43b6cd5cf266fa02f196e2371");
  EXPECT_EQ(Md5Password("alice", "secret", {1, 2, 3, 4}), "md598a0412b9c31436fc53776e863350083");
  auto from_hash = Md5PasswordFromHash("md54a0a68b43b6cd5cf266fa02f196e2371", {1, 2, 3, 4});
  ASSERT_TRUE(from_hash.ok());
  EXPECT_EQ(*from_hash, "md598a0412b9c31436fc53776e863350083");
  EXPECT_FALSE(Md5PasswordFromHash("md5xyz", {1, 2, 3, 4}).ok());
  EXPECT_FALSE(Md5PasswordFromHash("SCRAM-SHA-256$4096:aa", {1, 2, 3, 4}).ok());
}

// RFC 4013 section 3's examples; where the RFC says "error", PostgreSQL hashes the raw
// bytes, and so does sluice.
TEST(PgsqlSaslPrepTest, Rfc4013Examples) {
  EXPECT_EQ(SaslPrepOrRaw("I\u00ADX"), "IX");  // SOFT HYPHEN mapped to nothing
  EXPECT_EQ(SaslPrepOrRaw("user"), "user");
  EXPECT_EQ(SaslPrepOrRaw("USER"), "USER");                  // no case folding
  EXPECT_EQ(SaslPrepOrRaw("\u00AA"), "a");                   // NFKC
  EXPECT_EQ(SaslPrepOrRaw("\u2168"), "IX");                  // NFKC
  EXPECT_EQ(SaslPrepOrRaw("\u0007"), "\u0007");              // prohibited: raw
  EXPECT_EQ(SaslPrepOrRaw("\u0627\u0031"), "\u0627\u0031");  // bidi check fails: raw
}

TEST(PgsqlSaslPrepTest, MapsSpacesNormalisesAndFallsBackOnBadInput) {
  EXPECT_EQ(SaslPrepOrRaw("a\u00A0b"), "a b");                  // NO-BREAK SPACE -> SPACE
  EXPECT_EQ(SaslPrepOrRaw("pa\u0308sswort"), "p\u00E4sswort");  // composed by NFKC
  EXPECT_EQ(SaslPrepOrRaw("\u00E4\u200D"), "\u00E4");           // ZERO WIDTH JOINER removed
  // ZERO WIDTH SPACE is in both tables; the space mapping comes first (PostgreSQL agrees).
  EXPECT_EQ(SaslPrepOrRaw("\u00E4\u200B"), "\u00E4 ");
  const std::string invalid_utf8("\xC3\x28pw", 4);
  EXPECT_EQ(SaslPrepOrRaw(invalid_utf8), invalid_utf8);
  EXPECT_EQ(SaslPrepOrRaw("\u00AD"), "\u00AD");  // empty once prepared: raw
  EXPECT_EQ(SaslPrepOrRaw(""), "");
}

// The verifier is computed over the prepared password: two spellings that SASLprep makes
// equal give the same keys (libpq prepares what the user typed the same way).
TEST(PgsqlSaslPrepTest, VerifierUsesThePreparedPassword) {
  auto a = MakeVerifier("I\u00ADX\u2168", "saltsaltsaltsalt");
  auto b = MakeVerifier("IXIX", "saltsaltsaltsalt");
  auto raw = MakeVerifier("\u0007x", "saltsaltsaltsalt");
  auto raw_again = MakeVerifier("\u0007x", "saltsaltsaltsalt");
  ASSERT_TRUE(a.ok() && b.ok() && raw.ok() && raw_again.ok());
  EXPECT_EQ(FormatVerifier(*a), FormatVerifier(*b));
  EXPECT_EQ(FormatVerifier(*raw), FormatVerifier(*raw_again));
}

}  // namespace
}  // namespace sluice::pgsql
