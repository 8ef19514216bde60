// A worker with sessions that run on in-memory bufferevent pairs: the test plays the client
// on one end and each backend server on the other ends, byte for byte. No sockets, no
// servers; the session, the core, the pool and the router are the real ones.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "common/clock.h"
#include "proxy/backend_pool.h"
#include "proxy/backend_socket.h"
#include "proxy/backend_tls.h"
#include "proxy/shared.h"
#include "proxy/worker.h"
#include "routing/runtime.h"

namespace sluice::testing {

// One end of a pair, as the test holds it.
struct Peer {
  bufferevent* bev = nullptr;
  std::string address;  // the backend address dialed (servers only)
  evbuffer* in() const { return bufferevent_get_input(bev); }
  void Write(const std::string& bytes) { bufferevent_write(bev, bytes.data(), bytes.size()); }
  std::string TakeAll() {
    std::string s(evbuffer_get_length(in()), '\0');
    evbuffer_remove(in(), s.data(), s.size());
    return s;
  }
  // The other end sees EOF, as when a server or client closes its socket.
  void Close() {
    if (bev) bufferevent_flush(bev, EV_WRITE, BEV_FINISHED);
    if (bev) bufferevent_free(bev);
    bev = nullptr;
  }
};

class PairDialer final : public Dialer {
 public:
  bufferevent* Create(event_base* base, const SocketAddress& addr) override {
    bufferevent* pair[2];
    bufferevent_pair_new(base, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, pair);
    bufferevent_enable(pair[1], EV_READ | EV_WRITE);
    servers.push_back(Peer{pair[1], addr.ip});
    return pair[0];
  }
  bool Start(bufferevent* bev, const SocketAddress& addr) override {
    if (refuse || refuse_ips.count(addr.ip)) return false;
    bufferevent_trigger_event(bev, BEV_EVENT_CONNECTED, BEV_TRIG_DEFER_CALLBACKS);
    return true;
  }
  std::deque<Peer> servers;  // every connection dialed, oldest first
  bool refuse = false;
  std::set<std::string> refuse_ips;  // these addresses refuse the connect (ECONNREFUSED)
};

// The monitor's promotion of the harness's replica (server 1) after its primary (server 0)
// died, as a snapshot shows it.
inline void PromoteReplica(Runtime* rt) {
  auto& s = rt->clusters[0].servers;
  s[0].role = ServerRole::kReplica;
  s[0].hostgroup = 1;
  s[0].state = ServerState::kShunned;
  s[1].role = ServerRole::kPrimary;
  s[1].hostgroup = 0;
}

class Harness {
 public:
  explicit Harness(Protocol protocol) {
    auto rt = std::make_shared<Runtime>();
    Cluster c;
    c.name = "app";
    c.protocol = protocol;
    c.writer_hostgroup = 0;
    c.reader_hostgroup = 1;
    c.write_hold_timeout_ms = 5000;
    Server p;
    p.host = "10.0.0.1";
    p.port = protocol == Protocol::kMysql ? 3306 : 5432;
    p.role = ServerRole::kPrimary;
    p.hostgroup = 0;
    Server r = p;
    r.host = "10.0.0.2";
    r.role = ServerRole::kReplica;
    r.hostgroup = 1;
    c.servers = {p, r};
    rt->clusters.push_back(c);
    User u;
    u.name = "app";
    u.password = "app_pw";
    u.cluster = "app";
    rt->users.push_back(u);
    User m = u;
    m.name = "md5user";
    m.pg_auth = "md5";
    rt->users.push_back(m);
    runtime_ = rt;
    shared_.runtime.Publish(rt);
    shared_.cluster_counters.push_back(std::make_unique<ClusterCounters>());
    shared_.tls.push_back(nullptr);
    shared_.backend_tls.push_back(nullptr);
    worker_ = std::make_unique<Worker>(0, &shared_);
    worker_->set_dialer(&dialer_);
  }
  ~Harness() {
    // Clients first: their sessions close and give their connections back; then the
    // servers, whose EOF ends the pooled connections.
    for (auto& c : clients_) c.Close();
    for (int i = 0; i < 50; ++i) event_base_loop(worker_->base(), EVLOOP_NONBLOCK);
    for (auto& s : dialer_.servers) s.Close();
    // Let deferred deletes run before the worker goes.
    for (int i = 0; i < 100; ++i) event_base_loop(worker_->base(), EVLOOP_NONBLOCK);
  }

  // A client connection: the session gets one end, the test the other (client()).
  bufferevent* NewClient() {
    bufferevent* pair[2];
    bufferevent_pair_new(worker_->base(), BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, pair);
    bufferevent_enable(pair[1], EV_READ | EV_WRITE);
    clients_.push_back(Peer{pair[1], ""});
    return pair[0];
  }

  // Runs the loop until done() or the deadline; true when done.
  bool RunUntil(const std::function<bool()>& done, int timeout_ms = 2000) {
    int64_t deadline = MonotonicMs() + timeout_ms;
    while (!done()) {
      if (MonotonicMs() > deadline) return false;
      event_base_loop(worker_->base(), EVLOOP_NONBLOCK);
    }
    return true;
  }
  void Settle() {
    for (int i = 0; i < 20; ++i) event_base_loop(worker_->base(), EVLOOP_NONBLOCK);
  }
  // Publishes a changed copy of the runtime (the worker notices on its housekeeping tick).
  void Publish(const std::function<void(Runtime*)>& edit) {
    auto rt = std::make_shared<Runtime>(*runtime_);
    edit(rt.get());
    rt->version = runtime_->version + 1;
    runtime_ = rt;
    shared_.runtime.Publish(rt);
  }

  // The cluster's backend_tls (no files: prefer/require) and its context, as main makes it.
  void SetBackendTls(BackendTlsMode mode) {
    BackendTls tls;
    tls.mode = mode;
    auto ctx = MakeBackendTlsContext(tls);
    ASSERT_TRUE(ctx.ok()) << ctx.status().message();
    if (shared_.backend_tls[0]) SSL_CTX_free(shared_.backend_tls[0]);
    shared_.backend_tls[0] = *ctx;
    Publish([&](Runtime* rt) { rt->clusters[0].backend_tls = tls; });
  }

  Worker& worker() { return *worker_; }
  ProxyShared& shared() { return shared_; }
  // A counter over the whole test: what the worker handed over (once a second, through its
  // mailbox) plus what it counts now.
  uint64_t Counted(uint64_t StatsDelta::*field) {
    if (auto d = worker_->stats_mailbox().Take()) handed_over_.Merge(std::move(*d));
    return handed_over_.*field + worker_->stats().*field;
  }
  // The index of the newest connection dialed to ip, or -1.
  int LastDialedTo(const std::string& ip) const {
    for (size_t i = dialer_.servers.size(); i-- > 0;)
      if (dialer_.servers[i].address == ip) return static_cast<int>(i);
    return -1;
  }
  StatsDelta& stats() { return worker_->stats(); }
  PairDialer& dialer() { return dialer_; }
  Peer& client() { return clients_.back(); }  // the newest
  Peer& client(size_t i) { return clients_.at(i); }
  Peer& server(size_t i) { return dialer_.servers.at(i); }
  size_t dialed() const { return dialer_.servers.size(); }

 private:
  ProxyShared shared_;
  std::shared_ptr<Runtime> runtime_;
  PairDialer dialer_;
  std::unique_ptr<Worker> worker_;
  std::deque<Peer> clients_;
  StatsDelta handed_over_;
};

}  // namespace sluice::testing
