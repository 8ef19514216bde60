#include "admin/stats_collector.h"

#include <algorithm>
#include <utility>

namespace sluice {

void AddWorkerStats(StatsDelta* total, const StatsDelta& w) {
  for (const auto& [k, v] : w.servers) {
    ServerStats& t = total->servers[k];
    int64_t used = t.conns_used, free = t.conns_free, waiting = t.clients_waiting;
    int64_t oldest = t.oldest_wait_us;
    t.Merge(v);
    t.conns_used = used + v.conns_used;
    t.conns_free = free + v.conns_free;
    t.clients_waiting = waiting + v.clients_waiting;
    t.oldest_wait_us = std::max(oldest, v.oldest_wait_us);  // the longest wait of any worker
  }
  for (const auto& [k, v] : w.digests) MergeDigest(&total->digests, k, v);
  for (const auto& [k, v] : w.commands) {
    total->commands[k].count += v.count;
    total->commands[k].latency.Merge(v.latency);
  }
  for (const auto& [k, v] : w.users) {
    UserStats& t = total->users[k];
    t.statements += v.statements;
    t.errors += v.errors;
    t.client_connections += v.client_connections;
  }
  for (const auto& [k, v] : w.consistency) total->consistency[k].Add(v);
  total->client_connections_accepted += w.client_connections_accepted;
  total->client_connections_refused += w.client_connections_refused;
  total->protocol_errors += w.protocol_errors;
  total->protocol_errors_mysql += w.protocol_errors_mysql;
  total->protocol_errors_postgresql += w.protocol_errors_postgresql;
  total->client_login_timeouts += w.client_login_timeouts;
  total->preauth_evictions += w.preauth_evictions;
  total->query_timeouts += w.query_timeouts;
  total->idle_transaction_timeouts += w.idle_transaction_timeouts;
  total->pool_waits += w.pool_waits;
  total->pool_wait_timeouts += w.pool_wait_timeouts;
  total->retries += w.retries;
  total->connect_holds += w.connect_holds;
  total->connect_hold_timeouts += w.connect_hold_timeouts;
  for (const auto& [k, v] : w.session_pins) total->session_pins[k] += v;
  total->client_connections += w.client_connections;
}

StatsCollector::StatsCollector(std::vector<StatsMailbox*> mailboxes)
    : mailboxes_(std::move(mailboxes)),
      lifetime_(mailboxes_.size()),
      since_reset_(mailboxes_.size()) {}

void StatsCollector::Poll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < mailboxes_.size(); ++i) {
    std::unique_ptr<StatsDelta> d = mailboxes_[i]->Take();
    if (!d) continue;
    // Rejections become events; they are not kept in the totals.
    if (rejection_sink_)
      for (const RejectedStatement& r : d->rejected) rejection_sink_(r);
    d->rejected.clear();
    StatsDelta copy = *d;
    lifetime_[i].Merge(std::move(copy));
    since_reset_[i].Merge(std::move(*d));
  }
}

StatsDelta StatsCollector::Sum(const std::vector<StatsDelta>& per_worker) {
  StatsDelta total;
  for (const StatsDelta& w : per_worker) AddWorkerStats(&total, w);
  return total;
}

StatsDelta StatsCollector::Lifetime() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Sum(lifetime_);
}

StatsDelta StatsCollector::SinceReset() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Sum(since_reset_);
}

StatsDelta StatsCollector::TakeSinceReset(Section section) {
  std::lock_guard<std::mutex> lock(mu_);
  StatsDelta out = Sum(since_reset_);
  for (StatsDelta& w : since_reset_) {
    switch (section) {
      case Section::kServers:
        for (auto& [k, s] : w.servers) {
          ServerStats kept;
          kept.conns_used = s.conns_used;
          kept.conns_free = s.conns_free;
          kept.clients_waiting = s.clients_waiting;
          kept.oldest_wait_us = s.oldest_wait_us;
          s = kept;
        }
        break;
      case Section::kDigests:
        w.digests.clear();
        break;
      case Section::kCommands:
        w.commands.clear();
        break;
      case Section::kUsers:
        for (auto& [k, u] : w.users) u.statements = u.errors = 0;
        break;
      case Section::kConsistency:
        w.consistency.clear();
        break;
      case Section::kGlobal: {
        int64_t clients = w.client_connections;
        w.client_connections_accepted = w.client_connections_refused = 0;
        w.protocol_errors = w.pool_waits = w.pool_wait_timeouts = w.retries = 0;
        w.connect_holds = w.connect_hold_timeouts = 0;
        w.protocol_errors_mysql = w.protocol_errors_postgresql = 0;
        w.client_login_timeouts = w.preauth_evictions = 0;
        w.query_timeouts = w.idle_transaction_timeouts = 0;
        w.session_pins.clear();
        w.client_connections = clients;
        break;
      }
    }
  }
  return out;
}

}  // namespace sluice
