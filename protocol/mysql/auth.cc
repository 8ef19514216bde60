#include "protocol/mysql/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>

#include "protocol/mysql/wire.h"

namespace sluice::mysql {
namespace {

// Digest of the concatenation of up to two spans.
template <size_t N>
std::array<uint8_t, N> Digest(const EVP_MD* md, std::span<const uint8_t> a,
                              std::span<const uint8_t> b = {}) {
  std::array<uint8_t, N> out{};
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestInit_ex(ctx, md, nullptr) == 1 &&
            EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
            EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, out.data(), &len) == 1 && len == N;
  EVP_MD_CTX_free(ctx);
  // Hashing only fails when OpenSSL cannot allocate; there is no sane way to continue.
  if (!ok) std::abort();
  return out;
}

template <size_t N>
std::string Xor(const std::array<uint8_t, N>& a, const std::array<uint8_t, N>& b) {
  std::string out(N, '\0');
  for (size_t i = 0; i < N; ++i) out[i] = static_cast<char>(a[i] ^ b[i]);
  return out;
}

template <size_t N>
std::array<uint8_t, N> XorSpan(std::span<const uint8_t> a, const std::array<uint8_t, N>& b) {
  std::array<uint8_t, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = a[i] ^ b[i];
  return out;
}

// Native and caching_sha2 scrambles are 20 bytes; servers may hand a longer buffer.
std::span<const uint8_t> Trim(std::span<const uint8_t> scramble) {
  return scramble.first(std::min(scramble.size(), kScrambleSize));
}

}  // namespace

Sha1Digest Sha1(std::span<const uint8_t> data) {
  return Digest<20>(EVP_sha1(), data);
}
Sha256Digest Sha256(std::span<const uint8_t> data) {
  return Digest<32>(EVP_sha256(), data);
}

Scramble GenerateScramble() {
  Scramble s{};
  if (RAND_bytes(s.data(), static_cast<int>(s.size())) != 1) std::abort();
  for (uint8_t& c : s) {
    c &= 0x7f;
    if (c == '\0' || c == '$') ++c;
  }
  return s;
}

Sha1Digest DoubleSha1(std::string_view password) {
  return Sha1(Sha1(AsBytes(password)));
}

std::string NativeTokenFromSha1(const Sha1Digest& sha1_password,
                                std::span<const uint8_t> scramble) {
  Sha1Digest double_sha1 = Sha1(sha1_password);
  return Xor(sha1_password, Digest<20>(EVP_sha1(), Trim(scramble), double_sha1));
}

std::string NativeToken(std::string_view password, std::span<const uint8_t> scramble) {
  if (password.empty()) return {};
  return NativeTokenFromSha1(Sha1(AsBytes(password)), scramble);
}

std::optional<Sha1Digest> VerifyNativeToken(std::span<const uint8_t> token,
                                            std::span<const uint8_t> scramble,
                                            const Sha1Digest& double_sha1) {
  if (token.size() != 20) return std::nullopt;
  Sha1Digest candidate = XorSpan(token, Digest<20>(EVP_sha1(), Trim(scramble), double_sha1));
  Sha1Digest check = Sha1(candidate);
  if (CRYPTO_memcmp(check.data(), double_sha1.data(), check.size()) != 0) return std::nullopt;
  return candidate;
}

Sha256Digest DoubleSha256(std::string_view password) {
  return Sha256(Sha256(AsBytes(password)));
}

std::string CachingSha2TokenFromSha256(const Sha256Digest& sha256_password,
                                       std::span<const uint8_t> scramble) {
  Sha256Digest double_sha = Sha256(sha256_password);
  return Xor(sha256_password, Digest<32>(EVP_sha256(), double_sha, Trim(scramble)));
}

std::string CachingSha2Token(std::string_view password, std::span<const uint8_t> scramble) {
  if (password.empty()) return {};
  return CachingSha2TokenFromSha256(Sha256(AsBytes(password)), scramble);
}

std::optional<Sha256Digest> VerifyCachingSha2Token(std::span<const uint8_t> token,
                                                   std::span<const uint8_t> scramble,
                                                   const Sha256Digest& double_sha256) {
  if (token.size() != 32) return std::nullopt;
  Sha256Digest candidate = XorSpan(token, Digest<32>(EVP_sha256(), double_sha256, Trim(scramble)));
  Sha256Digest check = Sha256(candidate);
  if (CRYPTO_memcmp(check.data(), double_sha256.data(), check.size()) != 0) return std::nullopt;
  return candidate;
}

std::optional<Sha1Digest> ParseNativeVerifier(std::string_view text) {
  if (!LooksLikeNativeVerifier(text)) return std::nullopt;
  Sha1Digest out{};
  for (size_t i = 0; i < out.size(); ++i) {
    int v = 0;
    for (char c : text.substr(1 + 2 * i, 2)) {
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + d;
    }
    out[i] = static_cast<uint8_t>(v);
  }
  return out;
}

std::string FormatNativeVerifier(const Sha1Digest& double_sha1) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "*";
  for (uint8_t b : double_sha1) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

bool LooksLikeNativeVerifier(std::string_view text) {
  return text.size() == 41 && text[0] == '*';
}

}  // namespace sluice::mysql
