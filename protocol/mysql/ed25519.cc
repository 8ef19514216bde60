#include "protocol/mysql/ed25519.h"

#include <sodium.h>

#include <cstring>

namespace sluice::mysql {
namespace {

// The clamped secret scalar a (reduced mod L) and the nonce prefix, from SHA-512(password).
struct Secret {
  unsigned char a[32];
  unsigned char prefix[32];
};

Secret Derive(std::string_view password) {
  unsigned char az[64];
  crypto_hash_sha512(az, reinterpret_cast<const unsigned char*>(password.data()), password.size());
  az[0] &= 248;
  az[31] &= 63;
  az[31] |= 64;
  Secret s;
  unsigned char wide[64] = {0};
  std::memcpy(wide, az, 32);
  crypto_core_ed25519_scalar_reduce(s.a, wide);  // the same point as the clamped scalar
  std::memcpy(s.prefix, az + 32, 32);
  sodium_memzero(az, sizeof az);
  sodium_memzero(wide, sizeof wide);
  return s;
}

// SHA-512 of the parts, reduced mod L.
void HashToScalar(unsigned char out[32], std::initializer_list<std::span<const uint8_t>> parts) {
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  for (auto p : parts) crypto_hash_sha512_update(&st, p.data(), p.size());
  unsigned char h[64];
  crypto_hash_sha512_final(&st, h);
  crypto_core_ed25519_scalar_reduce(out, h);
}

}  // namespace

std::array<uint8_t, 32> Ed25519PublicKey(std::string_view password) {
  Secret s = Derive(password);
  std::array<uint8_t, 32> pk{};
  crypto_scalarmult_ed25519_base_noclamp(pk.data(), s.a);
  sodium_memzero(&s, sizeof s);
  return pk;
}

std::string Ed25519Token(std::string_view password, std::span<const uint8_t> message) {
  if (sodium_init() < 0) return "";
  Secret s = Derive(password);
  unsigned char pk[32], r[32], big_r[32], k[32], ka[32], sig_s[32];
  bool ok = crypto_scalarmult_ed25519_base_noclamp(pk, s.a) == 0;
  HashToScalar(r, {std::span<const uint8_t>(s.prefix, 32), message});
  ok = ok && crypto_scalarmult_ed25519_base_noclamp(big_r, r) == 0;
  HashToScalar(k, {std::span<const uint8_t>(big_r, 32), std::span<const uint8_t>(pk, 32), message});
  crypto_core_ed25519_scalar_mul(ka, k, s.a);
  crypto_core_ed25519_scalar_add(sig_s, ka, r);
  sodium_memzero(&s, sizeof s);
  sodium_memzero(r, sizeof r);
  if (!ok) return "";
  std::string out(reinterpret_cast<const char*>(big_r), 32);
  out.append(reinterpret_cast<const char*>(sig_s), 32);
  return out;
}

}  // namespace sluice::mysql
