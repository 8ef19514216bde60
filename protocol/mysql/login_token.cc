#include "protocol/mysql/login_token.h"

#include <openssl/crypto.h>
#include <algorithm>

#include "protocol/mysql/auth.h"
#include "protocol/mysql/ed25519.h"
#include "protocol/mysql/wire.h"

namespace sluice::mysql {

std::string TokenFor(std::string_view plugin, std::string_view password,
                     std::string_view scramble) {
  if (password.empty()) return "";
  if (plugin == kEd25519ClientPlugin) {
    // A 32-byte nonce; the switch request's decoder took a last NUL byte for a terminator.
    std::string nonce(scramble.substr(0, kEd25519NonceSize));
    nonce.resize(kEd25519NonceSize, '\0');
    return Ed25519Token(password, AsBytes(nonce));
  }
  // Servers send the scramble with a trailing NUL in the auth switch; the hash uses 20 bytes.
  if (scramble.size() > kScrambleSize) scramble = scramble.substr(0, kScrambleSize);
  if (plugin == kNativePasswordPlugin) return NativeToken(password, AsBytes(scramble));
  if (plugin == kCachingSha2Plugin) return CachingSha2Token(password, AsBytes(scramble));
  if (plugin == kClearPasswordPlugin) return std::string(password) + '\0';
  return "";
}

std::string TokenFromProvenSha1(std::string_view plugin, std::string_view sha1_password,
                                std::string_view scramble) {
  if (plugin != kNativePasswordPlugin || sha1_password.size() != 20) return "";
  if (scramble.size() > kScrambleSize) scramble = scramble.substr(0, kScrambleSize);
  Sha1Digest sha1{};
  std::copy(sha1_password.begin(), sha1_password.end(), sha1.begin());
  return NativeTokenFromSha1(sha1, AsBytes(scramble));
}

bool VerifyClientToken(std::string_view plugin, std::string_view token, std::string_view scramble,
                       std::string_view password) {
  if (auto stored = mysql::ParseNativeVerifier(password)) {
    // A stored verifier proves mysql_native_password replies only (the session switches
    // other plugins to it first).
    if (scramble.size() > mysql::kScrambleSize) scramble = scramble.substr(0, mysql::kScrambleSize);
    return plugin == mysql::kNativePasswordPlugin &&
           mysql::VerifyNativeToken(mysql::AsBytes(token), mysql::AsBytes(scramble), *stored)
               .has_value();
  }
  std::string expected = TokenFor(plugin, password, scramble);
  if (expected.size() != token.size()) return false;
  return expected.empty() || CRYPTO_memcmp(expected.data(), token.data(), token.size()) == 0;
}

}  // namespace sluice::mysql
