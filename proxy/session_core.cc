#include "proxy/session_core.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/log.h"
#include "proxy/backend_conn.h"
#include "proxy/net_address.h"
#include "proxy/shared.h"
#include "proxy/worker.h"

namespace sluice {

SessionCore::SessionCore(Worker* w, size_t cluster_index, bufferevent* client,
                         std::string client_addr, size_t client_read_high_water)
    : worker_(w),
      cluster_index_(cluster_index),
      timer_(w->base(), this),
      client_addr_(std::move(client_addr)),
      client_(client, this, static_cast<size_t>(w->runtime().Current()->client_preauth_bytes)),
      lease_(w, cluster_index, this, this),
      read_high_water_(client_read_high_water) {
  worker_->AddSession(this);
  slot_ = worker_->shared()->sessions.Register(
      w->index(), worker_->shared()->worker_count, this, cluster().protocol == Protocol::kPostgres,
      static_cast<uint32_t>(cluster_index), PeerHostPort(bufferevent_getfd(client), client_addr_),
      MonotonicMs());
  if (slot_) conn_id_ = slot_->id_unsafe();
  timer_.Arm(TimeoutReason::kClientLogin, cluster().client_login_timeout_ms);
  in_preauth_ = true;
  const RuntimePtr& rt = worker_->runtime().Current();
  preauth_bytes_ = static_cast<size_t>(rt->client_preauth_bytes);
  size_t bound = UnauthenticatedPerWorker(rt->max_unauthenticated_connections,
                                          worker_->shared()->worker_count);
  if (SessionCore* oldest = worker_->preauth().Add(this, &preauth_, bound)) {
    // Over the worker's unauthenticated bound: the oldest socket that never logged in goes.
    worker_->stats().preauth_evictions++;
    log::Debug("session of {}: closed unauthenticated (more than {} waiting to log in)",
               oldest->client_addr_, bound);
    oldest->Close();
  }
}

SessionCore::~SessionCore() {
  worker_->shared()->sessions.Unregister(worker_->index(), slot_);
}

void SessionCore::LeavePreAuth() {
  if (!in_preauth_) return;
  worker_->preauth().Remove(preauth_);
  in_preauth_ = false;
}

bool SessionCore::Authenticated() {
  if (authenticated_) return true;
  authenticated_ = true;
  LeavePreAuth();
  timer_.Disarm(TimeoutReason::kClientLogin);
  client_.SetReadBound(read_high_water_);
  ClusterCounters& cc = *worker_->shared()->cluster_counters[cluster_index_];
  int64_t n = cc.client_connections.fetch_add(1, std::memory_order_relaxed) + 1;
  counted_ = true;
  // No registry slot (the worker holds SessionRegistry::kPerWorker sessions): refused too.
  if (slot_ && n <= cluster().max_client_connections) return true;
  worker_->stats().client_connections_refused++;
  return false;
}

bool SessionCore::ClientsAtLimit() const {
  int64_t n = worker_->shared()->cluster_counters[cluster_index_]->client_connections.load(
      std::memory_order_relaxed);
  return n >= cluster().max_client_connections;
}

void SessionCore::StartQueryClock() {
  if (timer_.pending() == TimeoutReason::kQuery) return;
  timer_.Arm(TimeoutReason::kQuery, cluster().query_timeout_ms);
}

void SessionCore::StartIdleInTransactionClock() {
  timer_.Arm(TimeoutReason::kIdleInTransaction, cluster().idle_in_transaction_timeout_ms);
}

void SessionCore::CountProtocolError() {
  StatsDelta& st = worker_->stats();
  st.protocol_errors++;
  if (cluster().protocol == Protocol::kMysql)
    st.protocol_errors_mysql++;
  else
    st.protocol_errors_postgresql++;
}

void SessionCore::OnSessionTimeout(TimeoutReason why) {
  if (closed_) return;
  StatsDelta& st = worker_->stats();
  switch (why) {
    case TimeoutReason::kClientLogin:
      // As MySQL (connect_timeout) and PostgreSQL (authentication_timeout) do: the
      // connection closes without a word.
      st.client_login_timeouts++;
      log::Debug("session of {}: no login within {} ms, closed", client_addr_,
                 cluster().client_login_timeout_ms);
      Close();
      return;
    case TimeoutReason::kQuery:
      st.query_timeouts++;
      break;
    case TimeoutReason::kIdleInTransaction:
      st.idle_transaction_timeouts++;
      break;
    case TimeoutReason::kLoginAnswer:  // not a failure: the protocol answers the login itself
      OnStatementTimeout(why);
      return;
    case TimeoutReason::kNone:
      return;
  }
  log::Warn("session of {}: {} after {} ms", client_addr_, TimeoutReasonName(why),
            why == TimeoutReason::kQuery ? cluster().query_timeout_ms
                                         : cluster().idle_in_transaction_timeout_ms);
  OnStatementTimeout(why);
}

const Cluster& SessionCore::cluster() const {
  return worker_->runtime().Current()->clusters[cluster_index_];
}

routing::CausalBoard* SessionCore::causal_board() const {
  return &worker_->shared()->cluster_counters[cluster_index_]->acknowledged;
}

void SessionCore::PrepareCausal(bool failed, RouteRequest* req) {
  const Cluster& c = cluster();
  if (c.consistency == Consistency::kEventual && !causal_) {
    req->causal_failed = failed;  // what CausalReads::Prepare says for kEventual
    req->causal_needed = false;
    return;
  }
  routing::CausalPosition primary_seen;
  if (c.consistency == Consistency::kGlobal) {
    const routing::PositionBoard& board =
        worker_->shared()->cluster_counters[cluster_index_]->positions;
    for (const Server& s : c.servers)
      if (s.role == ServerRole::kPrimary) board.Read(s.host, s.port, &primary_seen);
  }
  causal().Prepare(c.consistency, *causal_board(), failed, req, primary_seen);
}

const Server* SessionCore::CurrentServer(const std::string& name) const {
  for (const Server& s : cluster().servers)
    if (s.name() == name) return &s;
  return nullptr;
}

CausalReads& SessionCore::causal() {
  if (!causal_) causal_ = std::make_unique<CausalReads>();
  return *causal_;
}

bool SessionCore::NeedsCausalCheck(int server) {
  const RuntimePtr& rt = worker_->runtime().Current();
  if (causal().Confirmed(server, rt->version)) {
    lease_.CountCausalCheck(false, true, 0);
    return false;
  }
  const Server& s = rt->clusters[cluster_index_].servers[server];
  routing::CausalPosition seen;
  if (worker_->shared()->cluster_counters[cluster_index_]->positions.Read(s.host, s.port, &seen) &&
      causal().CoveredBy(seen)) {
    lease_.CountReadByPosition();
    return false;
  }
  return true;
}

const User* SessionCore::ClusterUser(const std::string& name) const {
  const RuntimePtr& rt = worker_->runtime().Current();
  const std::string& cluster = rt->clusters[cluster_index_].name;
  const User* u = rt->FindUser(cluster, name);
  if (u && u->cluster == cluster) return u;
  // Configured users win over the lookup: a passthrough user only stands in for a name the
  // snapshot does not have.
  return passthrough_user_ && passthrough_user_->name == name ? &*passthrough_user_ : nullptr;
}

bool SessionCore::PassthroughOn() const {
  return PassthroughWait::On(*worker_, cluster_index_, cluster());
}

bool SessionCore::StartLookup(const std::string& user) {
  return lookup_.Start(worker_, cluster_index_, cluster(), user,
                       [this](const health::AuthAnswer& a) {
                         lookup_.Cancel();
                         if (!closed_) OnPassthroughAnswer(a);
                       });
}

bool SessionCore::AdmitUser(const User& u, int64_t* held) {
  *held = 0;
  user_slot_.Reset();  // COM_CHANGE_USER: the previous login's connection is given back
  if (slot_) slot_->SetUser(u.name);
  return worker_->AdmitUser(u.cluster, u.name, u.max_connections, &user_slot_, held);
}

SSL_CTX* SessionCore::tls_context() const {
  return worker_->shared()->tls[cluster_index_];
}

StatementRecord SessionCore::NewRecord(const std::string& server, std::string_view host,
                                       uint16_t port, std::string_view user,
                                       std::string_view schema, int64_t start_us) const {
  const Cluster& c = cluster();
  StatementRecord r;
  r.cluster = c.name;
  r.server = server;
  r.hostgroup = c.HostgroupOf(host, port);
  r.user = user;
  r.schema = schema;
  int64_t now = MonotonicUs();
  r.latency_us = now > start_us ? static_cast<uint64_t>(now - start_us) : 0;
  return r;
}

void SessionCore::MaybeMirror() {
  const RuntimePtr& rt = worker_->runtime().Current();
  const std::string& source = rt->clusters[cluster_index_].name;
  if (!rt->MirrorOfSource(source)) return;  // the common case costs one scan of the mirrors
  const MirrorConfig* m = SampleMirror(*rt, source, worker_->NextUniform());
  if (!m) return;
  ShadowSession::Params p;
  p.mirror = m->name;
  for (size_t i = 0; i < rt->clusters.size(); ++i)
    if (rt->clusters[i].name == m->shadow) p.shadow_cluster = i;
  p.mode = m->mode;
  p.session_id = conn_id_;  // the id the client was given (session_registry.h)
  p.max_bytes = static_cast<size_t>(m->queue_bytes);
  p.max_statements = static_cast<size_t>(m->queue_statements);
  // Mode reads has no writes to order (its shadow replicates them itself).
  if (m->mode == MirrorMode::kAll) p.order = worker_->shared()->mirror_orders.For(m->name);
  shadow_ = NewShadow(std::move(p));
}

bool SessionCore::ShadowCredentials(const std::string& user, BackendTarget* login) const {
  const User* u = ClusterUser(user);
  if (!u) return false;
  SetCredentials(login, *u);
  return true;
}

void SessionCore::FinishClose() {
  if (closed_) return;
  closed_ = true;
  if (shadow_) {
    shadow_->ClientGone();
    shadow_ = nullptr;
  }
  timer_.Arm(TimeoutReason::kNone, 0);
  LeavePreAuth();
  lease_.CancelWait();
  lookup_.Cancel();
  user_slot_.Reset();
  if (counted_) {
    worker_->shared()->cluster_counters[cluster_index_]->client_connections.fetch_sub(
        1, std::memory_order_relaxed);
    counted_ = false;
  }
  worker_->shared()->sessions.Unregister(worker_->index(), slot_);
  slot_ = nullptr;
  client_.CloseWhenFlushed();  // the last bytes (an error packet, a FATAL) still leave
  worker_->RemoveSession(this);
  // Callers up the stack may still look at the session: delete from the loop, not here.
  event_base_once(
      worker_->base(), -1, EV_TIMEOUT,
      [](evutil_socket_t, short, void* arg) { delete static_cast<SessionCore*>(arg); }, this,
      nullptr);
}

void SessionCore::NotePhase(SessionPhase p, const std::string* digest, const std::string* schema) {
  if (slot_) slot_->SetPhase(p, MonotonicMs(), digest, schema);
}

void SessionCore::NoteBackend(std::string_view server, uint32_t thread) {
  if (slot_) slot_->SetBackend(server, thread);
}

void SessionCore::FlushWrites() {
  if (closed()) return;
  PublishState();
  client_.Flush();
  FlushBackend();
}

bool SessionCore::BackendChanged(const void* b) {
  if (b == shown_backend_) return false;
  shown_backend_ = b;
  return true;
}

bool SessionCore::PhaseChanged(SessionPhase p, const int64_t* start_us, bool* new_statement) {
  *new_statement = start_us && *start_us != shown_start_us_;
  if (p == shown_phase_ && !*new_statement) return false;
  shown_phase_ = p;
  if (start_us) shown_start_us_ = *start_us;
  return true;
}

std::string PeerHostPort(evutil_socket_t fd, const std::string& host) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  uint16_t port = 0;
  if (fd >= 0 && getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    if (ss.ss_family == AF_INET) port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6) port = ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  }
  return host + ":" + std::to_string(port);
}

bufferevent* ClientBufferevent(Worker* w, evutil_socket_t fd, std::string* peer) {
  *peer = PeerAddress(fd);
  return bufferevent_socket_new(w->base(), fd, BEV_OPT_CLOSE_ON_FREE);
}

}  // namespace sluice
