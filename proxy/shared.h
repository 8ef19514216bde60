// ProxyShared: the little that all workers of one process share. Read-mostly; the only
// writes on the client path are relaxed atomic counters (one per accepted connection).
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <memory>
#include <vector>

#include "common/stats.h"
#include "mirror/write_order.h"
#include "proxy/backend_registry.h"
#include "proxy/limits.h"
#include "proxy/session_registry.h"
#include "routing/causal.h"
#include "routing/runtime.h"

namespace sluice {

class Worker;
namespace health {
class AuthLookup;  // health/auth_lookup.h
}

struct ClusterCounters {
  std::atomic<int64_t> client_connections{0};
  // The furthest write position acknowledged to any session (consistency = "global").
  routing::CausalBoard acknowledged;
  // The servers' positions as the cluster's monitor last read them (health/ writes it).
  routing::PositionBoard positions;
  // A worker saw a connection to one of the cluster's servers fail: the monitor checks now
  // (health::MonitorHooks::take_check_request takes it). Workers store, never wait.
  std::atomic<bool> check_requested{false};
};

struct ProxyShared {
  ~ProxyShared() {
    for (SSL_CTX* c : tls)
      if (c) SSL_CTX_free(c);
    for (SSL_CTX* c : backend_tls)
      if (c) SSL_CTX_free(c);
  }
  RuntimeHolder runtime;
  int worker_count = 1;
  // Indexed like Runtime::clusters at start; clusters are fixed for the process lifetime
  // (their listeners are bound at start), servers/users/rules change with snapshots.
  std::vector<std::unique_ptr<ClusterCounters>> cluster_counters;
  // Per cluster (indexed like Runtime::clusters at start): the TLS context, or nullptr.
  std::vector<SSL_CTX*> tls;
  // Per cluster, likewise: the client context towards its servers (backend_tls), or nullptr.
  std::vector<SSL_CTX*> backend_tls;
  // Logged-in client sessions per user, all workers (User::max_connections).
  UserConnections user_connections;
  // Every client session by its connection id (KILL, the admin process list).
  SessionRegistry sessions;
  // Every backend connection (SHOW SERVERS, stats_backends).
  BackendRegistry backends;
  // The workers, by index (main sets them before any starts): where a KILL is posted.
  std::vector<Worker*> workers;
  // Per cluster, likewise: the passthrough lookup (Cluster::auth_user), or nullptr (main
  // owns them). Workers only Submit to it.
  std::vector<health::AuthLookup*> auth_lookups;
  // Each worker's stats mailbox, for the control plane to take deltas from.
  std::vector<StatsMailbox*> stats_mailboxes;
  // Per mirror: the order of its writes across every worker's shadow sessions.
  mirror::WriteOrders mirror_orders;
};

}  // namespace sluice
