// caching_sha2_password full authentication without TLS: the client asks for the server's
// RSA public key (AuthMoreData 0x02), and sends its password, NUL-terminated and XORed
// with the scramble (cyclically), encrypted with RSA-OAEP under that key.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::mysql {

// The encrypted password for a server that sent public_key_pem (PEM, "-----BEGIN PUBLIC
// KEY-----"); an error for a key OpenSSL cannot read or a password too long for it.
Result<std::string> Sha2RsaEncryptPassword(std::string_view password,
                                           std::span<const uint8_t> scramble,
                                           std::string_view public_key_pem);

}  // namespace sluice::mysql
