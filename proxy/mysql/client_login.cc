#include "proxy/mysql/client_login.h"

#include <algorithm>

#include <openssl/crypto.h>

#include "common/log.h"
#include "protocol/mysql/auth.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/login_token.h"
#include "protocol/mysql/messages.h"
#include "protocol/mysql/wire.h"
#include "proxy/janitor.h"
#include "proxy/mysql/packet_io.h"

namespace sluice::mysqlproxy {

MysqlClientLogin::MysqlClientLogin(Callbacks* cb, uint32_t conn_id, uint64_t offered_caps,
                                   std::string client_addr)
    : cb_(cb),
      conn_id_(conn_id),
      offered_caps_(offered_caps),
      client_addr_(std::move(client_addr)) {}

MysqlClientLogin::MysqlClientLogin(Callbacks* cb, uint32_t conn_id, std::string client_addr,
                                   const Resume& r)
    : cb_(cb),
      conn_id_(conn_id),
      offered_caps_(r.offered_caps),
      client_addr_(std::move(client_addr)),
      step_(Step::kDone),
      scramble_(r.scramble.begin(), r.scramble.end()),
      caps_(r.caps),
      charset_(r.charset) {}

MysqlClientLogin::Resume MysqlClientLogin::resume() const {
  Resume r;
  std::copy_n(scramble_.begin(), std::min(scramble_.size(), r.scramble.size()), r.scramble.begin());
  r.offered_caps = offered_caps_;
  r.caps = caps_;
  r.charset = charset_;
  return r;
}

void MysqlClientLogin::SendGreeting(evbuffer* out, const std::string& version,
                                    uint64_t offered_caps, uint16_t status_flags) {
  mysql::Scramble sc = mysql::GenerateScramble();
  scramble_.assign(sc.begin(), sc.end());
  offered_caps_ = offered_caps;
  mysql::InitialHandshake hs;
  hs.server_version = version;
  hs.connection_id = conn_id_;
  hs.auth_plugin_data = scramble_;
  hs.capabilities = offered_caps_;
  hs.charset = charset_;
  hs.status_flags = status_flags;
  hs.auth_plugin_name = mysql::kNativePasswordPlugin;
  uint8_t seq = 0;
  WritePacket(out, &seq, mysql::EncodeInitialHandshake(hs));
  step_ = Step::kHandshake;
}

void MysqlClientLogin::OnClientData(evbuffer* in, evbuffer* out, bool tls, bool tls_available) {
  mysql::PacketView pkt;
  size_t wire = 0;
  if (!PeekPacket(in, &pkt, &wire)) {
    // Before a proven password the connection reads at most client_preauth_bytes ahead: a
    // login packet that does not fit is refused now, not waited for (issue #13).
    if (evbuffer_get_length(in) >= preauth_bytes_) {
      uint8_t hdr[4];
      evbuffer_copyout(in, hdr, 4);
      Fail(mysql::ER_HANDSHAKE_ERROR.message, static_cast<uint8_t>(hdr[3] + 1), out);
    }
    return;
  }
  if (step_ == Step::kLookup) return;  // what the client sends next waits for the answer
  seq_ = pkt.seq;
  if (step_ == Step::kHandshake) {
    if (mysql::IsSslRequest(pkt.payload) && !tls && tls_available) {
      // After the TLS handshake the client sends the full HandshakeResponse, with
      // sequence id 2: the SSLRequest was packet 1.
      evbuffer_drain(in, wire);
      cb_->OnTlsRequested();
      return;
    }
    auto resp = mysql::DecodeHandshakeResponse(pkt.payload);
    evbuffer_drain(in, wire);
    if (!resp.ok()) {
      Fail(mysql::ER_HANDSHAKE_ERROR.message, seq_ + 1, out);
      return;
    }
    caps_ = resp->capabilities & offered_caps_;
    Begin(*resp, out, tls);
    return;
  }
  std::string token(reinterpret_cast<const char*>(pkt.payload.data()), pkt.payload.size());
  evbuffer_drain(in, wire);
  if (step_ == Step::kAuthSwitch) {
    // The answer to an auth switch: a token for the plugin sluice asked for.
    Authenticate(plugin_, token, out, tls);
    return;
  }
  // caching_sha2 full authentication: the clear password, NUL-terminated, over TLS.
  const User* u = cb_->FindLoginUser(user_);
  std::string_view clear(token);
  if (!clear.empty() && clear.back() == '\0') clear.remove_suffix(1);
  bool ok = u && clear.size() == u->password.size() &&
            CRYPTO_memcmp(clear.data(), u->password.data(), clear.size()) == 0;
  if (!ok) {
    Deny(!clear.empty(), out);
    return;
  }
  cb_->NoteSha2(user_);
  Accept();
}

void MysqlClientLogin::ChangeUser(const std::string& payload, evbuffer* out, bool tls) {
  auto resp = mysql::DecodeChangeUser(mysql::AsBytes(payload), caps_);
  if (!resp.ok()) {
    Fail(mysql::ER_HANDSHAKE_ERROR.message, 1, out);
    return;
  }
  seq_ = 0;
  Begin(*resp, out, tls);
}

// The login proper, after a HandshakeResponse or a COM_CHANGE_USER: pick the plugin,
// verify the token, or switch the client to a plugin sluice verifies.
void MysqlClientLogin::Begin(const mysql::HandshakeResponse& resp, evbuffer* out, bool tls) {
  if (resp.charset) charset_ = resp.charset;
  user_ = resp.user;
  database_ = resp.database;
  std::string plugin =
      resp.auth_plugin_name.empty() ? mysql::kNativePasswordPlugin : resp.auth_plugin_name;
  if (plugin != mysql::kNativePasswordPlugin && plugin != mysql::kCachingSha2Plugin) {
    // A client plugin sluice does not verify: ask for mysql_native_password instead.
    Switch(mysql::kNativePasswordPlugin, out);
    return;
  }
  const User* known = cb_->FindLoginUser(user_);
  if (!known && plugin != mysql::kNativePasswordPlugin && cb_->LookupEnabled()) {
    // A passthrough user: mysql.user holds SHA1(SHA1(pw)), which proves native tokens only.
    Switch(mysql::kNativePasswordPlugin, out);
    return;
  }
  if (const User* u = known;
      u && plugin == mysql::kCachingSha2Plugin && mysql::ParseNativeVerifier(u->password)) {
    // Only SHA1(SHA1(pw)) is stored for this user: caching_sha2 cannot be checked against it.
    Switch(mysql::kNativePasswordPlugin, out);
    return;
  }
  if (resp.auth_response.empty() && plugin != mysql::kNativePasswordPlugin) {
    // The client's plugin differs from the one sluice announced, so it sent no token; restart
    // the exchange with its plugin and sluice's scramble, as MySQL does.
    Switch(plugin, out);
    return;
  }
  Authenticate(plugin, resp.auth_response, out, tls);
}

void MysqlClientLogin::Switch(const std::string& plugin, evbuffer* out) {
  plugin_ = plugin;
  mysql::AuthSwitchRequest sw{plugin, scramble_};  // the encoder adds the NUL
  uint8_t seq = seq_ + 1;
  WritePacket(out, &seq, mysql::EncodeAuthSwitchRequest(sw));
  step_ = Step::kAuthSwitch;
}

void MysqlClientLogin::SendAuthMoreData(uint8_t what, evbuffer* out) {
  uint8_t seq = seq_ + 1;
  std::string more{static_cast<char>(mysql::kAuthMoreDataHeader), static_cast<char>(what)};
  WritePacket(out, &seq, more);
  seq_ = seq - 1;
}

void MysqlClientLogin::Authenticate(const std::string& plugin, std::string_view token,
                                    evbuffer* out, bool tls) {
  log::Debug("session {}: auth user={} plugin={} token={} bytes tls={}", conn_id_, user_, plugin,
             token.size(), tls);
  const User* u = cb_->FindLoginUser(user_);
  if (!u && plugin == mysql::kNativePasswordPlugin && cb_->LookupEnabled()) {
    if (!cb_->LookupUser(user_)) {
      log::Warn("session {}: passthrough login of '{}' refused: auth_max_pending lookups wait",
                conn_id_, user_);
      step_ = Step::kDone;
      uint8_t seq = seq_ + 1;
      WritePacket(
          out, &seq,
          mysql::MakeErr(mysql::ER_CON_COUNT_ERROR.code, mysql::ER_CON_COUNT_ERROR.sql_state,
                         mysql::ER_CON_COUNT_ERROR.message));
      cb_->OnLoginFailed(true);
      return;
    }
    lookup_token_.assign(token);
    step_ = Step::kLookup;
    return;
  }
  bool ok = u && mysql::VerifyClientToken(plugin, token, scramble_, u->password);
  if (u && (!ok || !cb_->Sha2Cached(user_)) && plugin == mysql::kCachingSha2Plugin && tls) {
    // caching_sha2_password full authentication, as MySQL does on a cache miss: over TLS the
    // client sends its password in clear; afterwards this worker knows the user and takes
    // the fast path. Without TLS, a valid scramble is enough (sluice knows the password)
    // and an invalid one is refused: sluice does not speak RSA.
    SendAuthMoreData(mysql::kCachingSha2PerformFullAuth, out);
    step_ = Step::kFullAuth;
    return;
  }
  if (!ok) {
    Deny(!token.empty(), out);
    return;
  }
  // caching_sha2 fast path: sluice knows the password, so the scramble alone proves it.
  if (plugin == mysql::kCachingSha2Plugin) SendAuthMoreData(mysql::kCachingSha2FastAuthOk, out);
  Accept();
}

void MysqlClientLogin::OnLookupAnswer(const health::AuthAnswer& a, evbuffer* out) {
  if (step_ != Step::kLookup) return;
  const bool used_password = !lookup_token_.empty();
  std::string why;
  std::optional<mysql::Sha1Digest> sha1;
  if (a.kind == health::AuthAnswer::Kind::kFailed) {
    why = a.error;
  } else if (a.kind == health::AuthAnswer::Kind::kFound) {
    auto stored = mysql::ParseNativeVerifier(a.stored.verifier);
    if (!a.stored.plugin.empty() && a.stored.plugin != mysql::kNativePasswordPlugin)
      why = fmt::format("its plugin is {}; passthrough speaks mysql_native_password only",
                        a.stored.plugin);
    else if (!stored)
      why = "its authentication_string is not a mysql_native_password verifier";
    else
      sha1 = mysql::VerifyNativeToken(mysql::AsBytes(lookup_token_), mysql::AsBytes(scramble_),
                                      *stored);
  }
  if (!why.empty())
    log::Warn("session {}: passthrough login of '{}' refused: {}", conn_id_, user_, why);
  if (!sha1) {
    Deny(used_password, out);
    return;
  }
  // SHA1(pw) is what the backend's native-password challenge needs (User::proven_secret).
  cb_->OnPassthroughLogin(a.stored.verifier,
                          std::string(reinterpret_cast<const char*>(sha1->data()), sha1->size()));
  Accept();
}

void MysqlClientLogin::Accept() {
  step_ = Step::kDone;
  cb_->OnLoginAccepted();
}

void MysqlClientLogin::Deny(bool used_password, evbuffer* out) {
  step_ = Step::kDone;
  uint8_t seq = seq_ + 1;
  WritePacket(
      out, &seq,
      mysql::MakeErr(mysql::ER_ACCESS_DENIED_ERROR.code, mysql::ER_ACCESS_DENIED_ERROR.sql_state,
                     fmt::format(fmt::runtime(mysql::ER_ACCESS_DENIED_ERROR.message), user_,
                                 client_addr_, used_password ? "YES" : "NO")));
  cb_->OnLoginFailed(true);
}

void MysqlClientLogin::Fail(const char* message, uint8_t seq, evbuffer* out) {
  step_ = Step::kDone;
  if (message)
    WritePacket(out, &seq,
                mysql::MakeErr(mysql::ER_HANDSHAKE_ERROR.code, mysql::ER_HANDSHAKE_ERROR.sql_state,
                               message));
  cb_->OnLoginFailed(false);
}

}  // namespace sluice::mysqlproxy
