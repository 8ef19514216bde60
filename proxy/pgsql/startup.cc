#include "proxy/pgsql/startup.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <unordered_map>

#include <fmt/format.h>

#include "common/log.h"
#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/md5.h"
#include "protocol/pgsql/message.h"
#include "protocol/pgsql/options.h"
#include "protocol/pgsql/startup.h"
#include "proxy/janitor.h"
#include "proxy/pgsql/backend.h"
#include "proxy/pgsql/wire.h"

namespace sluice::pgproxy {
namespace {

namespace fe = pgsql::frontend;
namespace state = pgsql::sqlstate;

// The largest SASL message a client may send is the pre-auth read-ahead
// (client_preauth_bytes) less a margin: SCRAM's messages are a few hundred bytes; one
// declared larger could never arrive whole, so it is refused at once instead of waiting out
// the login timeout.
constexpr uint32_t kSaslMargin = 16;

// Startup parameters that are not settings.
bool IsSettingParam(std::string_view name) {
  return name != "user" && name != "database" && name != "replication" && name != "options" &&
         name.substr(0, 5) != "_pq_.";
}

// A boolean startup parameter that says no (replication=false/off/no/0).
bool IsFalse(std::string_view v) {
  std::string l = Lower(v);
  return l == "false" || l == "off" || l == "no" || l == "0" || l == "f" || l == "n";
}

// SCRAM verifiers cost 4096 PBKDF2 rounds: derive each user's once per worker thread.
const pgsql::ScramVerifier* VerifierFor(const std::string& user, const std::string& password) {
  thread_local std::unordered_map<std::string, std::pair<std::string, pgsql::ScramVerifier>> cache;
  auto it = cache.find(user);
  if (it != cache.end() && it->second.first == password) return &it->second.second;
  // The configured password is the plaintext, or the stored verifier itself (validated).
  auto v = password.rfind("SCRAM-SHA-256$", 0) == 0 ? pgsql::ParseVerifier(password)
                                                    : pgsql::MakeVerifierWithRandomSalt(password);
  if (!v.ok()) return nullptr;
  if (cache.size() > 10000) cache.clear();
  auto& slot = cache[user];
  slot = {password, std::move(v).value()};
  return &slot.second;
}

}  // namespace

void PgStartup::OnClientData(evbuffer* in, evbuffer* out, bool tls) {
  switch (step_) {
    case Step::kStartup:
      HandleStartup(in, out, tls);
      break;
    case Step::kSaslInitial:
    case Step::kSaslResponse:
      HandleSasl(in, out);
      break;
    case Step::kMd5:
      HandleMd5(in, out);
      break;
    case Step::kLookup:  // what the client sends waits for the lookup's answer
    case Step::kDone:
      break;
  }
}

void PgStartup::HandleStartup(evbuffer* in, evbuffer* out, bool tls) {
  // A bounded loop: SSLRequest / GSSENCRequest then the StartupMessage.
  for (int round = 0; round < 4 && step_ == Step::kStartup; ++round) {
    size_t avail = evbuffer_get_length(in);
    if (avail == 0) return;
    size_t take = std::min<size_t>(avail, pgsql::kMaxStartupPacketLength + 4);
    const uint8_t* p = evbuffer_pullup(in, static_cast<ev_ssize_t>(take));
    if (p[0] == fe::kTerminate) {
      // A Terminate before any StartupMessage (a client that gives up): the server closes
      // without a word, and so does sluice.
      evbuffer_drain(in, avail);
      step_ = Step::kDone;
      cb_->OnStartupFailed(false);
      return;
    }
    size_t consumed = 0;
    pgsql::StartupResult r = pgsql::DecodeStartup({p, take}, &consumed);
    switch (r.kind) {
      case pgsql::StartupKind::kNeedMoreData:
        // A packet longer than the pre-auth read-ahead (client_preauth_bytes) could never
        // arrive whole: refused now, as PostgreSQL refuses one over its own bound.
        if (take >= 4 && ((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) |
                          p[3]) > preauth_bytes_) {
          Fail(state::kProtocolViolation, "invalid length of startup packet", out);
          return;
        }
        return;
      case pgsql::StartupKind::kError:
        Fail(state::kProtocolViolation, r.error, out);
        return;
      case pgsql::StartupKind::kSslRequest:
        evbuffer_drain(in, consumed);
        if (!tls && cb_->TlsAvailable()) {
          // 'S' goes out in the clear, then the TLS handshake runs over the same socket.
          evbuffer_add(out, "S", 1);
          cb_->OnTlsRequested();
          return;
        }
        evbuffer_add(out, "N", 1);  // no certificate: the client goes on in the clear
        continue;
      case pgsql::StartupKind::kGssEncRequest:
        // GSS encryption is not offered: the client retries in the clear or with SSLRequest.
        evbuffer_drain(in, consumed);
        evbuffer_add(out, "N", 1);
        continue;
      case pgsql::StartupKind::kCancel:
        evbuffer_drain(in, consumed);
        step_ = Step::kDone;
        cb_->OnCancelRequest(r.cancel.pid, r.cancel.secret);
        return;
      case pgsql::StartupKind::kStartup:
        break;
    }
    evbuffer_drain(in, consumed);
    const pgsql::StartupMessage& m = r.startup;
    user_ = std::string(m.Get("user"));
    database_ =
        m.Has("database") && !m.Get("database").empty() ? std::string(m.Get("database")) : user_;
    if (user_.empty()) {
      Fail(state::kInvalidAuthorizationSpecification,
           "no PostgreSQL user name specified in startup packet", out);
      return;
    }
    if (m.Has("replication") && !IsFalse(m.Get("replication"))) {
      // A walsender session (physical or logical replication) is not a SQL session: sluice
      // does not turn it into one (docs/protocol-notes.md §Startup).
      Fail(state::kFeatureNotSupported,
           "sluice does not proxy replication connections (replication=" +
               std::string(m.Get("replication")) +
               "); connect to the primary server directly for replication",
           out);
      return;
    }
    // `options` first, then the StartupMessage's own settings, which win (as the server
    // applies them).
    auto options = pgsql::ParseStartupOptions(m.Get("options"));
    if (!options.ok()) {
      Fail(state::kSyntaxError, options.status().message(), out);
      return;
    }
    for (auto& [name, value] : *options) settings_[name] = value;
    for (const auto& [name, value] : m.params)
      if (IsSettingParam(name)) settings_[Lower(name)] = value;
    // The session's application_name is the client's, empty when it sent none.
    settings_.try_emplace("application_name", "");
    std::vector<std::string> opts = m.ProtocolOptions();
    if (m.minor > pgsql::kNewestMinorVersion || !opts.empty()) {
      std::string msg;
      pgsql::AppendNegotiateProtocolVersion(&msg, pgsql::kNewestMinorVersion, opts);
      AppendTo(out, msg);
    }
    if (cb_->OverClientLimit()) {
      Fail(state::kTooManyConnections, "sorry, too many clients already", out, true);
      return;
    }
    BeginAuth(in, out);
    return;
  }
}

void PgStartup::BeginAuth(evbuffer* in, evbuffer* out) {
  const User* u = cb_->FindLoginUser(user_);
  user_known_ = u != nullptr;
  if (!u && cb_->LookupEnabled()) {
    // Passthrough: the primary's verifier for the user comes back in OnLookupAnswer.
    if (!cb_->LookupUser(user_)) {
      Fail(state::kTooManyConnections, "sorry, too many clients already (user lookups)", out, true);
      return;
    }
    step_ = Step::kLookup;
    return;
  }
  // An unknown user goes through SCRAM against a throw-away verifier, as the server
  // does, so that the answer does not tell which users exist.
  if (user_known_ && u->pg_auth == "md5") {
    // The user is configured for md5 (PostgreSQL's "md5" pg_hba method): a salted
    // challenge instead of SCRAM.
    OfferMd5(in, out);
    return;
  }
  OfferScram(user_known_ ? VerifierFor(user_, u->password) : VerifierFor("", "sluice-no-such-user"),
             in, out);
}

void PgStartup::OnLookupAnswer(const health::AuthAnswer& a, evbuffer* in, evbuffer* out) {
  if (step_ != Step::kLookup) return;
  using Kind = health::AuthAnswer::Kind;
  if (a.kind == Kind::kFailed) {
    log::Warn("passthrough login of '{}' refused: {}", user_, a.error);
    Fail(state::kConnectionFailure,
         fmt::format("sluice could not look up user \"{}\" (see the sluice log)", user_), out,
         true);
    return;
  }
  if (a.kind == Kind::kNotFound) {
    user_known_ = false;
    OfferScram(VerifierFor("", "sluice-no-such-user"), in, out);
    return;
  }
  const std::string& stored = a.stored.verifier;
  user_known_ = true;
  passthrough_verifier_ = stored;
  if (stored.starts_with("md5") && stored.size() == 35) {
    OfferMd5(in, out);
    return;
  }
  auto v = pgsql::ParseVerifier(stored);
  if (!v.ok()) {
    log::Warn(
        "passthrough login of '{}' refused: its stored password is neither a SCRAM-SHA-256 "
        "verifier nor an md5 hash",
        user_);
    Fail(state::kInvalidPassword,
         fmt::format("password authentication failed for user \"{}\"", user_), out, true);
    return;
  }
  passthrough_scram_ = std::move(v).value();
  OfferScram(&*passthrough_scram_, in, out);
}

void PgStartup::OfferMd5(evbuffer* in, evbuffer* out) {
  RAND_bytes(md5_salt_.data(), static_cast<int>(md5_salt_.size()));
  std::string msg;
  pgsql::AppendAuthenticationMd5Password(&msg, md5_salt_);
  AppendTo(out, msg);
  step_ = Step::kMd5;
  if (evbuffer_get_length(in)) HandleMd5(in, out);
}

void PgStartup::OfferScram(const pgsql::ScramVerifier* v, evbuffer* in, evbuffer* out) {
  if (!v) {
    Fail(state::kInvalidPassword, "could not derive the SCRAM verifier", out);
    return;
  }
  scram_.emplace(*v);
  std::string msg;
  std::string_view mechs[] = {pgsql::kScramSha256};
  pgsql::AppendAuthenticationSasl(&msg, mechs);
  AppendTo(out, msg);
  step_ = Step::kSaslInitial;
  if (evbuffer_get_length(in)) HandleSasl(in, out);
}

void PgStartup::HandleSasl(evbuffer* in, evbuffer* out) {
  MsgHeader h;
  std::span<const uint8_t> p;
  PeekResult r = PeekMessage(in, &h, &p, static_cast<uint32_t>(preauth_bytes_) - kSaslMargin);
  if (r == PeekResult::kNeedMore) return;
  if (r == PeekResult::kBad || h.type != fe::kSaslResponse) {
    Fail(state::kProtocolViolation, "expected SASL response", out);
    return;
  }
  std::string failure = fmt::format("password authentication failed for user \"{}\"", user_);
  std::string msg;
  if (step_ == Step::kSaslInitial) {
    auto init = pgsql::DecodeSaslInitialResponse(p);
    if (!init.ok() || init->mechanism != pgsql::kScramSha256 || !init->data) {
      Fail(state::kProtocolViolation, "client selected an invalid SASL authentication mechanism",
           out);
      return;
    }
    auto first = scram_->ServerFirst(pgsql::AsStringView(*init->data));
    evbuffer_drain(in, h.total());
    if (!first.ok()) {
      Fail(first.status().code() == StatusCode::kPermissionDenied ? state::kInvalidPassword
                                                                  : state::kProtocolViolation,
           first.status().message(), out);
      return;
    }
    pgsql::AppendAuthenticationSaslContinue(&msg, *first);
    AppendTo(out, msg);
    step_ = Step::kSaslResponse;
    return;
  }
  auto fin = scram_->ServerFinal(pgsql::AsStringView(p));
  evbuffer_drain(in, h.total());
  if (!fin.ok() || !user_known_) {
    Fail(state::kInvalidPassword, failure, out, true);
    return;
  }
  if (!passthrough_verifier_.empty() && scram_->client_key()) {
    // The proof gave the ClientKey away: with the verifier's ServerKey it logs in to the
    // backend, which stores the same verifier (User::proven_secret).
    const pgsql::ScramKey& ck = *scram_->client_key();
    const pgsql::ScramKey& sk = scram_->verifier().server_key;
    std::string secret(reinterpret_cast<const char*>(ck.data()), ck.size());
    secret.append(reinterpret_cast<const char*>(sk.data()), sk.size());
    cb_->OnPassthroughLogin(passthrough_verifier_, std::move(secret));
  }
  pgsql::AppendAuthenticationSaslFinal(&msg, *fin);
  AppendTo(out, msg);
  Authenticated(out);
}

void PgStartup::HandleMd5(evbuffer* in, evbuffer* out) {
  MsgHeader h;
  std::span<const uint8_t> p;
  PeekResult r = PeekMessage(in, &h, &p, 1024);
  if (r == PeekResult::kNeedMore) return;
  if (r == PeekResult::kBad || h.type != fe::kPasswordMessage) {
    Fail(state::kProtocolViolation, "expected password response", out);
    return;
  }
  auto msg = pgsql::DecodePasswordMessage(p);
  const User* u = cb_->FindLoginUser(user_);
  bool ok = false;
  std::string want;
  if (!passthrough_verifier_.empty()) {
    // A passthrough md5 user: the stored hash is all the check needs (and all the backend's
    // md5 challenge needs later).
    auto w = pgsql::Md5PasswordFromHash(passthrough_verifier_, md5_salt_);
    if (w.ok()) want = std::move(w).value();
  } else if (u) {
    want = pgsql::Md5Password(user_, u->password, md5_salt_);
  }
  if (msg.ok() && !want.empty()) {
    ok = want.size() == msg->password.size() &&
         CRYPTO_memcmp(want.data(), msg->password.data(), want.size()) == 0;
  }
  evbuffer_drain(in, h.total());
  if (!ok) {
    Fail(state::kInvalidPassword,
         fmt::format("password authentication failed for user \"{}\"", user_), out, true);
    return;
  }
  if (!passthrough_verifier_.empty())
    cb_->OnPassthroughLogin(passthrough_verifier_, passthrough_verifier_);
  Authenticated(out);
}

void PgStartup::Authenticated(evbuffer* out) {
  std::string msg;
  pgsql::AppendAuthenticationOk(&msg);
  AppendTo(out, msg);
  step_ = Step::kDone;
  cb_->OnAuthenticated();
}

void PgStartup::Fail(std::string_view sqlstate, std::string_view message, evbuffer* out,
                     bool refused) {
  std::string msg;
  pgsql::AppendErrorResponse(&msg, pgsql::ErrorSpec{"FATAL", sqlstate, message, "", ""});
  AppendTo(out, msg);
  step_ = Step::kDone;
  if (sqlstate == state::kProtocolViolation) cb_->OnStartupProtocolError();
  cb_->OnStartupFailed(refused);
}

}  // namespace sluice::pgproxy
