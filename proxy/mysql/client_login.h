// MysqlClientLogin: the MySQL client's login to sluice, from the greeting to OK or ERR:
// the scramble, the plugin (mysql_native_password, caching_sha2_password with its fast and
// full paths, an auth switch for any other), and COM_CHANGE_USER's re-entry. It reads the
// client's bytes and writes its answers to the buffers it is given, and reports to its
// callbacks; it never touches a socket.
#pragma once

#include <event2/buffer.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "health/auth_lookup.h"
#include "protocol/mysql/auth.h"
#include "protocol/mysql/handshake.h"
#include "routing/runtime.h"

namespace sluice::mysqlproxy {

class MysqlClientLogin {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    // The user of this cluster called name, or nullptr.
    virtual const User* FindLoginUser(const std::string& name) = 0;
    // Whether this worker has seen the user through caching_sha2 full authentication.
    virtual bool Sha2Cached(const std::string& user) = 0;
    virtual void NoteSha2(const std::string& user) = 0;
    // Passthrough authentication (Cluster::auth_user): whether a user the cluster does not
    // have is looked up; LookupUser starts that (the session hands the answer to
    // OnLookupAnswer later; false: too many lookups wait); OnPassthroughLogin: the client
    // proved the looked-up user, whom the session keeps (before OnLoginAccepted).
    virtual bool LookupEnabled() = 0;
    virtual bool LookupUser(const std::string& name) = 0;
    virtual void OnPassthroughLogin(std::string verifier, std::string proven_secret) = 0;
    // SSLRequest: upgrade the client connection to TLS now.
    virtual void OnTlsRequested() = 0;
    // The client proved its password; the session answers (OK, or its schema check).
    virtual void OnLoginAccepted() = 0;
    // An ERR was written (refused: a wrong password or an unknown user, counted as a
    // refused connection; else a malformed packet); the session closes.
    virtual void OnLoginFailed(bool refused) = 0;
  };

  MysqlClientLogin(Callbacks* cb, uint32_t conn_id, uint64_t offered_caps, std::string client_addr);
  // What COM_CHANGE_USER needs of a login that ended (the greeting's scramble, what was
  // negotiated): the session keeps this and frees the login in between.
  struct Resume {
    mysql::Scramble scramble{};
    uint64_t offered_caps = 0;
    uint64_t caps = 0;
    uint8_t charset = 45;
  };
  Resume resume() const;
  // A login for COM_CHANGE_USER, on the connection whose ended login gave R.
  MysqlClientLogin(Callbacks* cb, uint32_t conn_id, std::string client_addr, const Resume& r);
  // The connection's pre-auth read bound (client_preauth_bytes): a login packet that does
  // not fit in it is refused at once.
  void set_preauth_bytes(size_t bytes) { preauth_bytes_ = bytes; }

  // The initial handshake packet (a fresh scramble) with the backend's version string,
  // the capabilities sluice offers (they replace the constructor's) and status flags.
  void SendGreeting(evbuffer* out, const std::string& version, uint64_t offered_caps,
                    uint16_t status_flags);
  // Reads the client's login packets from in while the login runs (tls: the connection is
  // encrypted already, tls_available: an SSLRequest may upgrade it).
  void OnClientData(evbuffer* in, evbuffer* out, bool tls, bool tls_available);
  // COM_CHANGE_USER (its whole payload; caps as negotiated): a new login on the connection.
  void ChangeUser(const std::string& payload, evbuffer* out, bool tls);
  bool active() const { return step_ != Step::kDone; }
  // The passthrough lookup's answer (after LookupUser): the client's token is checked
  // against the stored verifier now, and the answer (OK via OnLoginAccepted, or ERR) goes
  // to out.
  void OnLookupAnswer(const health::AuthAnswer& a, evbuffer* out);

  // Known once the HandshakeResponse (or COM_CHANGE_USER) is read.
  const std::string& user() const { return user_; }
  const std::string& database() const { return database_; }
  uint64_t caps() const { return caps_; }
  uint8_t charset() const { return charset_; }
  // The sequence id of the client's last login packet: the answer goes with the next one.
  uint8_t seq() const { return seq_; }

 private:
  enum class Step { kHandshake, kAuthSwitch, kFullAuth, kLookup, kDone };
  size_t preauth_bytes_ = 16384;
  void Begin(const mysql::HandshakeResponse& resp, evbuffer* out, bool tls);
  void Switch(const std::string& plugin, evbuffer* out);
  void Authenticate(const std::string& plugin, std::string_view token, evbuffer* out, bool tls);
  void Deny(bool used_password, evbuffer* out);
  void Fail(const char* message, uint8_t seq, evbuffer* out);
  void Accept();
  void SendAuthMoreData(uint8_t what, evbuffer* out);

  Callbacks* cb_;
  uint32_t conn_id_;
  uint64_t offered_caps_;
  std::string client_addr_;
  Step step_ = Step::kHandshake;
  std::string scramble_;
  std::string plugin_;  // of the pending auth switch
  std::string user_;
  std::string database_;
  uint64_t caps_ = 0;
  uint8_t charset_ = 45;
  uint8_t seq_ = 0;
  std::string lookup_token_;  // the native-password token that waits for the lookup
};

}  // namespace sluice::mysqlproxy
