// Authentication arithmetic for mysql_native_password and caching_sha2_password (OpenSSL EVP):
// scrambles, client tokens, and server-side verification from stored hashes only.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sluice::mysql {

inline constexpr char kNativePasswordPlugin[] = "mysql_native_password";
inline constexpr char kCachingSha2Plugin[] = "caching_sha2_password";
inline constexpr char kClearPasswordPlugin[] = "mysql_clear_password";

// caching_sha2_password AuthMoreData bytes (MySQL sql/auth/sha2_password.cc).
inline constexpr uint8_t kCachingSha2RequestPublicKey = 0x02;
inline constexpr uint8_t kCachingSha2FastAuthOk = 0x03;
inline constexpr uint8_t kCachingSha2PerformFullAuth = 0x04;

inline constexpr size_t kScrambleSize = 20;
using Scramble = std::array<uint8_t, kScrambleSize>;
using Sha1Digest = std::array<uint8_t, 20>;
using Sha256Digest = std::array<uint8_t, 32>;

Sha1Digest Sha1(std::span<const uint8_t> data);
Sha256Digest Sha256(std::span<const uint8_t> data);

// 20 random bytes in 1..127 without '$', as the server's generate_user_salt() makes them, so the
// scramble survives clients that treat it as a C string.
Scramble GenerateScramble();

// mysql_native_password: token = SHA1(pw) XOR SHA1(scramble || SHA1(SHA1(pw))). An empty
// password is sent as an empty token.
std::string NativeToken(std::string_view password, std::span<const uint8_t> scramble);
std::string NativeTokenFromSha1(const Sha1Digest& sha1_password, std::span<const uint8_t> scramble);
Sha1Digest DoubleSha1(std::string_view password);
// Checks a client's token against the stored SHA1(SHA1(pw)); on success returns SHA1(pw), which
// is enough to answer a backend's native-password challenge.
std::optional<Sha1Digest> VerifyNativeToken(std::span<const uint8_t> token,
                                            std::span<const uint8_t> scramble,
                                            const Sha1Digest& double_sha1);

// A stored mysql_native_password verifier as mysql.user holds it (what PASSWORD('pw') and
// SHOW GRANTS print): "*" and the 40 hex digits of SHA1(SHA1(pw)), either case. nullopt for
// anything else.
std::optional<Sha1Digest> ParseNativeVerifier(std::string_view text);
std::string FormatNativeVerifier(const Sha1Digest& double_sha1);  // "*" + 40 upper-case hex
// True when TEXT has the verifier's shape ("*" and 40 more characters), valid or not: the
// configuration refuses such a text that is not 40 hex digits rather than take it as a
// plaintext password.
bool LooksLikeNativeVerifier(std::string_view text);

// caching_sha2_password: token = SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || scramble).
std::string CachingSha2Token(std::string_view password, std::span<const uint8_t> scramble);
std::string CachingSha2TokenFromSha256(const Sha256Digest& sha256_password,
                                       std::span<const uint8_t> scramble);
Sha256Digest DoubleSha256(std::string_view password);
// Checks a fast-path token against the stored SHA256(SHA256(pw)); returns SHA256(pw) on success.
std::optional<Sha256Digest> VerifyCachingSha2Token(std::span<const uint8_t> token,
                                                   std::span<const uint8_t> scramble,
                                                   const Sha256Digest& double_sha256);

}  // namespace sluice::mysql
