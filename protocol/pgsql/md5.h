// PostgreSQL's MD5 password scheme: the "md5…" hash pg_authid stores and the salted
// response a client sends to AuthenticationMD5Password.
//
// Docs "Frontend/Backend Protocol" > "Message Flow" (AuthenticationMD5Password):
// "md5" ‖ md5hex(md5hex(password ‖ user) ‖ salt); src/common/md5_common.c pg_md5_encrypt.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::pgsql {

// "md5" + md5hex(password ‖ user): what pg_authid.rolpassword holds for an MD5 role.
std::string Md5PasswordHash(std::string_view user, std::string_view password);
// The PasswordMessage content answering a salted MD5 request.
std::string Md5Password(std::string_view user, std::string_view password,
                        std::array<uint8_t, 4> salt);
// The same answer from a stored "md5…" hash, so a proxy that keeps only the hash can
// check a client's answer and answer a backend. Error if `stored_hash` is not one.
Result<std::string> Md5PasswordFromHash(std::string_view stored_hash, std::array<uint8_t, 4> salt);

}  // namespace sluice::pgsql
