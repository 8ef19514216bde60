// MariaDB's ed25519 login token (protocol/mysql/ed25519.h): the public key derived from a
// password is the one the server stores (MariaDB 10.11: ED25519_PASSWORD('secret')), and the
// token is a standard Ed25519 signature of the nonce under it.
#include "protocol/mysql/ed25519.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <string>

#include "protocol/mysql/login_token.h"
#include "protocol/mysql/wire.h"

namespace sluice::mysql {
namespace {

std::string Base64(const uint8_t* data, size_t n) {
  std::string out(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), data, n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
  out.resize(out.find('\0'));
  return out;
}

TEST(MysqlEd25519Test, PublicKeyIsWhatMariaDbStores) {
  auto pk = Ed25519PublicKey("secret");
  EXPECT_EQ(Base64(pk.data(), pk.size()), "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY");
}

TEST(MysqlEd25519Test, TokenIsASignatureOfTheNonce) {
  ASSERT_GE(sodium_init(), 0);
  std::string nonce(32, '\0');
  for (int i = 0; i < 32; ++i) nonce[i] = static_cast<char>(i * 7 + 1);
  std::string sig = Ed25519Token("a longer password, any length", AsBytes(nonce));
  ASSERT_EQ(sig.size(), 64u);
  auto pk = Ed25519PublicKey("a longer password, any length");
  EXPECT_EQ(crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                        reinterpret_cast<const unsigned char*>(nonce.data()),
                                        nonce.size(), pk.data()),
            0);
  auto other = Ed25519PublicKey("another");
  EXPECT_NE(crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                        reinterpret_cast<const unsigned char*>(nonce.data()),
                                        nonce.size(), other.data()),
            0);
  // Through TokenFor, with a nonce whose last byte (0) an auth switch decoder dropped.
  nonce[31] = '\0';
  EXPECT_EQ(TokenFor(kEd25519ClientPlugin, "pw", nonce.substr(0, 31)),
            Ed25519Token("pw", AsBytes(nonce)));
}

}  // namespace
}  // namespace sluice::mysql
