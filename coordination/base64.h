// Base64 (RFC 4648, with padding) for the etcd JSON gateway, which carries keys and values as
// base64 strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice::coordination {

std::string Base64Encode(std::string_view in);
// nullopt on a character outside the alphabet or a bad length.
std::optional<std::string> Base64Decode(std::string_view in);

}  // namespace sluice::coordination
