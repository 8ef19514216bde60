// The token arithmetic of the plugins sluice speaks, no I/O: the token a login sends for a
// plugin, and the check of a client's token against a configured password (proxy and admin).
#pragma once

#include <string>
#include <string_view>

namespace sluice::mysql {

// The auth response for plugin (mysql_native_password, caching_sha2_password's scramble
// part, mysql_clear_password); "" for a plugin sluice does not speak or an empty password.
std::string TokenFor(std::string_view plugin, std::string_view password, std::string_view scramble);

// True when token proves password for plugin and scramble. An empty password accepts only
// an empty token, as MySQL does. PASSWORD may be a stored verifier "*<hex SHA1(SHA1(pw))>",
// which proves mysql_native_password tokens only.
// A passthrough user's answer (no password: the SHA1(pw) its client's native-password token
// proved, health/auth_lookup.h): the mysql_native_password token for scramble, "" for any
// other plugin, which SHA1(pw) cannot answer.
std::string TokenFromProvenSha1(std::string_view plugin, std::string_view sha1_password,
                                std::string_view scramble);

bool VerifyClientToken(std::string_view plugin, std::string_view token, std::string_view scramble,
                       std::string_view password);

}  // namespace sluice::mysql
