// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: verifiers in pg_authid's
// format, the server side (proxy authenticates a client) and the client side (proxy logs in).
//
// PostgreSQL specifics (src/backend/libpq/auth-scram.c, src/interfaces/libpq/fe-auth-scram.c):
// the SCRAM user name is ignored (the startup packet's user counts; libpq sends "n="),
// nonces are 18 random bytes in base64, an authzid is refused, and channel binding is
// refused here because sluice advertises only SCRAM-SHA-256, never -PLUS.
//
// Passwords are SASLprep'd (RFC 4013, protocol/pgsql/saslprep.h) before hashing, with
// PostgreSQL's fallback to the raw bytes when that fails, so a non-ASCII password gives the
// verifier PostgreSQL itself would store and the proof libpq would send.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::pgsql {

using ScramKey = std::array<uint8_t, 32>;  // SHA-256 sized

inline constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";
inline constexpr int kScramDefaultIterations = 4096;   // PostgreSQL's scram_iterations
inline constexpr size_t kScramDefaultSaltLength = 16;  // SCRAM_DEFAULT_SALT_LEN

struct ScramVerifier {
  int iterations = kScramDefaultIterations;
  std::string salt;  // raw bytes
  ScramKey stored_key{};
  ScramKey server_key{};
};

// The keys SCRAM derives from a password and its salt.
struct ScramKeys {
  ScramKey client_key{};
  ScramKey server_key{};
};

Result<ScramKeys> DeriveScramKeys(std::string_view password, std::string_view salt, int iterations);
Result<ScramVerifier> MakeVerifier(std::string_view password, std::string_view salt,
                                   int iterations = kScramDefaultIterations);
// A fresh random salt, as CREATE ROLE … PASSWORD does.
Result<ScramVerifier> MakeVerifierWithRandomSalt(std::string_view password,
                                                 int iterations = kScramDefaultIterations);
// "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>" (base64 parts), the
// format of pg_authid.rolpassword.
Result<ScramVerifier> ParseVerifier(std::string_view text);
std::string FormatVerifier(const ScramVerifier& v);

std::string Base64Encode(std::span<const uint8_t> bytes);
// Strict: padded, no whitespace, nothing outside the alphabet.
Result<std::string> Base64Decode(std::string_view text);

// The proxy's side when it authenticates a client. Feed it the client's SASL messages in
// order; any error is final (answer 28P01 for kPermissionDenied, 08P01 otherwise).
class ScramServerSession {
 public:
  explicit ScramServerSession(ScramVerifier verifier) : verifier_(std::move(verifier)) {}

  // Tests only: a fixed server nonce instead of 18 random bytes.
  void set_server_nonce(std::string nonce) { server_nonce_ = std::move(nonce); }

  // client-first-message (SASLInitialResponse data) → server-first-message
  // (AuthenticationSASLContinue data).
  Result<std::string> ServerFirst(std::string_view client_first);
  // client-final-message (SASLResponse data) → server-final-message
  // (AuthenticationSASLFinal data). A wrong proof is kPermissionDenied.
  Result<std::string> ServerFinal(std::string_view client_final);

  bool authenticated() const { return state_ == State::kDone; }
  // After a valid proof: the client's ClientKey, which with the verifier's ServerKey logs
  // into a backend whose verifier equals ours (PgBouncer's SCRAM passthrough).
  const std::optional<ScramKey>& client_key() const { return client_key_; }
  const ScramVerifier& verifier() const { return verifier_; }

 private:
  enum class State { kStart, kFirstSent, kDone, kFailed };

  Status Fail(Status s);

  ScramVerifier verifier_;
  State state_ = State::kStart;
  std::string server_nonce_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;  // client nonce + server nonce
  std::optional<ScramKey> client_key_;
};

// The proxy's side when it logs into a backend with SCRAM-SHA-256.
class ScramClientSession {
 public:
  static ScramClientSession FromPassword(std::string password);
  // Without the password: the keys recovered by ScramServerSession (passthrough).
  static ScramClientSession FromKeys(const ScramKey& client_key, const ScramKey& server_key);

  // Tests only: a fixed client nonce and the user name to put in "n=" (PostgreSQL ignores
  // it; libpq sends it empty, and so do we by default).
  void set_client_nonce(std::string nonce) { client_nonce_ = std::move(nonce); }
  void set_user(std::string user) { user_ = std::move(user); }

  // The client-first-message (SASLInitialResponse data).
  Result<std::string> ClientFirst();
  // server-first-message (SASLContinue data) → client-final-message (SASLResponse data).
  Result<std::string> ClientFinal(std::string_view server_first);
  // server-final-message (SASLFinal data): ok only if the server proved it knows our keys.
  Status VerifyServerFinal(std::string_view server_final);

 private:
  ScramClientSession() = default;

  std::optional<std::string> password_;
  ScramKeys keys_;
  std::string user_;
  std::string client_nonce_;
  std::string client_first_bare_;
  std::optional<ScramKey> expected_server_signature_;
};

}  // namespace sluice::pgsql
