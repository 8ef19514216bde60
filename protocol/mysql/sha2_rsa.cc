#include "protocol/mysql/sha2_rsa.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

namespace sluice::mysql {

Result<std::string> Sha2RsaEncryptPassword(std::string_view password,
                                           std::span<const uint8_t> scramble,
                                           std::string_view public_key_pem) {
  if (scramble.empty()) return ProtocolError("caching_sha2_password: empty scramble");
  std::string plain(password);
  plain.push_back('\0');
  for (size_t i = 0; i < plain.size(); ++i)
    plain[i] = static_cast<char>(plain[i] ^ scramble[i % scramble.size()]);
  BIO* bio = BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (!key) return ProtocolError("caching_sha2_password: the server's public key is not PEM");
  std::string out;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  size_t len = 0;
  bool ok =
      ctx && EVP_PKEY_encrypt_init(ctx) == 1 &&
      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
      EVP_PKEY_encrypt(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(plain.data()),
                       plain.size()) == 1;
  if (ok) {
    out.resize(len);
    ok = EVP_PKEY_encrypt(ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                          reinterpret_cast<const unsigned char*>(plain.data()), plain.size()) == 1;
    out.resize(len);
  }
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok)
    return ProtocolError(
        "caching_sha2_password: RSA encryption failed (a password too long for the key?)");
  return out;
}

}  // namespace sluice::mysql
