#include "protocol/pgsql/scram.h"

#include <charconv>
#include <vector>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "protocol/pgsql/message.h"
#include "protocol/pgsql/saslprep.h"

namespace sluice::pgsql {
namespace {

constexpr size_t kRawNonceLength = 18;  // SCRAM_RAW_NONCE_LEN
constexpr std::string_view kClientKeyLabel = "Client Key";
constexpr std::string_view kServerKeyLabel = "Server Key";

Status Malformed(std::string_view why) {
  return ProtocolError(fmt::format("malformed SCRAM message: {}", why));
}

Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}

ScramKey Hmac(std::span<const uint8_t> key, std::string_view data) {
  ScramKey out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

ScramKey Sha256(std::span<const uint8_t> data) {
  ScramKey out{};
  SHA256(data.data(), data.size(), out.data());
  return out;
}

ScramKey Xor(const ScramKey& a, const ScramKey& b) {
  ScramKey out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = a[i] ^ b[i];
  return out;
}

bool Equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> RandomNonce() {
  uint8_t raw[kRawNonceLength];
  if (RAND_bytes(raw, sizeof(raw)) != 1) return Internal("RAND_bytes failed");
  return Base64Encode(raw);
}

bool ParsePositiveInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && *out > 0;
}

// Nonces are printable ASCII without ',' (RFC 5802 "printable").
bool IsPrintableNonce(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

// Splits a SCRAM message into its comma-separated attributes and reads "x=value" ones.
class AttrReader {
 public:
  explicit AttrReader(std::string_view s) : s_(s) {}

  bool done() const { return pos_ > s_.size(); }
  size_t position() const { return pos_; }
  // The next attribute; false at the end or when it is not "<letter>=…".
  bool Next(char* name, std::string_view* value) {
    if (done()) return false;
    size_t end = s_.find(',', pos_);
    if (end == std::string_view::npos) end = s_.size();
    const std::string_view attr = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    if (attr.size() < 2 || attr[1] != '=' || !IsAttrName(attr[0])) return false;
    *name = attr[0];
    *value = attr.substr(2);
    return true;
  }
  // Expects attribute `want` next.
  bool Expect(char want, std::string_view* value) {
    char name;
    return Next(&name, value) && name == want;
  }

 private:
  static bool IsAttrName(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
  std::string_view s_;
  size_t pos_ = 0;
};

std::string EscapeSaslName(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string Base64Encode(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(n);
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return InvalidArgument("base64: length not a multiple of 4");
  size_t pad = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '+' || c == '/';
    if (c == '=' && i + 2 >= text.size()) {
      ++pad;
    } else if (!alpha || pad > 0) {
      return InvalidArgument("base64: invalid character");
    }
  }
  std::string out(3 * (text.size() / 4), '\0');
  if (text.empty()) return out;
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0 || size_t(n) != out.size()) return InvalidArgument("base64: decode failed");
  out.resize(out.size() - pad);
  return out;
}

Result<ScramKeys> DeriveScramKeys(std::string_view password, std::string_view salt,
                                  int iterations) {
  if (iterations <= 0) return InvalidArgument("SCRAM iteration count must be positive");
  // Hi() runs over the SASLprep'd password (RFC 5802 §2.2), as PostgreSQL computes it.
  const std::string prepared = SaslPrepOrRaw(password);
  ScramKey salted{};
  if (PKCS5_PBKDF2_HMAC(prepared.data(), static_cast<int>(prepared.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(salted.size()), salted.data()) != 1) {
    return Internal("PKCS5_PBKDF2_HMAC failed");
  }
  ScramKeys keys;
  keys.client_key = Hmac(salted, kClientKeyLabel);
  keys.server_key = Hmac(salted, kServerKeyLabel);
  OPENSSL_cleanse(salted.data(), salted.size());
  return keys;
}

Result<ScramVerifier> MakeVerifier(std::string_view password, std::string_view salt,
                                   int iterations) {
  auto keys = DeriveScramKeys(password, salt, iterations);
  if (!keys.ok()) return keys.status();
  ScramVerifier v;
  v.iterations = iterations;
  v.salt = std::string(salt);
  v.stored_key = Sha256(keys->client_key);
  v.server_key = keys->server_key;
  return v;
}

Result<ScramVerifier> MakeVerifierWithRandomSalt(std::string_view password, int iterations) {
  std::string salt(kScramDefaultSaltLength, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) !=
      1) {
    return Internal("RAND_bytes failed");
  }
  return MakeVerifier(password, salt, iterations);
}

Result<ScramVerifier> ParseVerifier(std::string_view text) {
  // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
  const std::string_view prefix = "SCRAM-SHA-256$";
  if (!text.starts_with(prefix)) return InvalidArgument("not a SCRAM-SHA-256 verifier");
  text.remove_prefix(prefix.size());
  const size_t colon1 = text.find(':');
  const size_t dollar = text.find('$');
  if (colon1 == std::string_view::npos || dollar == std::string_view::npos || dollar < colon1) {
    return InvalidArgument("malformed SCRAM verifier");
  }
  const size_t colon2 = text.find(':', dollar);
  if (colon2 == std::string_view::npos) return InvalidArgument("malformed SCRAM verifier");
  ScramVerifier v;
  if (!ParsePositiveInt(text.substr(0, colon1), &v.iterations)) {
    return InvalidArgument("SCRAM verifier: bad iteration count");
  }
  auto salt = Base64Decode(text.substr(colon1 + 1, dollar - colon1 - 1));
  auto stored = Base64Decode(text.substr(dollar + 1, colon2 - dollar - 1));
  auto server = Base64Decode(text.substr(colon2 + 1));
  if (!salt.ok() || !stored.ok() || !server.ok() || salt->empty() ||
      stored->size() != v.stored_key.size() || server->size() != v.server_key.size()) {
    return InvalidArgument("SCRAM verifier: bad salt or key");
  }
  v.salt = std::move(salt).value();
  std::copy(stored->begin(), stored->end(), v.stored_key.begin());
  std::copy(server->begin(), server->end(), v.server_key.begin());
  return v;
}

std::string FormatVerifier(const ScramVerifier& v) {
  return fmt::format("SCRAM-SHA-256${}:{}${}:{}", v.iterations, Base64Encode(AsBytes(v.salt)),
                     Base64Encode(v.stored_key), Base64Encode(v.server_key));
}

// --- server side -------------------------------------------------------------------------

Status ScramServerSession::Fail(Status s) {
  state_ = State::kFailed;
  return s;
}

Result<std::string> ScramServerSession::ServerFirst(std::string_view client_first) {
  if (state_ != State::kStart) return Fail(Malformed("unexpected client-first-message"));
  // gs2-header: cbind flag, authzid, then client-first-message-bare.
  if (client_first.starts_with("p=")) {
    return Fail(Malformed("channel binding was not offered (no SCRAM-SHA-256-PLUS)"));
  }
  if (!client_first.starts_with("n,") && !client_first.starts_with("y,")) {
    return Fail(Malformed("unexpected channel-binding flag"));
  }
  if (client_first.size() < 3 || client_first[2] != ',') {
    return Fail(Malformed("authorization identity is not supported"));
  }
  gs2_header_ = std::string(client_first.substr(0, 3));
  const std::string_view bare = client_first.substr(3);

  AttrReader r(bare);
  char name;
  std::string_view value, client_nonce;
  if (!r.Next(&name, &value)) return Fail(Malformed("expected user name"));
  if (name == 'm') return Fail(Malformed("unsupported mandatory extension"));
  if (name != 'n') return Fail(Malformed("expected user name"));
  // PostgreSQL ignores the SCRAM user name: the startup packet's user is authenticated.
  if (!r.Expect('r', &client_nonce) || !IsPrintableNonce(client_nonce)) {
    return Fail(Malformed("bad client nonce"));
  }
  // Optional extensions follow; each must still look like an attribute.
  while (!r.done()) {
    if (!r.Next(&name, &value)) return Fail(Malformed("bad attribute"));
  }

  if (server_nonce_.empty()) {
    auto nonce = RandomNonce();
    if (!nonce.ok()) return Fail(nonce.status());
    server_nonce_ = std::move(nonce).value();
  }
  client_first_bare_ = std::string(bare);
  nonce_ = std::string(client_nonce) + server_nonce_;
  server_first_ = fmt::format("r={},s={},i={}", nonce_, Base64Encode(AsBytes(verifier_.salt)),
                              verifier_.iterations);
  state_ = State::kFirstSent;
  return server_first_;
}

Result<std::string> ScramServerSession::ServerFinal(std::string_view client_final) {
  if (state_ != State::kFirstSent) return Fail(Malformed("unexpected client-final-message"));
  const size_t proof_at = client_final.rfind(",p=");
  if (proof_at == std::string_view::npos) return Fail(Malformed("missing proof"));
  const std::string_view without_proof = client_final.substr(0, proof_at);

  AttrReader r(without_proof);
  std::string_view cbind, nonce, value;
  char name;
  if (!r.Expect('c', &cbind)) return Fail(Malformed("expected channel binding"));
  auto cbind_raw = Base64Decode(cbind);
  if (!cbind_raw.ok() || *cbind_raw != gs2_header_) {
    return Fail(Malformed("channel binding does not match the gs2 header"));
  }
  if (!r.Expect('r', &nonce)) return Fail(Malformed("expected nonce"));
  if (nonce != nonce_) return Fail(Malformed("nonce does not match"));
  while (!r.done()) {
    if (!r.Next(&name, &value)) return Fail(Malformed("bad attribute"));
  }

  auto proof = Base64Decode(client_final.substr(proof_at + 3));
  if (!proof.ok() || proof->size() != sizeof(ScramKey)) return Fail(Malformed("bad proof"));

  const std::string auth_message =
      fmt::format("{},{},{}", client_first_bare_, server_first_, without_proof);
  const ScramKey client_signature = Hmac(verifier_.stored_key, auth_message);
  ScramKey proof_key{};
  std::copy(proof->begin(), proof->end(), proof_key.begin());
  const ScramKey client_key = Xor(proof_key, client_signature);
  if (!Equal(Sha256(client_key), verifier_.stored_key)) {
    return Fail(PermissionDenied("SCRAM proof does not match: wrong password"));
  }
  client_key_ = client_key;
  state_ = State::kDone;
  return "v=" + Base64Encode(Hmac(verifier_.server_key, auth_message));
}

// --- client side -------------------------------------------------------------------------

ScramClientSession ScramClientSession::FromPassword(std::string password) {
  ScramClientSession s;
  s.password_ = std::move(password);
  return s;
}

ScramClientSession ScramClientSession::FromKeys(const ScramKey& client_key,
                                                const ScramKey& server_key) {
  ScramClientSession s;
  s.keys_.client_key = client_key;
  s.keys_.server_key = server_key;
  return s;
}

Result<std::string> ScramClientSession::ClientFirst() {
  if (client_nonce_.empty()) {
    auto nonce = RandomNonce();
    if (!nonce.ok()) return nonce.status();
    client_nonce_ = std::move(nonce).value();
  }
  client_first_bare_ = fmt::format("n={},r={}", EscapeSaslName(user_), client_nonce_);
  return "n,," + client_first_bare_;
}

Result<std::string> ScramClientSession::ClientFinal(std::string_view server_first) {
  if (client_first_bare_.empty()) return Malformed("ClientFinal before ClientFirst");
  AttrReader r(server_first);
  std::string_view nonce, salt_b64, iter_text;
  if (!r.Expect('r', &nonce)) return Malformed("expected nonce (or mandatory extension)");
  if (!nonce.starts_with(client_nonce_) || nonce.size() == client_nonce_.size() ||
      !IsPrintableNonce(nonce)) {
    return Malformed("server nonce does not extend ours");
  }
  if (!r.Expect('s', &salt_b64)) return Malformed("expected salt");
  if (!r.Expect('i', &iter_text)) return Malformed("expected iteration count");
  auto salt = Base64Decode(salt_b64);
  int iterations;
  if (!salt.ok() || !ParsePositiveInt(iter_text, &iterations)) {
    return Malformed("bad salt or iteration count");
  }

  if (password_) {
    auto keys = DeriveScramKeys(*password_, *salt, iterations);
    if (!keys.ok()) return keys.status();
    keys_ = *keys;
  }
  const std::string without_proof = fmt::format("c=biws,r={}", nonce);  // biws = b64("n,,")
  const std::string auth_message =
      fmt::format("{},{},{}", client_first_bare_, server_first, without_proof);
  const ScramKey stored_key = Sha256(keys_.client_key);
  const ScramKey proof = Xor(keys_.client_key, Hmac(stored_key, auth_message));
  expected_server_signature_ = Hmac(keys_.server_key, auth_message);
  return without_proof + ",p=" + Base64Encode(proof);
}

Status ScramClientSession::VerifyServerFinal(std::string_view server_final) {
  if (!expected_server_signature_) return Malformed("server-final before client-final");
  AttrReader r(server_final);
  char name;
  std::string_view value;
  if (!r.Next(&name, &value)) return Malformed("bad server-final-message");
  if (name == 'e') return PermissionDenied(fmt::format("SCRAM server error: {}", value));
  if (name != 'v' || !r.done()) return Malformed("bad server-final-message");
  auto signature = Base64Decode(value);
  if (!signature.ok() || !Equal(AsBytes(*signature), *expected_server_signature_)) {
    return PermissionDenied("SCRAM server signature does not match");
  }
  return Status::Ok();
}

}  // namespace sluice::pgsql
