// MysqlSession, the login: what sluice offers (capabilities), MysqlClientLogin's callbacks
// (users, the caching_sha2 fast-path cache, TLS), the login's end (the client count, the
// user's max_connections, the schema check) and COM_CHANGE_USER's new login.
#include "common/log.h"
#include "protocol/mysql/constants.h"
#include "proxy/mysql/session.h"
#include "proxy/shared.h"
#include "proxy/worker.h"

namespace sluice::mysqlproxy {
namespace {

// The capabilities sluice offers clients. Not offered: CLIENT_SSL (until TLS is set up),
// CLIENT_DEPRECATE_EOF? It is offered: backends are opened with the client's own set, so
// both sides agree. MARIADB_CLIENT_CACHE_METADATA is never offered: sluice forwards
// result sets byte for byte and does not keep clients' metadata caches.
constexpr uint64_t kServerCaps =
    mysql::CLIENT_LONG_PASSWORD | mysql::CLIENT_FOUND_ROWS | mysql::CLIENT_LONG_FLAG |
    mysql::CLIENT_CONNECT_WITH_DB | mysql::CLIENT_NO_SCHEMA | mysql::CLIENT_ODBC |
    mysql::CLIENT_IGNORE_SPACE | mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_INTERACTIVE |
    mysql::CLIENT_IGNORE_SIGPIPE | mysql::CLIENT_TRANSACTIONS | mysql::CLIENT_SECURE_CONNECTION |
    mysql::CLIENT_MULTI_STATEMENTS | mysql::CLIENT_MULTI_RESULTS | mysql::CLIENT_PS_MULTI_RESULTS |
    mysql::CLIENT_PLUGIN_AUTH | mysql::CLIENT_CONNECT_ATTRS |
    mysql::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | mysql::CLIENT_SESSION_TRACK |
    mysql::CLIENT_DEPRECATE_EOF | mysql::CLIENT_COMPRESS;

}  // namespace

uint64_t MysqlSession::OfferedCaps() const {
  uint64_t caps = kServerCaps;
  if (worker_->shared()->tls[cluster_index_]) caps |= mysql::CLIENT_SSL;
  if (cluster().local_infile) caps |= mysql::CLIENT_LOCAL_FILES;
  return caps;
}

const User* MysqlSession::FindLoginUser(const std::string& name) {
  return ClusterUser(name);
}

bool MysqlSession::Sha2Cached(const std::string& user) {
  return worker_->sha2_cache().count(user) > 0;
}

void MysqlSession::NoteSha2(const std::string& user) {
  worker_->sha2_cache().insert(user);
}

void MysqlSession::OnPassthroughLogin(std::string verifier, std::string proven_secret) {
  SetPassthroughUser(
      PassthroughUser(cluster(), login_->user(), std::move(verifier), std::move(proven_secret)));
}

void MysqlSession::OnPassthroughAnswer(const health::AuthAnswer& a) {
  if (login_) login_->OnLookupAnswer(a, client_.output());
  EndLoginIfDone();
  if (!closed()) FlushWrites();
}

void MysqlSession::EndLoginIfDone() {
  if (!login_ || login_->active()) return;
  resume_ = login_->resume();
  login_.reset();
}

void MysqlSession::OnTlsRequested() {
  if (!client_.UpgradeTls(tls_context())) Close();
}

void MysqlSession::OnLoginFailed(bool refused) {
  if (refused)
    worker_->stats().client_connections_refused++;
  else
    CountProtocolError();
  Close();
}

void MysqlSession::OnLoginAccepted() {
  if (!Authenticated()) {  // one over max_client_connections (counted as refused)
    SendErr(mysql::ER_CON_COUNT_ERROR, mysql::ER_CON_COUNT_ERROR.message, login_->seq() + 1);
    Close();
    return;
  }
  caps_ = login_->caps();
  charset_ = login_->charset();
  user_ = login_->user();
  want_.schema = login_->database();
  session_mode_ = SessionPooled();
  const User* u = ClusterUser(user_);
  if (int64_t held = 0; u && !AdmitUser(*u, &held)) {
    SendErr(mysql::ER_USER_LIMIT_REACHED,
            fmt::format(fmt::runtime(mysql::ER_USER_LIMIT_REACHED.message), user_,
                        "max_user_connections", u->max_connections),
            login_->seq() + 1);
    Close();
    return;
  }
  if (want_.schema.empty() && u) want_.schema = u->default_schema;
  MaybeMirror();  // sampled once, with the login's schema
  if (want_.schema.empty()) {
    SendOk(login_->seq() + 1);
    if (!LoginDone()) return;
    phase_ = Phase::kIdle;
    ProcessClientInput();
    return;
  }
  // The schema must exist (ER_BAD_DB_ERROR at connect, as MySQL does): check it on a
  // backend connection, which the schema sync step does anyway.
  cur().cmd = Command{};
  cur().forwarder.Begin();
  lease_.NewStatement();
  cur().cmd.internal_check = true;
  cur().cmd.info.is_read = true;
  seq_ = login_->seq() + 1;
  StartCommand();
}

// COM_CHANGE_USER: a new login on the same connection. Everything the old user set is
// dropped; a transaction or pinned state ends with its backend connection.
void MysqlSession::HandleChangeUser(const std::string& payload) {
  if (ShadowSession* sh = shadow())
    sh->Cut(mirror::CutReason::kOther, "COM_CHANGE_USER: another user's session");
  if (backend_) ReleaseBackend(!pins_.in_txn && !pins_.pinned());
  DropAllStatements();
  want_ = SessionState{};
  ForgetPinnedState();
  lost_state_ = false;
  bound_ = false;
  status_ = default_status_;
  phase_ = Phase::kLogin;
  // The login ended before (or is still on the stack, when this command came in the same
  // read as the end of the login): made again from what it kept, or reused.
  if (!login_) {
    login_ = std::make_unique<MysqlClientLogin>(static_cast<MysqlClientLogin::Callbacks*>(this),
                                                conn_id(), client_addr_, resume_);
    login_->set_preauth_bytes(preauth_bytes());
  }
  login_->ChangeUser(payload, client_.output(), client_.tls());
}

}  // namespace sluice::mysqlproxy
