#include "protocol/pgsql/md5.h"

#include <openssl/evp.h>

namespace sluice::pgsql {
namespace {

constexpr std::string_view kPrefix = "md5";

std::string Md5Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string Salted(std::string_view inner_hex, std::array<uint8_t, 4> salt) {
  std::string buf(inner_hex);
  buf.append(reinterpret_cast<const char*>(salt.data()), salt.size());
  return std::string(kPrefix) + Md5Hex(buf);
}

}  // namespace

std::string Md5PasswordHash(std::string_view user, std::string_view password) {
  std::string buf(password);
  buf.append(user);
  return std::string(kPrefix) + Md5Hex(buf);
}

std::string Md5Password(std::string_view user, std::string_view password,
                        std::array<uint8_t, 4> salt) {
  return Salted(Md5PasswordHash(user, password).substr(kPrefix.size()), salt);
}

Result<std::string> Md5PasswordFromHash(std::string_view stored_hash, std::array<uint8_t, 4> salt) {
  if (stored_hash.size() != 35 || !stored_hash.starts_with(kPrefix) ||
      !IsLowerHex(stored_hash.substr(3))) {
    return InvalidArgument("not an MD5 password hash (\"md5\" + 32 hex digits)");
  }
  return Salted(stored_hash.substr(kPrefix.size()), salt);
}

}  // namespace sluice::pgsql
