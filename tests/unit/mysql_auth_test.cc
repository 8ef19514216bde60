// mysql_native_password and caching_sha2_password arithmetic against independently computed
// vectors, and the shape of generated scrambles.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "protocol/mysql/auth.h"
#include "protocol/mysql/login_token.h"
#include "protocol/mysql/wire.h"

namespace sluice::mysql {
namespace {

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

template <size_t N>
std::string Str(const std::array<uint8_t, N>& a) {
  return std::string(AsStringView(a));
}

// Vectors produced with /usr/bin/python3 hashlib, password "secret", scramble bytes 0x01..0x14:
//   s1 = sha1(pw); s2 = sha1(s1); native = s1 XOR sha1(scramble + s2)
//   h1 = sha256(pw); h2 = sha256(h1); sha2 = h1 XOR sha256(h2 + scramble)
// s2 is also MySQL's PASSWORD('secret') = *14E65567ABDB5135D0CFD9A70B3032C179A49EE7.
constexpr char kSha1[] = "e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4";
constexpr char kDoubleSha1[] = "14e65567abdb5135d0cfd9a70b3032c179a49ee7";
constexpr char kNative[] = "b32bb3a583e1340c0a1108d58b1be49781ad8c2f";
constexpr char kSha256[] = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
constexpr char kDoubleSha256[] = "3881219d087dd9c634373fd33dfa33a2cb6bfc6c520b64b8bb60ef2ceb534ae7";
constexpr char kSha2Token[] = "746ebe205d56a0707acb3e796e834e0dd7b1d61743b26bd5202c7a623230c7c9";

Scramble TestScramble() {
  Scramble s{};
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(i + 1);
  return s;
}

TEST(MysqlAuth, NativePasswordVectors) {
  Scramble s = TestScramble();
  EXPECT_EQ(Str(Sha1(AsBytes("secret"))), FromHex(kSha1));
  EXPECT_EQ(Str(DoubleSha1("secret")), FromHex(kDoubleSha1));
  EXPECT_EQ(NativeToken("secret", s), FromHex(kNative));
  EXPECT_EQ(NativeToken("", s), "");
  Sha1Digest sha1{};
  std::string raw = FromHex(kSha1);
  std::copy(raw.begin(), raw.end(), sha1.begin());
  EXPECT_EQ(NativeTokenFromSha1(sha1, s), FromHex(kNative));
}

TEST(MysqlAuth, NativeVerifyRecoversSha1) {
  Scramble s = TestScramble();
  std::string token = FromHex(kNative);
  auto got = VerifyNativeToken(AsBytes(token), s, DoubleSha1("secret"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(Str(*got), FromHex(kSha1));
  // The recovered SHA1 answers a different scramble exactly like the password would.
  Scramble other = GenerateScramble();
  EXPECT_EQ(NativeTokenFromSha1(*got, other), NativeToken("secret", other));

  EXPECT_FALSE(VerifyNativeToken(AsBytes(token), s, DoubleSha1("wrong")).has_value());
  std::string flipped = token;
  flipped[0] ^= 1;
  EXPECT_FALSE(VerifyNativeToken(AsBytes(flipped), s, DoubleSha1("secret")).has_value());
  EXPECT_FALSE(VerifyNativeToken(AsBytes(token).first(19), s, DoubleSha1("secret")).has_value());
  EXPECT_FALSE(VerifyNativeToken(AsBytes(token), GenerateScramble(), DoubleSha1("secret")));
}

TEST(MysqlAuth, CachingSha2Vectors) {
  Scramble s = TestScramble();
  EXPECT_EQ(Str(Sha256(AsBytes("secret"))), FromHex(kSha256));
  EXPECT_EQ(Str(DoubleSha256("secret")), FromHex(kDoubleSha256));
  std::string token = CachingSha2Token("secret", s);
  EXPECT_EQ(token, FromHex(kSha2Token));
  auto got = VerifyCachingSha2Token(AsBytes(token), s, DoubleSha256("secret"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(Str(*got), FromHex(kSha256));
  Scramble other = GenerateScramble();
  EXPECT_EQ(CachingSha2TokenFromSha256(*got, other), CachingSha2Token("secret", other));
  EXPECT_FALSE(VerifyCachingSha2Token(AsBytes(token), s, DoubleSha256("nope")).has_value());
  EXPECT_FALSE(VerifyCachingSha2Token(AsBytes(token).first(31), s, DoubleSha256("secret")));
  EXPECT_EQ(kCachingSha2FastAuthOk, 0x03);
  EXPECT_EQ(kCachingSha2PerformFullAuth, 0x04);
  EXPECT_EQ(kCachingSha2RequestPublicKey, 0x02);
}

TEST(MysqlAuth, ScrambleIsPrintableSafeAndRandom) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    Scramble s = GenerateScramble();
    for (uint8_t c : s) {
      EXPECT_NE(c, 0);
      EXPECT_NE(c, '$');
      EXPECT_LT(c, 0x80);
    }
    seen.insert(Str(s));
  }
  EXPECT_EQ(seen.size(), 200u);
}

// MariaDB: SELECT PASSWORD('password') = *2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19.
constexpr std::string_view kPasswordVerifier = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19";

TEST(MysqlAuth, NativeVerifierParsesAsMysqlUserHoldsIt) {
  auto v = ParseNativeVerifier(kPasswordVerifier);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, DoubleSha1("password"));
  EXPECT_EQ(FormatNativeVerifier(*v), kPasswordVerifier);
  auto lower = ParseNativeVerifier("*2470c0c06dee42fd1618bb99005adca2ec9d1e19");
  ASSERT_TRUE(lower.has_value());
  EXPECT_EQ(*lower, *v);
  for (std::string_view bad :
       {"", "*", "2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19",
        "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1", "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1G",
        "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E199"}) {
    EXPECT_FALSE(ParseNativeVerifier(bad).has_value()) << bad;
  }
  EXPECT_TRUE(LooksLikeNativeVerifier("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1G"));
  EXPECT_FALSE(LooksLikeNativeVerifier("password"));
}

TEST(MysqlAuth, ScrambleReplyCheckedAgainstStoredVerifierOnly) {
  // A client logging in with "password": only the stored verifier is on the proxy's side.
  auto stored = ParseNativeVerifier(kPasswordVerifier);
  ASSERT_TRUE(stored.has_value());
  Scramble s = TestScramble();
  std::string token = NativeToken("password", s);
  auto sha1 = VerifyNativeToken(AsBytes(token), s, *stored);
  ASSERT_TRUE(sha1.has_value());
  EXPECT_EQ(*sha1, Sha1(AsBytes("password")));
  std::string wrong = NativeToken("passw0rd", s);
  EXPECT_FALSE(VerifyNativeToken(AsBytes(wrong), s, *stored).has_value());
}

}  // namespace
}  // namespace sluice::mysql

namespace sluice::mysql {
namespace {

// The token arithmetic the proxy's client login and the admin port share.
TEST(LoginToken, VerifiesEachPluginsTokenAndRefusesAWrongOne) {
  Scramble sc = GenerateScramble();
  std::string scramble(sc.begin(), sc.end());
  for (const char* plugin : {kNativePasswordPlugin, kCachingSha2Plugin, kClearPasswordPlugin}) {
    std::string token = TokenFor(plugin, "s3cret", scramble);
    EXPECT_FALSE(token.empty()) << plugin;
    EXPECT_TRUE(VerifyClientToken(plugin, token, scramble, "s3cret")) << plugin;
    EXPECT_FALSE(VerifyClientToken(plugin, token, scramble, "other")) << plugin;
  }
  // The auth switch carries the scramble with its NUL: the same 20 bytes count.
  std::string native = TokenFor(kNativePasswordPlugin, "s3cret", scramble);
  EXPECT_TRUE(VerifyClientToken(kNativePasswordPlugin, native, scramble + '\0', "s3cret"));
  // An empty password accepts only an empty token.
  EXPECT_TRUE(VerifyClientToken(kNativePasswordPlugin, "", scramble, ""));
  EXPECT_FALSE(VerifyClientToken(kNativePasswordPlugin, native, scramble, ""));
  EXPECT_EQ(TokenFor("dialog", "s3cret", scramble), "");
}

// Passthrough: from what mysql.user stores and the client's token alone, sluice answers
// another server's scramble as the password would; a wrong password proves nothing.
TEST(LoginToken, PassthroughAnswersTheBackendFromTheProvenSha1) {
  std::string stored = FormatNativeVerifier(DoubleSha1("s3cret"));  // mysql.user's text
  Scramble client_sc = GenerateScramble(), backend_sc = GenerateScramble();
  std::string backend(backend_sc.begin(), backend_sc.end());
  auto verifier = ParseNativeVerifier(stored);
  ASSERT_TRUE(verifier.has_value());
  std::string token = NativeToken("s3cret", client_sc);
  auto sha1 = VerifyNativeToken(AsBytes(token), client_sc, *verifier);
  ASSERT_TRUE(sha1.has_value());
  std::string proven(sha1->begin(), sha1->end());
  EXPECT_EQ(TokenFromProvenSha1(kNativePasswordPlugin, proven, backend),
            TokenFor(kNativePasswordPlugin, "s3cret", backend));
  // The auth switch's scramble with its NUL: the same 20 bytes count.
  EXPECT_EQ(TokenFromProvenSha1(kNativePasswordPlugin, proven, backend + '\0'),
            TokenFor(kNativePasswordPlugin, "s3cret", backend));
  // SHA1(pw) answers no other plugin, and only a 20-byte secret is one.
  EXPECT_EQ(TokenFromProvenSha1(kCachingSha2Plugin, proven, backend), "");
  EXPECT_EQ(TokenFromProvenSha1(kNativePasswordPlugin, proven.substr(1), backend), "");
  EXPECT_FALSE(VerifyNativeToken(AsBytes(NativeToken("wrong", client_sc)), client_sc, *verifier));
}

}  // namespace
}  // namespace sluice::mysql
