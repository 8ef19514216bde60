#include "proxy/worker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "proxy/backend_pool.h"
#include "proxy/backend_socket.h"
#include "proxy/client_session.h"
#include "proxy/lingering_close.h"
#include "proxy/mysql/worker_state.h"
#include "proxy/pgsql/cancel.h"
#include "proxy/pgsql/login_params.h"
#include "proxy/shadow_session.h"
#include "proxy/shared.h"

namespace sluice {
namespace {
constexpr int kHousekeepingMs = 100;
}  // namespace

Worker::Worker(int index, ProxyShared* shared)
    : index_(index),
      shared_(shared),
      runtime_(&shared->runtime),
      dialer_(TcpDialer()),
      rng_state_(static_cast<uint64_t>(MonotonicUs()) * 2654435761u +
                 static_cast<uint64_t>(index)) {
  // The change list folds an event_add/event_del pair made within one loop turn into
  // nothing: EagerWrite's arm-then-disarm of EV_WRITE costs no epoll_ctl.
  event_config* cfg = event_config_new();
  event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  base_ = event_base_new_with_config(cfg);
  event_config_free(cfg);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  wake_ev_ = event_new(base_, wake_fd_, EV_READ | EV_PERSIST, &Worker::OnWake, this);
  event_add(wake_ev_, nullptr);
  mysql_state_ = std::make_unique<mysqlproxy::MysqlWorkerState>();
  pg_cancel_keys_ = std::make_unique<pgproxy::CancelKeys>();
  pg_login_params_ = std::make_unique<pgproxy::PgLoginParams>();
  pools_ = std::make_unique<BackendPools>(this);
  housekeeping_ev_ = event_new(base_, -1, EV_PERSIST, &Worker::OnHousekeeping, this);
  timeval tv{0, kHousekeepingMs * 1000};
  event_add(housekeeping_ev_, &tv);
}

Worker::~Worker() {
  for (auto& l : listeners_) {
    if (l->listener) evconnlistener_free(l->listener);
    if (l->resume) event_free(l->resume);
  }
  pools_.reset();
  shadow_waiters_.reset();
  event_free(housekeeping_ev_);
  event_free(wake_ev_);
  if (wake_fd_ >= 0) close(wake_fd_);
  event_base_free(base_);
}

Status Worker::Listen(const Runtime& rt) {
  for (size_t i = 0; i < rt.clusters.size(); ++i) {
    const Cluster& c = rt.clusters[i];
    if (c.listen_port == 0) continue;  // no listen: a mirror's shadow, no clients of its own
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(c.listen_port);
    if (inet_pton(AF_INET, c.listen_host.c_str(), &sin.sin_addr) != 1)
      return InvalidArgument(fmt::format("cluster {}: listen address {} is not an IPv4 address",
                                         c.name, c.listen_host));
    auto ctx = std::make_unique<ListenerCtx>();
    ctx->worker = this;
    ctx->cluster_index = i;
    // Every worker binds the same port; the kernel spreads connections (SO_REUSEPORT).
    unsigned flags =
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC;
    ctx->listener =
        evconnlistener_new_bind(base_, &Worker::OnAccept, ctx.get(), flags,
                                /*backlog=*/1024, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
    if (!ctx->listener)
      return Unavailable(fmt::format("cluster {}: cannot listen on {}:{}: {}", c.name,
                                     c.listen_host, c.listen_port, strerror(errno)));
    evconnlistener_set_error_cb(ctx->listener, &Worker::OnAcceptError);
    ctx->resume = evtimer_new(base_, &Worker::OnAcceptResume, ctx.get());
    listeners_.push_back(std::move(ctx));
  }
  return Status::Ok();
}

void Worker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Worker::Run() {
  log::SetThreadName(fmt::format("worker-{}", index_));
  event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY);
  // The loop ended (stop or drain finished): close whatever is left.
  std::vector<ClientSession*> left(sessions_.begin(), sessions_.end());
  for (ClientSession* s : left) s->Abort();
  pools_->CloseAll();
  if (on_exit_) on_exit_();
}

void Worker::RequestDrain() {
  Wake(kDrain);
}
void Worker::RequestStop() {
  Wake(kStop);
}

void Worker::Wake(int request) {
  int prev = request_.load();
  while (prev < request && !request_.compare_exchange_weak(prev, request)) {
  }
  uint64_t one = 1;
  // The counter only saturates after 2^64 - 2 wakeups; EAGAIN cannot happen in practice.
  (void)!write(wake_fd_, &one, sizeof one);
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  auto* ctx = static_cast<ListenerCtx*>(arg);
  Worker* w = ctx->worker;
  w->stats_->client_connections_accepted++;
  evutil_make_socket_nonblocking(fd);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const RuntimePtr& rt = w->runtime_.Current();
  const Cluster& c = rt->clusters[ctx->cluster_index];
  if (c.protocol == Protocol::kMysql)
    StartMysqlSession(w, ctx->cluster_index, fd);
  else
    StartPgsqlSession(w, ctx->cluster_index, fd);
}

// accept() failed with an error that is not "try again". Out of file descriptors (EMFILE,
// ENFILE) or kernel memory, the pending connection stays in the backlog and the listener
// would be readable again at once: libevent's loop would spin on it and log a warning per
// turn. Instead the listener rests for kAcceptBackoffMs while open sessions go on, and the
// condition is logged once per interval with the number of back-offs.
void Worker::OnAcceptError(evconnlistener* listener, void* arg) {
  int err = EVUTIL_SOCKET_ERROR();
  auto* ctx = static_cast<ListenerCtx*>(arg);
  Worker* w = ctx->worker;
  evconnlistener_disable(listener);
  timeval tv{0, kAcceptBackoffMs * 1000};
  event_add(ctx->resume, &tv);
  uint64_t count = 0;
  if (w->accept_error_log_.Tick(MonotonicMs(), &count)) {
    const RuntimePtr& rt = w->runtime_.Current();
    log::Warn(
        "cluster {}: accept() failed: {}; not accepting for {} ms ({} back-off(s) since the last "
        "message, open sessions go on)",
        rt->clusters[ctx->cluster_index].name, evutil_socket_error_to_string(err), kAcceptBackoffMs,
        count);
  }
}

void Worker::OnAcceptResume(evutil_socket_t, short, void* arg) {
  auto* ctx = static_cast<ListenerCtx*>(arg);
  if (ctx->listener) evconnlistener_enable(ctx->listener);
}

bool Worker::AdmitUser(std::string_view cluster, const std::string& user, int64_t limit,
                       UserSlot* slot, int64_t* current) {
  if (!shared_->user_connections.Acquire(user, limit, slot, current)) {
    stats_->client_connections_refused++;
    return false;
  }
  // This worker's sessions per "cluster/user" (stats_users, sluice_user_client_connections):
  // a login, not a statement, so building the key is no cost on the statement path.
  std::string key = UserStatsKey(cluster, user);
  auto it = user_sessions_.find(key);
  if (it == user_sessions_.end()) it = user_sessions_.emplace(std::move(key), 0).first;
  slot->set_local(&it->second);
  return true;
}

void Worker::OnWake(evutil_socket_t fd, short, void* arg) {
  auto* w = static_cast<Worker*>(arg);
  uint64_t n;
  (void)!read(fd, &n, sizeof n);
  w->inbox_.RunAll(w);
  int request = w->request_.load();
  if (request == kStop)
    event_base_loopbreak(w->base_);
  else if (request == kDrain && !w->draining_)
    w->BeginDrain();
}

// Every 100 ms: react to a new snapshot (OFFLINE_HARD servers lose their connections at
// once); every second: hand the statistics over.
void Worker::OnHousekeeping(evutil_socket_t, short, void* arg) {
  auto* w = static_cast<Worker*>(arg);
  bool changed = w->runtime_.Current()->version != w->seen_version_;
  w->ApplySnapshotChange();
  if (!w->held_.empty()) w->RetryHeld(changed);
  if (++w->housekeeping_ticks_ % (1000 / kHousekeepingMs) == 0) w->HandOverStats();
  w->MaybeFinishDrain();
}

void Worker::ApplySnapshotChange() {
  const RuntimePtr& rt = runtime_.Current();
  if (rt->version == seen_version_) return;
  std::vector<std::string> gone;
  if (seen_version_ != 0 && previous_) {
    // Servers of the previous snapshot that are OFFLINE_HARD or absent now.
    for (size_t ci = 0; ci < previous_->clusters.size() && ci < rt->clusters.size(); ++ci) {
      for (const Server& old : previous_->clusters[ci].servers) {
        const Server* now = nullptr;
        for (const Server& s : rt->clusters[ci].servers)
          if (s.host == old.host && s.port == old.port) now = &s;
        if (!now || now->state == ServerState::kOfflineHard) gone.push_back(old.name());
      }
    }
  }
  seen_version_ = rt->version;
  previous_ = rt;
  for (const std::string& server : gone) {
    pools_->CloseIdleTo(server);
    std::vector<ClientSession*> all(sessions_.begin(), sessions_.end());
    for (ClientSession* s : all)
      if (sessions_.count(s)) s->OnServerGone(server);
  }
}

void Worker::HandOverStats() {
  // Gauges are absolute: refresh them before the hand-over.
  const RuntimePtr& rt = runtime_.Current();
  for (const Cluster& c : rt->clusters) {
    for (const Server& s : c.servers) {
      ServerStats& st = stats_->servers[c.name + "/" + s.name()];
      int open = pools_->open_count(s.name());
      int idle = static_cast<int>(pools_->idle_count(s.name()));
      st.conns_free = idle;
      st.conns_used = open - idle;
      st.clients_waiting = static_cast<int64_t>(pools_->waiting_count(s.name()));
      int64_t since = pools_->first_wait_since_us(s.name());
      st.oldest_wait_us = since ? std::max<int64_t>(0, MonotonicUs() - since) : 0;
    }
  }
  stats_->client_connections = static_cast<int64_t>(sessions_.size());
  for (const auto& [user, n] : user_sessions_) stats_->users[user].client_connections = n;
  mirror_feed_.Flush();  // (kept, and added to, while the last partial is not taken yet)
  if (stats_->empty() && stats_->servers.empty()) return;
  // When the control plane has not taken the last delta yet, keep counting into this one.
  if (mailbox_.Offer(stats_)) stats_ = std::make_unique<StatsDelta>();
}

ShadowWaiters& Worker::shadow_waiters() {
  if (!shadow_waiters_) shadow_waiters_ = std::make_unique<ShadowWaiters>(base_);
  return *shadow_waiters_;
}

double Worker::NextUniform() {
  // splitmix64: one multiply-xorshift round per call, no lock, no syscall.
  uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

void Worker::RetryHeld(bool snapshot_changed) {
  int64_t now = MonotonicMs();
  std::vector<std::pair<ClientSession*, bool>> due;
  for (auto& [s, h] : held_)
    if (snapshot_changed || h.deadline_ms <= now || (h.retry_at_ms && h.retry_at_ms <= now))
      due.emplace_back(s, h.deadline_ms <= now);
  for (auto& [s, timed_out] : due) {
    held_.erase(s);
    if (sessions_.count(s)) s->RetryHeld(timed_out);
  }
}

void Worker::BeginDrain() {
  draining_ = true;
  for (auto& l : listeners_) {
    if (l->listener) evconnlistener_free(l->listener);
    l->listener = nullptr;
    if (l->resume) event_del(l->resume);
  }
  std::vector<ClientSession*> all(sessions_.begin(), sessions_.end());
  for (ClientSession* s : all) s->Drain();
  MaybeFinishDrain();
}

// The loop ends once every session has closed and the last bytes of each (the answer to a
// transaction's COMMIT, a FATAL) have left; the housekeeping tick looks again until then.
// The drain timeout (main.cc) bounds it.
void Worker::MaybeFinishDrain() {
  if (draining_ && sessions_.empty() && LingeringCloses() == 0) event_base_loopbreak(base_);
}

void Worker::AddSession(ClientSession* s) {
  sessions_.insert(s);
}

void Worker::RemoveSession(ClientSession* s) {
  sessions_.erase(s);
  held_.erase(s);
  MaybeFinishDrain();
}

void Worker::Post(WorkerInbox::Request r) {
  inbox_.Push(std::move(r));
  Wake(kNone);
}

bool Worker::KillLocal(uint32_t id, bool query_only) {
  ClientSession* s = shared_->sessions.LocalOwner(index_, id);
  if (!s || !sessions_.count(s)) return false;
  s->Kill(query_only);
  return true;
}

const std::string& Worker::ServerName(size_t cluster_index, size_t server_index) {
  const RuntimePtr& rt = runtime_.Current();
  if (rt != names_of_) {
    names_of_ = rt;
    server_names_.assign(rt->clusters.size(), {});
    for (size_t c = 0; c < rt->clusters.size(); ++c)
      for (const Server& s : rt->clusters[c].servers) server_names_[c].push_back(s.name());
  }
  return server_names_[cluster_index][server_index];
}

}  // namespace sluice
