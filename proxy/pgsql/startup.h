// PgStartup: the PostgreSQL client's way in, up to AuthenticationOk: SSLRequest and
// GSSENCRequest, a CancelRequest, the StartupMessage (user, database, settings, protocol
// version negotiation), then SCRAM-SHA-256 or md5. It reads the client's bytes and writes
// its answers to the buffers it is given, and reports to its callbacks; no socket.
#pragma once

#include <event2/buffer.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "health/auth_lookup.h"
#include "protocol/pgsql/scram.h"
#include "routing/runtime.h"

namespace sluice::pgproxy {

class PgStartup {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    // True when the cluster has its maximum of clients already (this one counted).
    virtual bool OverClientLimit() = 0;
    // The user of this cluster called name, or nullptr.
    virtual const User* FindLoginUser(const std::string& name) = 0;
    // Passthrough authentication (Cluster::auth_user): whether a user the cluster does not
    // have is looked up; LookupUser starts that (the session hands the answer to
    // OnLookupAnswer later; false: too many lookups wait); OnPassthroughLogin: the client
    // proved the looked-up user, whom the session keeps (before OnAuthenticated).
    virtual bool LookupEnabled() = 0;
    virtual bool LookupUser(const std::string& name) = 0;
    virtual void OnPassthroughLogin(std::string verifier, std::string proven_secret) = 0;
    // True when this cluster has a certificate: an SSLRequest is answered 'S'.
    virtual bool TlsAvailable() = 0;
    // 'S' is written: upgrade the connection to TLS now (the StartupMessage comes over it).
    virtual void OnTlsRequested() = 0;
    virtual void OnCancelRequest(int32_t pid, uint32_t secret) = 0;
    // AuthenticationOk is written: the session logs in to a backend.
    virtual void OnAuthenticated() = 0;
    // A FATAL was written (refused: a wrong password, counted as a refused connection);
    // the session closes.
    virtual void OnStartupFailed(bool refused) = 0;
    // The client's bytes were malformed (08P01); called before OnStartupFailed.
    virtual void OnStartupProtocolError() {}
  };

  explicit PgStartup(Callbacks* cb) : cb_(cb) {}
  // The connection's pre-auth read bound (client_preauth_bytes): a SASL message declared
  // larger than it could never arrive whole, so it is refused at once.
  void set_preauth_bytes(size_t bytes) { preauth_bytes_ = bytes; }

  // Reads what the client sent so far from in; answers go to out.
  void OnClientData(evbuffer* in, evbuffer* out, bool tls);
  bool active() const { return step_ != Step::kDone; }
  // The passthrough lookup's answer (after LookupUser): the authentication exchange starts
  // against the stored verifier (SCRAM or md5); an unknown user goes through SCRAM against a
  // throw-away verifier and is refused at its end, as a configured miss is.
  void OnLookupAnswer(const health::AuthAnswer& a, evbuffer* in, evbuffer* out);

  const std::string& user() const { return user_; }
  const std::string& database() const { return database_; }
  // Settings from the StartupMessage: lower-case name -> value.
  std::map<std::string, std::string>& settings() { return settings_; }

 private:
  enum class Step { kStartup, kLookup, kSaslInitial, kSaslResponse, kMd5, kDone };
  size_t preauth_bytes_ = 16384;
  void HandleStartup(evbuffer* in, evbuffer* out, bool tls);
  void BeginAuth(evbuffer* in, evbuffer* out);
  void OfferMd5(evbuffer* in, evbuffer* out);
  void OfferScram(const pgsql::ScramVerifier* v, evbuffer* in, evbuffer* out);
  void HandleSasl(evbuffer* in, evbuffer* out);
  void HandleMd5(evbuffer* in, evbuffer* out);
  void Fail(std::string_view sqlstate, std::string_view message, evbuffer* out,
            bool refused = false);
  void Authenticated(evbuffer* out);

  Callbacks* cb_;
  Step step_ = Step::kStartup;
  std::string user_;
  std::string database_;
  std::map<std::string, std::string> settings_;
  std::optional<pgsql::ScramServerSession> scram_;
  bool user_known_ = false;
  // A passthrough user: the verifier the lookup found (SCRAM-SHA-256$… or md5…); "": none.
  std::string passthrough_verifier_;
  std::optional<pgsql::ScramVerifier> passthrough_scram_;
  std::array<uint8_t, 4> md5_salt_{};
};

}  // namespace sluice::pgproxy
