// MariaDB's ed25519 authentication (plugin auth_ed25519, client plugin "client_ed25519"):
// the server sends a 32-byte nonce and the client answers with an Ed25519 signature of it
// whose secret is derived from the password itself (SHA-512 of the password, not of a
// 32-byte seed, so no standard "sign with a private key" API fits; libsodium's group
// operations do the arithmetic).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sluice::mysql {

inline constexpr char kEd25519ClientPlugin[] = "client_ed25519";
inline constexpr size_t kEd25519NonceSize = 32;

// The 64-byte signature (R ‖ S) of message under password's key; "" if libsodium fails.
std::string Ed25519Token(std::string_view password, std::span<const uint8_t> message);
// The public key the server stores for password (what ED25519_PASSWORD() prints, base64).
std::array<uint8_t, 32> Ed25519PublicKey(std::string_view password);

}  // namespace sluice::mysql
