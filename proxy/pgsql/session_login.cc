// PgSession, the login: PgStartup's callbacks (users, TLS, cancel requests, the client
// count), the backend login that checks the database, the end of the login (the startup
// settings applied on the login's connection, then what the client learns: ParameterStatus,
// BackendKeyData, ReadyForQuery), or, while the primary is held or does not answer, the
// login answered from what an earlier backend login reported (login_params.h),
// the pins that keep a connection for the session and their statistics, and the server's
// own FATAL passed on to the client.
#include <fmt/format.h>

#include "common/log.h"
#include "common/stats.h"
#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/message.h"
#include "proxy/pgsql/cancel.h"
#include "proxy/pgsql/login_params.h"
#include "proxy/pgsql/session.h"
#include "proxy/worker.h"

namespace sluice::pgproxy {

namespace state = pgsql::sqlstate;

namespace {
// A login whose backend has not answered in this long is answered from the cache when it
// can be: a connect to a hung primary waits connect_timeout_ms (3 s by default), as long
// as many clients' own connect timeout (docs/operations.md, "Logins during a failover").
constexpr int64_t kLoginAnswerMs = 1000;
}  // namespace

const User* PgSession::FindLoginUser(const std::string& name) {
  return ClusterUser(name);
}

void PgSession::OnPassthroughLogin(std::string verifier, std::string proven_secret) {
  SetPassthroughUser(
      PassthroughUser(cluster(), startup_->user(), std::move(verifier), std::move(proven_secret)));
}

void PgSession::OnPassthroughAnswer(const health::AuthAnswer& a) {
  if (!startup_) return;  // the login ended already
  startup_->OnLookupAnswer(a, client_.input(), client_.output());
  ReleaseStartup();
  FlushWrites();
}

bool PgSession::OverClientLimit() {
  return ClientsAtLimit();
}

bool PgSession::TlsAvailable() {
  return tls_context() != nullptr;
}

void PgSession::OnTlsRequested() {
  if (!client_.UpgradeTls(tls_context())) Close();
}

void PgSession::OnCancelRequest(int32_t pid, uint32_t secret) {
  // No response is ever sent on a cancel connection.
  PostCancel(worker_, pid, secret);
  Close();
}

void PgSession::OnStartupFailed(bool refused) {
  if (refused) worker_->stats().client_connections_refused++;
  Close();
}

void PgSession::OnAuthenticated() {
  if (!Authenticated()) {  // one over max_client_connections (counted as refused)
    FailLogin(state::kTooManyConnections, "sorry, too many clients already");
    return;
  }
  user_ = startup_->user();
  database_ = startup_->database();
  settings_.Start(startup_->settings());
  const User* u = FindLoginUser(user_);
  transaction_mode_ =
      (u && u->pool_mode ? *u->pool_mode : cluster().pool_mode) == PoolMode::kTransaction;
  BeginLoginBackend();
}

void PgSession::BeginLoginBackend() {
  phase_ = Phase::kLoginBackend;
  const User* u = ClusterUser(user_);  // one of its max_connections, from here to the close
  if (int64_t held = 0; u && !user_admitted() && !AdmitUser(*u, &held)) {
    FailLogin(state::kTooManyConnections,
              fmt::format("too many connections for role \"{}\"", user_));
    return;
  }
  // The writer checks the database (3D000 comes from the server) and gives the settings.
  StatementInfo info;
  RouteRequest req;
  req.info = &info;
  req.user = user_;
  req.schema = database_;
  req.client_addr = client_addr_;
  RouteResult route = lease_.Route(req);
  // The primary is held (a failover, or a connect it refused): the login ends without a
  // backend when an earlier one of this cluster, database and user taught its settings;
  // the first login ever waits for the new primary (RetryHeld).
  if ((route.hold || lease_.holding()) && AnswerLoginFromCache()) return;
  if (route.hold) return;
  if (route.server < 0) {
    FailLogin(state::kConnectionFailure, route.message);
    return;
  }
  // A backend that does not answer soon (a hung primary) does not keep the login either.
  if (worker_->pg_login_params().Find(cluster().name, database_, user_))
    timer_.Arm(TimeoutReason::kLoginAnswer, kLoginAnswerMs);
  Acquire(route.server);
}

void PgSession::OnLoginAnswerTimeout() {
  if (phase_ != Phase::kLoginBackend || backend_) return;
  AnswerLoginFromCache();
  FlushWrites();
}

bool PgSession::AnswerLoginFromCache() {
  const PgLoginParams::Params* cached =
      worker_->pg_login_params().Find(cluster().name, database_, user_);
  if (!cached) return false;
  lease_.EndHold();
  worker_->Unhold(this);
  CancelLeaseWait();
  if (connecting_) connecting_->SetOwner(nullptr);  // a login under way goes on to the pool
  connecting_ = nullptr;
  timer_.Disarm(TimeoutReason::kLoginAnswer);
  // The server's settings as that login reported them, with the client's startup settings
  // over them (application_name: the client's own, or empty as the server would say).
  std::map<std::string, std::string> own;
  for (const auto& [name, value] : settings_.startup()) own[Lower(name)] = value;
  std::string out;
  for (const auto& [name, value] : *cached) {
    std::string lower = Lower(name);
    auto it = own.find(lower);
    std::string_view v = it != own.end()               ? std::string_view(it->second)
                         : lower == "application_name" ? std::string_view()
                                                       : std::string_view(value);
    pgsql::AppendParameterStatus(&out, name, v);
  }
  // The database is checked by the first statement's backend login; a refusal there is the
  // FATAL this login would have ended with (OnBackendError).
  login_unchecked_ = true;
  log::Debug("pgsql session of {}: login to {} answered by sluice (primary held)", client_addr_,
             database_);
  ReportLogin(&out, 0);
  if (!transaction_mode_) pinned_ = true;  // session mode: the first backend stays for life
  ProcessClientInput();
  return true;
}

void PgSession::FinishLogin() {
  // The startup settings and `options` first: one the server refuses ends the login, as it
  // would directly (HandleSyncResponse goes on with SendLoginReport).
  login_sync_ = true;
  if (StartParamSync()) return;
  login_sync_ = false;
  SendLoginReport();
}

void PgSession::SendLoginReport() {
  std::string out;
  // The connection's settings, after the client's were applied: what the server would say.
  for (const auto& [name, value] : backend_->params()) {
    auto it = backend_->param_names().find(name);
    pgsql::AppendParameterStatus(&out, it != backend_->param_names().end() ? it->second : name,
                                 value);
  }
  // Session mode: the client keeps this connection, so it is told the server's own pid
  // (pg_backend_pid(), pg_stat_activity and NOTIFY agree); the secret is sluice's, so a
  // cancel still goes through sluice (cancel.h), where two servers' equal pids differ by it.
  // Transaction mode: a pid sluice makes (docs/architecture.md, compatibility).
  ReportLogin(&out, transaction_mode_ ? 0 : backend_->pid());
  if (transaction_mode_)
    ReleaseBackend(true);
  else
    pinned_ = true;  // session mode: this backend serves the client for its life
  ProcessClientInput();
}

void PgSession::ReportLogin(std::string* out, int32_t server_pid) {
  worker_->pg_cancel_keys().Register(this, server_pid, &pid_, &secret_);
  has_cancel_key_ = true;
  pgsql::AppendBackendKeyData(out, pgsql::BackendKeyData{pid_, secret_});
  pgsql::AppendReadyForQuery(out, pgsql::kTxIdle);
  AppendTo(client_.output(), *out);
  phase_ = Phase::kReady;
  MaybeMirror();  // sampled once, logged in with its database and settings
}

void PgSession::PinFor(uint32_t reasons) {
  pinned_ = true;
  uint32_t fresh = reasons & ~pin_reasons_;
  pin_reasons_ |= reasons;
  if (!transaction_mode_) return;  // session mode keeps its connection anyway
  for (int i = 0; i < kPgPinReasons; ++i)
    if (fresh & (1u << i))
      worker_->stats().session_pins[fmt::format("{}/{}", cluster().name, PgPinName(i))]++;
}

bool PgSession::ForwardServerFatal(std::string_view payload, bool session_ends) {
  if (payload.empty()) return false;
  std::string out;
  if (session_ends) {
    // As the server sent it: the client sees what it would see directly.
    pgsql::AppendMessage(&out, pgsql::backend::kErrorResponse, payload);
  } else {
    // The session goes on (transaction pooling, between transactions): the server's code
    // and text, as an ERROR the client can continue after.
    auto e = pgsql::DecodeErrorFields(
        {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()});
    if (!e.ok()) return false;
    pgsql::AppendErrorResponse(
        &out, pgsql::ErrorSpec{"ERROR", e->sqlstate(), e->message(), e->Get('D'), e->Get('H')});
  }
  if (client_.open()) AppendTo(client_.output(), out);
  return true;
}

}  // namespace sluice::pgproxy
