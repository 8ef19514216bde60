#include "proxy/pgsql/session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/socket.h>

#include <unordered_map>

#include "common/clock.h"
#include "common/log.h"
#include "common/stats.h"
#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/md5.h"
#include "protocol/pgsql/message.h"
#include "protocol/pgsql/startup.h"
#include "proxy/backend_pool.h"
#include "proxy/lingering_close.h"
#include "proxy/net_address.h"
#include "proxy/shared.h"
#include "proxy/socket_io.h"
#include "proxy/tls.h"
#include "proxy/worker.h"
#include "routing/digest.h"

namespace sluice {

void StartPgsqlSession(Worker* w, size_t cluster_index, evutil_socket_t fd) {
  auto* s = new pgproxy::PgSession(w, cluster_index, fd);
  s->Start();
}

namespace pgproxy {
namespace {

// Classify() remembers the last statement up to this size (see PgSession::routed_text_).
constexpr size_t kMaxRememberedText = 512;

namespace fe = pgsql::frontend;
namespace be = pgsql::backend;
namespace state = pgsql::sqlstate;

// Bounds (DESIGN.md: every buffer has one).
constexpr uint32_t kMaxClientMessage = 64u << 20;  // one client message
constexpr uint32_t kMaxBackendMessage = pgsql::kMaxMessageLength;
constexpr size_t kClientReadHighWater = 1u << 20;  // client input read ahead
constexpr size_t kClientOutHighWater = 1u << 20;   // stop reading the backend above this
constexpr size_t kClientOutLowWater = 256u << 10;  // resume below this
constexpr size_t kBackendOutHighWater = 1u << 20;  // stop reading the client above this
constexpr size_t kBackendOutLowWater = 256u << 10;
constexpr int kPoolWaitTimeoutMs = 10000;
constexpr int kCancelTimeoutMs = 5000;
constexpr int kMaxConnectAttempts = 3;  // servers tried for one batch before it fails
constexpr std::string_view kNoopStatement = "sluice_closed_statement";

// What pins a backend connection beyond the transaction (PROTOCOL-NOTES.md, PostgreSQL
// "Session state in transaction pooling").
constexpr uint32_t kSessionPins = routing::kPinUserLock | routing::kPinTempTable |
                                  routing::kPinPrepare | routing::kPinListen |
                                  routing::kPinSessionSet | routing::kPinCursorHold;

// Startup parameters that are not settings.
bool IsSettingParam(std::string_view name) {
  return name != "user" && name != "database" && name != "replication" && name != "options" &&
         name.substr(0, 5) != "_pq_.";
}

bool SafeSettingName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
  return true;
}

std::string QuoteLiteral(std::string_view v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\0') break;
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

// SCRAM verifiers cost 4096 PBKDF2 rounds: derive each user's once per worker thread.
const pgsql::ScramVerifier* VerifierFor(const std::string& user, const std::string& password) {
  thread_local std::unordered_map<std::string, std::pair<std::string, pgsql::ScramVerifier>> cache;
  auto it = cache.find(user);
  if (it != cache.end() && it->second.first == password) return &it->second.second;
  auto v = pgsql::MakeVerifierWithRandomSalt(password);
  if (!v.ok()) return nullptr;
  if (cache.size() > 10000) cache.clear();
  auto& slot = cache[user];
  slot = {password, std::move(v).value()};
  return &slot.second;
}

uint64_t DatabaseVariant(std::string_view db) {
  return std::hash<std::string_view>()(db);
}

}  // namespace

PgSession::PgSession(Worker* w, size_t cluster_index, evutil_socket_t fd)
    : worker_(w), cluster_index_(cluster_index) {
  client_addr_ = PeerAddress(fd);
  client_ = bufferevent_socket_new(w->base(), fd, BEV_OPT_CLOSE_ON_FREE);
  UseDirectReads(client_);
  bufferevent_setcb(client_, &PgSession::OnClientRead, nullptr, &PgSession::OnClientEvent, this);
  bufferevent_setwatermark(client_, EV_READ, 0, kClientReadHighWater);
  worker_->AddSession(this);
}

PgSession::~PgSession() {
  if (client_) bufferevent_free(client_);
}

void PgSession::Start() {
  ClusterCounters& cc = *worker_->shared()->cluster_counters[cluster_index_];
  cc.client_connections.fetch_add(1, std::memory_order_relaxed);
  counted_ = true;
  bufferevent_enable(client_, EV_READ | EV_WRITE);
}

// ---- client events -------------------------------------------------------------------

void PgSession::OnClientRead(bufferevent*, void* arg) {
  auto* s = static_cast<PgSession*>(arg);
  switch (s->phase_) {
    case Phase::kStartup:
      s->HandleStartup();
      break;
    case Phase::kSaslInitial:
    case Phase::kSaslResponse:
      s->HandleSasl();
      break;
    case Phase::kMd5:
      s->HandleMd5();
      break;
    case Phase::kActive:
      s->ProcessClientInput();
      break;
    default:
      break;
  }
  s->FlushWrites();
}

void PgSession::OnClientWrite(bufferevent*, void* arg) {
  auto* s = static_cast<PgSession*>(arg);
  // The client caught up: read its backend again.
  bufferevent_setcb(s->client_, &PgSession::OnClientRead, nullptr, &PgSession::OnClientEvent, s);
  if (s->backend_ && !s->syncing_) {
    s->backend_->ResumeRead();
    s->ForwardResponse();
  }
  s->FlushWrites();
}

void PgSession::OnClientEvent(bufferevent*, short what, void* arg) {
  auto* s = static_cast<PgSession*>(arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) s->Close();
}

// ---- startup and authentication ------------------------------------------------------

// 'S' goes out in the clear, then the TLS handshake runs over the same socket; the
// StartupMessage arrives encrypted.
void PgSession::StartTls() {
  bufferevent_write(client_, "S", 1);
  bufferevent* tls = AcceptTls(worker_->base(), worker_->shared()->tls[cluster_index_], client_);
  if (!tls) {
    Close();
    return;
  }
  client_ = tls;
  tls_ = true;
  bufferevent_setcb(client_, &PgSession::OnClientRead, nullptr, &PgSession::OnClientEvent, this);
  bufferevent_setwatermark(client_, EV_READ, 0, kClientReadHighWater);
  bufferevent_enable(client_, EV_READ | EV_WRITE);
}

void PgSession::HandleStartup() {
  evbuffer* in = bufferevent_get_input(client_);
  // A bounded loop: SSLRequest / GSSENCRequest then the StartupMessage.
  for (int round = 0; round < 4 && phase_ == Phase::kStartup; ++round) {
    size_t avail = evbuffer_get_length(in);
    if (avail == 0) return;
    size_t take = std::min<size_t>(avail, pgsql::kMaxStartupPacketLength + 4);
    const uint8_t* p = evbuffer_pullup(in, static_cast<ev_ssize_t>(take));
    size_t consumed = 0;
    pgsql::StartupResult r = pgsql::DecodeStartup({p, take}, &consumed);
    switch (r.kind) {
      case pgsql::StartupKind::kNeedMoreData:
        return;
      case pgsql::StartupKind::kError:
        FailLogin(state::kProtocolViolation, r.error);
        return;
      case pgsql::StartupKind::kSslRequest:
        evbuffer_drain(in, consumed);
        if (!tls_ && worker_->shared()->tls[cluster_index_]) {
          StartTls();
          return;
        }
        bufferevent_write(client_, "N", 1);  // no certificate: the client goes on in the clear
        continue;
      case pgsql::StartupKind::kGssEncRequest:
        // GSS encryption is not offered: the client retries in the clear or with SSLRequest.
        evbuffer_drain(in, consumed);
        bufferevent_write(client_, "N", 1);
        continue;
      case pgsql::StartupKind::kCancel:
        evbuffer_drain(in, consumed);
        HandleCancel(r.cancel.pid, r.cancel.secret);
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
      FailLogin(state::kInvalidAuthorizationSpecification,
                "no PostgreSQL user name specified in startup packet");
      return;
    }
    for (const auto& [name, value] : m.params)
      if (IsSettingParam(name)) want_[Lower(name)] = value;
    std::vector<std::string> opts = m.ProtocolOptions();
    if (m.minor > pgsql::kNewestMinorVersion || !opts.empty()) {
      std::string out;
      pgsql::AppendNegotiateProtocolVersion(&out, pgsql::kNewestMinorVersion, opts);
      AppendTo(bufferevent_get_output(client_), out);
    }
    const RuntimePtr& rt = worker_->runtime().Current();
    const Cluster& cluster = rt->clusters[cluster_index_];
    int64_t n = worker_->shared()->cluster_counters[cluster_index_]->client_connections.load(
        std::memory_order_relaxed);
    if (n > cluster.max_client_connections) {
      FailLogin(state::kTooManyConnections, "sorry, too many clients already");
      return;
    }
    const User* u = rt->FindUser(user_);
    user_known_ = u && u->cluster == cluster.name;
    transaction_mode_ =
        (u && u->pool_mode ? *u->pool_mode : cluster.pool_mode) == PoolMode::kTransaction;
    // An unknown user goes through SCRAM against a throw-away verifier, as the server
    // does, so that the answer does not tell which users exist.
    if (user_known_ && u->pg_auth == "md5") {
      // The user is configured for md5 (PostgreSQL's "md5" pg_hba method): a salted
      // challenge instead of SCRAM.
      RAND_bytes(md5_salt_.data(), static_cast<int>(md5_salt_.size()));
      std::string out;
      pgsql::AppendAuthenticationMd5Password(&out, md5_salt_);
      AppendTo(bufferevent_get_output(client_), out);
      phase_ = Phase::kMd5;
      if (evbuffer_get_length(in)) HandleMd5();
      return;
    }
    const pgsql::ScramVerifier* v =
        user_known_ ? VerifierFor(user_, u->password) : VerifierFor("", "sluice-no-such-user");
    if (!v) {
      FailLogin(state::kInvalidPassword, "could not derive the SCRAM verifier");
      return;
    }
    scram_.emplace(*v);
    std::string out;
    std::string_view mechs[] = {pgsql::kScramSha256};
    pgsql::AppendAuthenticationSasl(&out, mechs);
    AppendTo(bufferevent_get_output(client_), out);
    phase_ = Phase::kSaslInitial;
    if (evbuffer_get_length(in)) HandleSasl();
    return;
  }
}

void PgSession::HandleCancel(int32_t pid, uint32_t secret) {
  // No response is ever sent on a cancel connection.
  if (auto target = FindCancelTarget(pid, secret)) SendCancel(worker_, *target, kCancelTimeoutMs);
  Close();
}

void PgSession::HandleSasl() {
  MsgHeader h;
  std::span<const uint8_t> p;
  PeekResult r = PeekMessage(bufferevent_get_input(client_), &h, &p, 64 * 1024);
  if (r == PeekResult::kNeedMore) return;
  if (r == PeekResult::kBad || h.type != fe::kSaslResponse) {
    FailLogin(state::kProtocolViolation, "expected SASL response");
    return;
  }
  std::string failure = fmt::format("password authentication failed for user \"{}\"", user_);
  std::string out;
  if (phase_ == Phase::kSaslInitial) {
    auto init = pgsql::DecodeSaslInitialResponse(p);
    if (!init.ok() || init->mechanism != pgsql::kScramSha256 || !init->data) {
      FailLogin(state::kProtocolViolation,
                "client selected an invalid SASL authentication mechanism");
      return;
    }
    auto first = scram_->ServerFirst(pgsql::AsStringView(*init->data));
    evbuffer_drain(bufferevent_get_input(client_), h.total());
    if (!first.ok()) {
      FailLogin(first.status().code() == StatusCode::kPermissionDenied ? state::kInvalidPassword
                                                                       : state::kProtocolViolation,
                first.status().message());
      return;
    }
    pgsql::AppendAuthenticationSaslContinue(&out, *first);
    AppendTo(bufferevent_get_output(client_), out);
    phase_ = Phase::kSaslResponse;
    return;
  }
  auto fin = scram_->ServerFinal(pgsql::AsStringView(p));
  evbuffer_drain(bufferevent_get_input(client_), h.total());
  if (!fin.ok() || !user_known_) {
    FailLogin(state::kInvalidPassword, failure);
    return;
  }
  pgsql::AppendAuthenticationSaslFinal(&out, *fin);
  pgsql::AppendAuthenticationOk(&out);
  AppendTo(bufferevent_get_output(client_), out);
  BeginLoginBackend();
}

void PgSession::HandleMd5() {
  MsgHeader h;
  std::span<const uint8_t> p;
  PeekResult r = PeekMessage(bufferevent_get_input(client_), &h, &p, 1024);
  if (r == PeekResult::kNeedMore) return;
  if (r == PeekResult::kBad || h.type != fe::kPasswordMessage) {
    FailLogin(state::kProtocolViolation, "expected password response");
    return;
  }
  auto msg = pgsql::DecodePasswordMessage(p);
  const RuntimePtr& rt = worker_->runtime().Current();
  const User* u = rt->FindUser(user_);
  bool ok = false;
  if (msg.ok() && u) {
    std::string want = pgsql::Md5Password(user_, u->password, md5_salt_);
    ok = want.size() == msg->password.size() &&
         CRYPTO_memcmp(want.data(), msg->password.data(), want.size()) == 0;
  }
  evbuffer_drain(bufferevent_get_input(client_), h.total());
  if (!ok) {
    FailLogin(state::kInvalidPassword,
              fmt::format("password authentication failed for user \"{}\"", user_));
    return;
  }
  std::string out;
  pgsql::AppendAuthenticationOk(&out);
  AppendTo(bufferevent_get_output(client_), out);
  BeginLoginBackend();
}

void PgSession::BeginLoginBackend() {
  phase_ = Phase::kLoginBackend;
  // The writer checks the database (3D000 comes from the server) and gives the settings.
  const RuntimePtr& rt = worker_->runtime().Current();
  StatementInfo info;
  RouteRequest req;
  req.info = &info;
  req.user = user_;
  req.schema = database_;
  req.client_addr = client_addr_;
  RouteResult route = worker_->router().Route(*rt, cluster_index_, req);
  if (route.hold) {
    // A failover or switchover is moving the primary: the login waits for it (bounded),
    // as a statement does, then routes again (RetryHeld).
    HoldUntilWritesResume(rt->clusters[cluster_index_]);
    return;
  }
  hold_deadline_ms_ = 0;
  if (route.server < 0) {
    FailLogin(state::kConnectionFailure, route.message);
    return;
  }
  acquiring_ = true;
  AcquireBackend(route.server);
}

void PgSession::HoldUntilWritesResume(const Cluster& cluster) {
  if (hold_deadline_ms_ == 0) hold_deadline_ms_ = MonotonicMs() + cluster.write_hold_timeout_ms;
  acquiring_ = true;
  worker_->Hold(this, hold_deadline_ms_);
}

void PgSession::FinishLogin() {
  std::string out;
  std::map<std::string, std::string> report;
  for (const auto& [name, value] : backend_->params()) report[name] = value;
  for (const auto& [name, value] : want_)
    if (report.count(name)) report[name] = value;  // sluice applies them per backend
  for (const auto& [name, value] : report) {
    auto it = backend_->param_names().find(name);
    pgsql::AppendParameterStatus(&out, it != backend_->param_names().end() ? it->second : name,
                                 value);
  }
  cancel_slot_ = RegisterClient(&pid_, &secret_);
  cancel_slot_->Set(
      BackendKey{backend_->ip(), backend_->port(), backend_->pid(), backend_->secret()});
  pgsql::AppendBackendKeyData(&out, pgsql::BackendKeyData{pid_, secret_});
  pgsql::AppendReadyForQuery(&out, pgsql::kTxIdle);
  AppendTo(bufferevent_get_output(client_), out);
  phase_ = Phase::kActive;
  if (TransactionMode()) {
    ReleaseBackend(true);
  } else {
    pinned_ = true;  // session mode: this backend serves the client for its life
    if (StartParamSync()) return;
  }
  ProcessClientInput();
}

// ---- batches -------------------------------------------------------------------------

void PgSession::ProcessClientInput() {
  evbuffer* in = bufferevent_get_input(client_);
  while (phase_ == Phase::kActive && !acquiring_ && !syncing_) {
    MsgHeader h;
    std::span<const uint8_t> p;
    PeekResult r = PeekMessage(in, &h, &p, kMaxClientMessage);
    if (r == PeekResult::kBad) {
      FailLogin(state::kProtocolViolation, "invalid message length");
      return;
    }
    if (r == PeekResult::kNeedMore) {
      // Let one message larger than the read-ahead bound in, and no more.
      MsgHeader hh;
      if (PeekHeader(in, &hh, kMaxClientMessage) == PeekResult::kOk &&
          hh.total() > kClientReadHighWater)
        bufferevent_setwatermark(client_, EV_READ, 0, hh.total());
      return;
    }
    if (h.type == fe::kTerminate) {
      evbuffer_drain(in, h.total());
      Close();
      return;
    }
    if (skip_to_sync_) {
      // A failed batch: the server would ignore everything up to Sync; so does sluice.
      char t = h.type;
      evbuffer_drain(in, h.total());
      if (t == fe::kSync || t == fe::kQuery) {
        skip_to_sync_ = false;
        std::string out;
        pgsql::AppendReadyForQuery(&out, txn_status_);
        AppendTo(bufferevent_get_output(client_), out);
      }
      continue;
    }
    if (!backend_) {
      switch (h.type) {
        case fe::kSync: {  // nothing pending: the answer is known
          evbuffer_drain(in, h.total());
          std::string out;
          pgsql::AppendReadyForQuery(&out, txn_status_);
          AppendTo(bufferevent_get_output(client_), out);
          continue;
        }
        case fe::kFlush:
        case fe::kCopyData:
        case fe::kCopyDone:
        case fe::kCopyFail:  // stray copy messages after a failed COPY: the server drops them
          evbuffer_drain(in, h.total());
          continue;
        default:
          if (!StartBatch(h.type, p)) return;
          continue;
      }
    }
    if (evbuffer_get_length(backend_->output()) > kBackendOutHighWater) {
      // The server reads slowly (COPY FROM STDIN): stop reading the client until it drains.
      bufferevent_disable(client_, EV_READ);
      backend_->WatchWrites(kBackendOutLowWater);
      return;
    }
    ForwardClientMessage(h.type, p, h.total());
  }
}

// Routes the batch that starts with this message and asks for a backend. False when the
// batch failed (the error is sent and its messages are being skipped) or waits.
bool PgSession::StartBatch(char type, std::span<const uint8_t> payload) {
  StatementInfo info;
  std::string_view text;
  if (type == fe::kQuery) {
    auto q = pgsql::DecodeQuery(payload);
    if (!q.ok()) {
      FailLogin(state::kProtocolViolation, q.status().message());
      return false;
    }
    text = q->sql;
    info = Classify(text);
  } else if (type == fe::kParse) {
    auto parse = pgsql::DecodeParse(payload);
    if (!parse.ok()) {
      FailLogin(state::kProtocolViolation, parse.status().message());
      return false;
    }
    text = parse->query;
    info = Classify(text);
  } else if (type == fe::kBind) {
    auto bind = pgsql::DecodeBind(payload);
    if (bind.ok() && !bind->statement.empty()) {
      auto it = stmts_.find(std::string(bind->statement));
      if (it != stmts_.end()) {
        info = it->second.info;
        text = it->second.text;
      }
    }
  }
  if (!TransactionMode()) info = StatementInfo{};  // session mode: the writer, for life
  const RuntimePtr& rt = worker_->runtime().Current();
  RouteRequest req;
  req.info = &info;
  req.text = text;
  req.user = user_;
  req.schema = database_;
  req.client_addr = client_addr_;
  req.last_write_ms = last_write_ms_;
  RouteResult route = worker_->router().Route(*rt, cluster_index_, req);
  if (route.hold) {
    // A failover or switchover is moving the primary: the batch waits (bounded) for the
    // snapshot that ends it, then routes again (RetryHeld).
    HoldUntilWritesResume(rt->clusters[cluster_index_]);
    return false;
  }
  hold_deadline_ms_ = 0;
  if (route.reject)
    RecordRejection(&worker_->stats(), rt->clusters[cluster_index_].name, user_, route.message,
                    text);
  if (route.reject || route.server < 0) {
    FailBatch(route.reject ? std::string_view("42501") : state::kConnectionFailure, route.message);
    return true;  // the loop goes on skipping the batch
  }
  acquiring_ = true;
  AcquireBackend(route.server);
  return false;
}

void PgSession::AcquireBackend(int server_index) {
  const RuntimePtr& rt = worker_->runtime().Current();
  const Cluster& cluster = rt->clusters[cluster_index_];
  const Server& srv = cluster.servers[server_index];
  const User* u = rt->FindUser(user_);
  if (!u) {
    acquiring_ = false;
    FailLogin(state::kInvalidAuthorizationSpecification, "sluice: the user no longer exists");
    return;
  }
  backend_server_ = server_index;
  PoolKey key{srv.name(), u->backend_user.empty() ? u->name : u->backend_user,
              DatabaseVariant(database_)};
  BackendPools& pools = worker_->pools();
  if (PooledConn* c = pools.TakeIdle(key)) {
    OnBackendAcquired(static_cast<PgBackend*>(c));
    return;
  }
  PgBackendLogin login;
  login.host = srv.host;
  login.address = srv.address;
  login.port = srv.port;
  login.user = key.user;
  login.password = u->backend_password.empty() ? u->password : u->backend_password;
  login.database = database_;
  login.connect_timeout_ms = cluster.connect_timeout_ms;
  int limit = std::max(1, srv.max_connections / std::max(1, worker_->shared()->worker_count));
  if (pools.TryReserve(key.server, limit)) {
    connecting_ = PgBackend::Connect(worker_, key, login, this);
    return;
  }
  bool queued = pools.Wait(
      key, limit, kPoolWaitTimeoutMs,
      [this, key, login](bool ok, PooledConn* c) {
        wait_ticket_ = 0;
        if (!ok) {
          acquiring_ = false;
          if (phase_ == Phase::kLoginBackend) {
            FailLogin(state::kTooManyConnections,
                      "sluice: timed out waiting for a server connection");
            return;
          }
          FailBatch(state::kTooManyConnections,
                    fmt::format("sluice: timed out waiting for a connection to {}", key.server));
          ProcessClientInput();
          return;
        }
        if (c) {
          OnBackendAcquired(static_cast<PgBackend*>(c));
          return;
        }
        connecting_ = PgBackend::Connect(worker_, key, login, this);
      },
      &wait_ticket_);
  if (!queued) {
    acquiring_ = false;
    FailBatch(state::kTooManyConnections,
              "sluice: too many sessions waiting for a server connection");
  }
}

void PgSession::OnBackendReady(PgBackend* b) {
  OnBackendAcquired(b);
}

void PgSession::OnBackendAcquired(PgBackend* b) {
  backend_ = b;
  if (connecting_ == b) connecting_ = nullptr;
  acquiring_ = false;
  connect_attempts_ = 0;
  b->SetOwner(this);
  b->ResumeRead();
  worker_->router().Started(cluster_index_, backend_server_);
  if (cancel_slot_) cancel_slot_->Set(BackendKey{b->ip(), b->port(), b->pid(), b->secret()});
  if (phase_ == Phase::kLoginBackend) {
    FinishLogin();
    return;
  }
  if (!StartParamSync()) ProcessClientInput();
  FlushWrites();
}

// Brings the backend's settings in line with the client's; true while a SET runs.
bool PgSession::StartParamSync() {
  std::string sql;
  sync_sets_.clear();
  for (const auto& [name, value] : want_) {
    if (!SafeSettingName(name)) continue;
    auto a = backend_->applied().find(name);
    bool same;
    if (a != backend_->applied().end()) {
      same = a->second == value;
    } else {
      auto p = backend_->params().find(name);
      same = p != backend_->params().end() && p->second == value;
    }
    if (same) continue;
    sql += fmt::format("SET {} TO {};", name, QuoteLiteral(value));
    sync_sets_.emplace_back(name, value);
  }
  if (sql.empty()) return false;
  std::string out;
  pgsql::AppendQuery(&out, sql);
  AppendTo(backend_->output(), out);
  syncing_ = true;
  sync_failed_ = false;
  sync_error_.clear();
  return true;
}

void PgSession::HandleSyncResponse() {
  MsgHeader h;
  std::span<const uint8_t> p;
  while (syncing_ && backend_) {
    PeekResult r = PeekMessage(backend_->input(), &h, &p, kMaxBackendMessage);
    if (r == PeekResult::kNeedMore) return;
    if (r == PeekResult::kBad) {
      OnBackendError(backend_, ProtocolError("malformed message from the server"));
      return;
    }
    char status = 0;
    if (h.type == be::kErrorResponse) {
      sync_failed_ = true;
      auto e = pgsql::DecodeErrorFields(p);
      sync_error_ = e.ok() ? std::string(e->message()) : "SET failed";
    } else if (h.type == be::kParameterStatus) {
      auto ps = pgsql::DecodeParameterStatus(p);
      if (ps.ok()) backend_->params()[Lower(ps->name)] = std::string(ps->value);
    } else if (h.type == be::kReadyForQuery && !p.empty()) {
      status = static_cast<char>(p[0]);
    }
    evbuffer_drain(backend_->input(), h.total());
    if (!status) continue;
    syncing_ = false;
    if (sync_failed_) {
      // A startup setting the server refuses: the client's statement fails with it.
      ReleaseBackend(false);
      FailBatch("22023", fmt::format("sluice: cannot apply session settings: {}", sync_error_));
    } else {
      for (auto& [n, v] : sync_sets_) backend_->applied()[n] = v;
    }
    ProcessClientInput();
    return;
  }
}

// ---- client → backend ----------------------------------------------------------------

// Appends to *out a Parse of cs on the backend unless it has it already. False when the
// backend has it.
bool PgSession::EnsurePrepared(const ClientStmt& cs, std::string* out) {
  if (backend_->prepared().Touch(cs.sluice_name)) return false;
  std::string evicted = backend_->prepared().Insert(cs.sluice_name);
  if (!evicted.empty()) {
    pgsql::AppendClose(out, pgsql::kTargetStatement, evicted);
    close_expects_.push_back(Expect{true, "", send_segment_});
  }
  pgsql::Parse parse;
  parse.statement = cs.sluice_name;
  parse.query = cs.text;
  parse.param_types = cs.param_types;
  pgsql::AppendParse(out, parse);
  parse_expects_.push_back(Expect{true, cs.sluice_name, send_segment_});
  return true;
}

StatementInfo PgSession::Classify(std::string_view text) {
  if (text == routed_text_) return routed_info_;
  StatementInfo info = ClassifyStatement(text, routing::Dialect::kPostgres);
  // Remembered only when short: an idle session must not keep a large statement's text.
  if (text.size() <= kMaxRememberedText) {
    routed_text_.assign(text);
    routed_info_ = info;
  }
  return info;
}

void PgSession::ForwardClientMessage(char type, std::span<const uint8_t> p, size_t total) {
  evbuffer* in = bufferevent_get_input(client_);
  std::string out;
  bool rewritten = false;
  Status bad;
  switch (type) {
    case fe::kQuery: {
      auto q = pgsql::DecodeQuery(p);
      if (q.ok()) {
        StatementInfo info = Classify(q->sql);
        pending_pins_ |= info.pins;
        pending_write_ |= !info.is_read;
        NoteStatement(info, q->sql, nullptr);
      }
      ++outstanding_;
      break;
    }
    case fe::kParse: {
      auto parse = pgsql::DecodeParse(p);
      if (!parse.ok()) {
        bad = parse.status();
        break;
      }
      StatementInfo info = Classify(parse->query);
      pending_pins_ |= info.pins;
      pending_write_ |= !info.is_read;
      if (parse->statement.empty() || !TransactionMode()) {
        NoteStatement(info, parse->query, nullptr);
        parse_expects_.push_back(Expect{false, "", send_segment_});
        break;
      }
      ClientStmt cs;
      cs.text = std::string(parse->query);
      cs.param_types = parse->param_types;
      cs.sluice_name = SluiceStatementName(cs.text, cs.param_types);
      cs.info = std::move(info);
      routing::Digest(cs.text, routing::Dialect::kPostgres, &cs.digest);
      cs.digest_hash = routing::DigestHash(cs.digest);
      if (backend_->prepared().Contains(cs.sluice_name)) {
        // Prepared here already (by this client or another): replace it so the client
        // gets its own ParseComplete in order.
        pgsql::AppendClose(&out, pgsql::kTargetStatement, cs.sluice_name);
        close_expects_.push_back(Expect{true, "", send_segment_});
        backend_->prepared().Touch(cs.sluice_name);
      } else {
        std::string evicted = backend_->prepared().Insert(cs.sluice_name);
        if (!evicted.empty()) {
          pgsql::AppendClose(&out, pgsql::kTargetStatement, evicted);
          close_expects_.push_back(Expect{true, "", send_segment_});
        }
      }
      bad = pgsql::RewriteParseStatementName(p, cs.sluice_name, &out);
      parse_expects_.push_back(Expect{false, cs.sluice_name, send_segment_});
      stmts_[std::string(parse->statement)] = std::move(cs);
      rewritten = true;
      break;
    }
    case fe::kBind: {
      auto bind = pgsql::DecodeBind(p);
      if (!bind.ok()) {
        bad = bind.status();
        break;
      }
      if (bind->statement.empty() || !TransactionMode()) break;
      auto it = stmts_.find(std::string(bind->statement));
      if (it == stmts_.end()) break;  // the server answers "does not exist"
      pending_pins_ |= it->second.info.pins;
      pending_write_ |= !it->second.info.is_read;
      NoteStatement(it->second.info, it->second.text, &it->second);
      EnsurePrepared(it->second, &out);
      bad = pgsql::RewriteBindStatementName(p, it->second.sluice_name, &out);
      rewritten = true;
      break;
    }
    case fe::kDescribe: {
      auto d = pgsql::DecodeDescribe(p);
      if (!d.ok()) {
        bad = d.status();
        break;
      }
      if (d->kind != pgsql::kTargetStatement || d->name.empty() || !TransactionMode()) break;
      auto it = stmts_.find(std::string(d->name));
      if (it == stmts_.end()) break;
      EnsurePrepared(it->second, &out);
      bad = pgsql::RewriteDescribeName(p, it->second.sluice_name, &out);
      rewritten = true;
      break;
    }
    case fe::kClose: {
      auto c = pgsql::DecodeClose(p);
      if (!c.ok()) {
        bad = c.status();
        break;
      }
      if (c->kind == pgsql::kTargetStatement && !c->name.empty() && TransactionMode()) {
        // Only the client's name goes away; the backend copy may serve others. A Close of
        // a name nobody has still gets its CloseComplete in order.
        stmts_.erase(std::string(c->name));
        bad = pgsql::RewriteCloseName(p, kNoopStatement, &out);
        rewritten = true;
      }
      close_expects_.push_back(Expect{false, "", send_segment_});
      break;
    }
    case fe::kSync:
    case fe::kFunctionCall:
      ++outstanding_;
      break;
    default:
      break;
  }
  if (!bad.ok()) {
    evbuffer_drain(in, total);
    log::Warn("pgsql session {}: malformed '{}' message: {}", pid_, type, bad.message());
    FailLogin(state::kProtocolViolation, fmt::format("invalid message: {}", bad.message()));
    return;
  }
  if (rewritten) {
    evbuffer_drain(in, total);
    AppendTo(backend_->output(), out);
  } else {
    if (!out.empty()) AppendTo(backend_->output(), out);
    evbuffer_remove_buffer(in, backend_->output(), total);
  }
  if (type == fe::kSync || type == fe::kQuery) {
    ++send_segment_;
    EndSegment();
  }
}

// ---- statement statistics --------------------------------------------------------------

// The segment's first statement names it in the statistics (cs: a prepared statement whose
// digest is already known).
void PgSession::NoteStatement(const StatementInfo& info, std::string_view text,
                              const ClientStmt* cs) {
  SegmentStat& s = open_segment_;
  if (s.named) return;
  s.named = true;
  s.start_us = MonotonicUs();
  s.command = info.command;
  if (cs) {
    s.digest = cs->digest;
    s.digest_hash = cs->digest_hash;
  } else {
    routing::Digest(text, routing::Dialect::kPostgres, &s.digest);
    s.digest_hash = routing::DigestHash(s.digest);
  }
}

void PgSession::EndSegment() {
  if (!open_segment_.named) open_segment_.start_us = MonotonicUs();
  sent_segments_.push_back(std::move(open_segment_));
  open_segment_ = SegmentStat{};
}

// At a ReadyForQuery from the server: the oldest segment sent is over.
void PgSession::RecordSegment() {
  if (sent_segments_.empty() || !backend_) return;
  SegmentStat s = std::move(sent_segments_.front());
  sent_segments_.pop_front();
  const RuntimePtr& rt = worker_->runtime().Current();
  const Cluster& cluster = rt->clusters[cluster_index_];
  StatementRecord r;
  r.cluster = cluster.name;
  r.server = backend_->server();
  r.hostgroup = cluster.HostgroupOf(backend_->host(), backend_->port());
  r.user = user_;
  r.schema = database_;
  r.command = s.command.empty() ? std::string_view("OTHER") : std::string_view(s.command);
  r.digest_text = s.digest;
  r.digest_hash = s.digest_hash;
  int64_t now = MonotonicUs();
  r.latency_us = now > s.start_us ? static_cast<uint64_t>(now - s.start_us) : 0;
  r.error = segment_error_;
  RecordStatement(&worker_->stats(), r);
}

// ---- backend → client ----------------------------------------------------------------

void PgSession::OnBackendReadable(PgBackend* b) {
  if (b != backend_) return;
  if (syncing_)
    HandleSyncResponse();
  else
    ForwardResponse();
  FlushWrites();
}

void PgSession::OnBackendWritable(PgBackend* b) {
  if (b != backend_ || phase_ != Phase::kActive) return;
  bufferevent_enable(client_, EV_READ);
  ProcessClientInput();
  FlushWrites();
}

static bool IsInspected(char type) {
  switch (type) {
    case be::kReadyForQuery:
    case be::kParseComplete:
    case be::kCloseComplete:
    case be::kErrorResponse:
    case be::kParameterStatus:
      return true;
    default:
      return false;
  }
}

void PgSession::ForwardResponse() {
  if (ForwardMessages() && backend_ &&
      evbuffer_get_length(bufferevent_get_output(client_)) >= kClientOutHighWater) {
    // Backpressure: the client reads slowly; stop reading its backend until it catches up.
    backend_->PauseRead();
    bufferevent_setwatermark(client_, EV_WRITE, kClientOutLowWater, 0);
    bufferevent_setcb(client_, &PgSession::OnClientRead, &PgSession::OnClientWrite,
                      &PgSession::OnClientEvent, this);
  }
}

// Moves the backend's messages to the client; false when the session stopped forwarding.
// Whole messages that pass unread (descriptions, rows, CommandComplete) go over in one
// evbuffer_remove_buffer per run rather than one each: a point select's T, D and C are one
// move, its Z another. Bounded by the bytes in the backend's input and the client's bound.
bool PgSession::ForwardMessages() {
  evbuffer* out = bufferevent_get_output(client_);
  size_t batch = 0;  // whole unread messages at the front of the backend's input
  auto flush = [&] {
    if (batch) evbuffer_remove_buffer(backend_->input(), out, batch);
    batch = 0;
  };
  while (backend_ && !syncing_ && evbuffer_get_length(out) + batch < kClientOutHighWater) {
    evbuffer* in = backend_->input();
    if (passthrough_left_) {
      size_t n = std::min(passthrough_left_, evbuffer_get_length(in));
      if (n == 0) return true;
      evbuffer_remove_buffer(in, out, n);
      passthrough_left_ -= n;
      continue;
    }
    MsgHeader h;
    PeekResult r = PeekHeaderAt(in, batch, &h, kMaxBackendMessage);
    if (r == PeekResult::kNeedMore) break;
    if (r == PeekResult::kBad) {
      flush();
      OnBackendError(backend_, ProtocolError("malformed message from the server"));
      return false;
    }
    if (!IsInspected(h.type)) {
      response_started_ = true;
      size_t avail = evbuffer_get_length(in) - batch;
      if (avail >= h.total()) {
        batch += h.total();
        continue;
      }
      // A message not all here yet (a large row, COPY data): streamed as it comes, never
      // held whole.
      flush();
      evbuffer_remove_buffer(in, out, avail);
      passthrough_left_ = h.total() - avail;
      continue;
    }
    flush();
    std::span<const uint8_t> p;
    r = PeekMessage(in, &h, &p, kMaxBackendMessage);
    if (r == PeekResult::kNeedMore) return true;
    if (!HandleInspected(h.type, p, h.total())) return false;
  }
  if (backend_) flush();
  return true;
}

// One whole message sluice reads. False when the session stopped forwarding.
bool PgSession::HandleInspected(char type, std::span<const uint8_t> p, size_t total) {
  evbuffer* in = backend_->input();
  evbuffer* out = bufferevent_get_output(client_);
  bool swallow = false;
  switch (type) {
    case be::kParseComplete:
      if (!parse_expects_.empty()) {
        swallow = parse_expects_.front().swallow;
        parse_expects_.pop_front();
      }
      break;
    case be::kCloseComplete:
      if (!close_expects_.empty()) {
        swallow = close_expects_.front().swallow;
        close_expects_.pop_front();
      }
      break;
    case be::kErrorResponse: {
      segment_error_ = true;
      DropSegmentExpects(resp_segment_);
      auto e = pgsql::DecodeErrorFields(p);
      if (e.ok() && (e->severity() == "FATAL" || e->severity() == "PANIC")) {
        // The server is closing this connection, not the client's session: the client gets
        // 08006 (and keeps its session) when the close arrives.
        backend_fatal_ = std::string(e->message());
        swallow = true;
      }
      break;
    }
    case be::kParameterStatus: {
      auto ps = pgsql::DecodeParameterStatus(p);
      if (ps.ok()) {
        std::string name = Lower(ps->name);
        backend_->params()[name] = std::string(ps->value);
        // The client changed it (SET pins) or the server did: the client's view follows.
        if (want_.count(name)) {
          want_[name] = std::string(ps->value);
          backend_->applied()[name] = std::string(ps->value);
        }
      }
      break;
    }
    case be::kReadyForQuery: {
      char status = p.empty() ? 'I' : static_cast<char>(p[0]);
      evbuffer_remove_buffer(in, out, total);
      OnReadyForQuery(status);
      return backend_ != nullptr;
    }
    default:
      break;
  }
  if (swallow) {
    evbuffer_drain(in, total);
  } else {
    evbuffer_remove_buffer(in, out, total);
    response_started_ = true;
  }
  return true;
}

void PgSession::DropSegmentExpects(uint64_t segment) {
  // After an error the server skips to Sync: the rest of this segment gets no replies.
  auto drop = [&](Fifo<Expect>& q, bool forget) {
    while (!q.empty() && q.front().segment <= segment) {
      if (forget && !q.front().name.empty() && backend_) backend_->prepared().Erase(q.front().name);
      q.pop_front();
    }
  };
  drop(parse_expects_, true);
  drop(close_expects_, false);
}

void PgSession::OnReadyForQuery(char status) {
  txn_status_ = status;
  RecordSegment();
  DropSegmentExpects(resp_segment_);
  ++resp_segment_;
  if (outstanding_ > 0) --outstanding_;
  if (!segment_error_ && (pending_pins_ & kSessionPins)) pinned_ = true;
  if (!segment_error_ && pending_write_) last_write_ms_ = MonotonicMs();
  segment_error_ = false;
  response_started_ = false;
  if (outstanding_ > 0) return;
  pending_pins_ = 0;
  pending_write_ = false;
  if (status == pgsql::kTxIdle && !pinned_) ReleaseBackend(true);
  if (draining_ && status == pgsql::kTxIdle) {
    Close();
    return;
  }
  if (!backend_) ProcessClientInput();
}

void PgSession::ReleaseBackend(bool clean) {
  if (!backend_) return;
  PgBackend* b = backend_;
  backend_ = nullptr;
  b->SetOwner(nullptr);
  worker_->router().Finished(cluster_index_, backend_server_);
  if (cancel_slot_) cancel_slot_->Clear();
  parse_expects_.clear();
  close_expects_.clear();
  passthrough_left_ = 0;
  bool reusable = clean && b->ready() && evbuffer_get_length(b->input()) == 0 &&
                  evbuffer_get_length(b->output()) == 0;
  if (!reusable) {
    std::string server = b->server();
    b->Destroy();
    worker_->pools().Release(server);
    return;
  }
  if (pinned_ || !TransactionMode()) {
    // Session state lives on it (session mode, or a pin): reset before anyone else gets it.
    b->ResetAndPool();
    return;
  }
  worker_->pools().PutIdle(b);
}

void PgSession::OnBackendError(PgBackend* b, const Status& st) {
  std::string server = b->server();
  std::string server_error = b->server_error();
  bool was_attached = b == backend_;
  if (connecting_ == b) connecting_ = nullptr;
  if (was_attached) {
    backend_ = nullptr;
    worker_->router().Finished(cluster_index_, backend_server_);
    if (cancel_slot_) cancel_slot_->Clear();
  }
  b->SetOwner(nullptr);
  b->Destroy();
  worker_->pools().Release(server);
  if (server_error.empty()) worker_->router().MarkFailed(cluster_index_, server);
  if (phase_ == Phase::kClosed) return;
  std::string why = backend_fatal_.empty() ? st.message() : backend_fatal_;
  backend_fatal_.clear();
  log::Warn("pgsql session {}: {}", pid_, why);
  if (phase_ == Phase::kLoginBackend) {
    acquiring_ = false;
    if (!server_error.empty()) {
      // The server's own refusal (3D000 unknown database, 28P01 …) goes to the client.
      std::string out;
      pgsql::AppendMessage(&out, be::kErrorResponse, std::string_view(server_error));
      AppendTo(bufferevent_get_output(client_), out);
      Close();
      return;
    }
    FailLogin(state::kConnectionFailure,
              fmt::format("sluice: could not connect to the server: {}", st.message()));
    return;
  }
  if (!was_attached && acquiring_ && ++connect_attempts_ < kMaxConnectAttempts) {
    // Nothing of the batch went anywhere yet: route it again; the router now avoids the
    // server that failed.
    acquiring_ = false;
    ProcessClientInput();
    return;
  }
  bool in_txn = txn_status_ != pgsql::kTxIdle || pinned_;
  bool mid_message = passthrough_left_ > 0;
  parse_expects_.clear();
  close_expects_.clear();
  passthrough_left_ = 0;
  syncing_ = false;
  acquiring_ = false;
  if (mid_message || in_txn || !TransactionMode()) {
    // Half a message went out, or the client's transaction (or session) died with the
    // server: the client cannot go on in-protocol.
    SendError("FATAL", state::kConnectionFailure,
              fmt::format("sluice: server connection lost: {}", why));
    Close();
    return;
  }
  pinned_ = false;
  txn_status_ = pgsql::kTxIdle;
  SendError("ERROR", state::kConnectionFailure,
            fmt::format("sluice: server connection lost: {}", why));
  // One ReadyForQuery per Sync/Query already sent; a batch not yet synced skips to Sync.
  std::string out;
  for (int i = 0; i < outstanding_; ++i) pgsql::AppendReadyForQuery(&out, pgsql::kTxIdle);
  AppendTo(bufferevent_get_output(client_), out);
  if (outstanding_ == 0) skip_to_sync_ = true;
  outstanding_ = 0;
  pending_pins_ = 0;
  pending_write_ = false;
  segment_error_ = false;
  resp_segment_ = send_segment_;
  sent_segments_.clear();  // their answers are the error above
  ProcessClientInput();
}

void PgSession::OnServerGone(const std::string& server) {
  if (!backend_ || backend_->server() != server) return;
  if (outstanding_ == 0 && !syncing_ && txn_status_ == pgsql::kTxIdle && !pinned_) {
    ReleaseBackend(false);
    return;
  }
  OnBackendError(backend_, Unavailable(fmt::format("server {} was taken out of service", server)));
}

// ---- errors and closing --------------------------------------------------------------

void PgSession::RetryHeld(bool timed_out) {
  if (!acquiring_ || backend_) return;
  acquiring_ = false;
  if (phase_ == Phase::kLoginBackend) {
    if (timed_out) {
      hold_deadline_ms_ = 0;
      FailLogin("57P03",
                "sluice: timed out waiting for the cluster's new primary (failover or switchover)");
    } else {
      BeginLoginBackend();
    }
    FlushWrites();
    return;
  }
  if (timed_out) {
    hold_deadline_ms_ = 0;
    // 57P03 cannot_connect_now: what PostgreSQL says while it cannot take the work yet.
    FailBatch("57P03",
              "sluice: timed out waiting for the cluster's new primary (failover or switchover)");
  }
  ProcessClientInput();
  FlushWrites();
}

void PgSession::FailBatch(std::string_view sqlstate, std::string_view message) {
  SendError("ERROR", sqlstate, message);
  skip_to_sync_ = true;
}

void PgSession::FailLogin(std::string_view sqlstate, std::string_view message) {
  SendError("FATAL", sqlstate, message);
  Close();
}

void PgSession::SendError(std::string_view severity, std::string_view sqlstate,
                          std::string_view message) {
  if (!client_) return;
  std::string out;
  pgsql::AppendErrorResponse(&out, pgsql::ErrorSpec{severity, sqlstate, message, "", ""});
  AppendTo(bufferevent_get_output(client_), out);
}

void PgSession::Drain() {
  draining_ = true;
  bool idle = phase_ == Phase::kActive && (!backend_ || (outstanding_ == 0 && txn_status_ == 'I'));
  if (idle || phase_ == Phase::kStartup || phase_ == Phase::kSaslInitial ||
      phase_ == Phase::kSaslResponse || phase_ == Phase::kMd5) {
    if (phase_ == Phase::kActive)
      SendError("FATAL", state::kAdminShutdown,
                "terminating connection due to administrator command");
    Close();
  }
}

void PgSession::Abort() {
  Close();
}

// Called once at the end of every callback: each connection gets one write per loop turn.
void PgSession::FlushWrites() {
  EagerWrite(client_);
  if (backend_) backend_->WriteNow();
}

void PgSession::Close() {
  if (phase_ == Phase::kClosed) return;
  if (wait_ticket_) worker_->pools().Cancel(wait_ticket_);
  // A login in progress goes on without us and lands in the pool.
  if (connecting_) connecting_->SetOwner(nullptr);
  connecting_ = nullptr;
  if (backend_) {
    // Mid-statement or mid-transaction the connection's state is unknown: do not reuse it.
    bool clean =
        outstanding_ == 0 && txn_status_ == pgsql::kTxIdle && !syncing_ && passthrough_left_ == 0;
    ReleaseBackend(clean);
  }
  if (pid_) UnregisterClient(pid_);
  if (counted_) {
    worker_->shared()->cluster_counters[cluster_index_]->client_connections.fetch_sub(
        1, std::memory_order_relaxed);
    counted_ = false;
  }
  phase_ = Phase::kClosed;
  FreeWhenFlushed(client_);  // a FATAL written just before still reaches the client
  client_ = nullptr;
  worker_->RemoveSession(this);
  // Callers up the stack may still look at the session: delete from the loop.
  event_base_once(
      worker_->base(), -1, EV_TIMEOUT,
      [](evutil_socket_t, short, void* arg) { delete static_cast<PgSession*>(arg); }, this,
      nullptr);
}

}  // namespace pgproxy
}  // namespace sluice
