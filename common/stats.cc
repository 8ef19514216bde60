#include "common/stats.h"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <functional>

namespace sluice {

void LatencyHistogram::Add(uint64_t us) {
  size_t i = 0;
  while (i < kLatencyBucketsUs.size() && us > kLatencyBucketsUs[i]) ++i;
  ++buckets[i];
  ++count;
  sum_us += us;
}

void LatencyHistogram::Merge(const LatencyHistogram& o) {
  for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
  count += o.count;
  sum_us += o.sum_us;
}

void ServerStats::Merge(const ServerStats& o) {
  queries += o.queries;
  errors += o.errors;
  connect_errors += o.connect_errors;
  bytes_to_server += o.bytes_to_server;
  bytes_from_server += o.bytes_from_server;
  latency.Merge(o.latency);
  pool_wait.Merge(o.pool_wait);
  pool_wait_max_us = std::max(pool_wait_max_us, o.pool_wait_max_us);
  conns_used = o.conns_used;
  conns_free = o.conns_free;
  clients_waiting = o.clients_waiting;
  oldest_wait_us = o.oldest_wait_us;
}

void DigestStats::Merge(const DigestStats& o) {
  if (count == 0) {
    cluster = o.cluster;
    digest_text = o.digest_text;
    schema = o.schema;
    user = o.user;
    hostgroup = o.hostgroup;
    first_seen_unix = o.first_seen_unix;
  }
  count += o.count;
  sum_us += o.sum_us;
  min_us = std::min(min_us, o.min_us);
  max_us = std::max(max_us, o.max_us);
  rows_sent += o.rows_sent;
  rows_affected += o.rows_affected;
  errors += o.errors;
  last_seen_unix = std::max(last_seen_unix, o.last_seen_unix);
  if (o.hostgroup >= 0) hostgroup = o.hostgroup;
}

uint64_t OtherDigestKey(std::string_view cluster) {
  return std::hash<std::string_view>()(cluster) ^ 0x6F746865725F5F5Full;  // "other___"
}

namespace {
// Where a statement of KEY is counted: its own row, or its cluster's "other" row once the
// map is full; FOLDED tells which. One lookup for a row that exists (the common case).
DigestStats& DigestRow(std::unordered_map<uint64_t, DigestStats>* digests, uint64_t key,
                       std::string_view cluster, bool* folded) {
  auto it = digests->find(key);
  *folded = it == digests->end() && digests->size() >= kQueryDigestsMax;
  if (it != digests->end()) return it->second;
  if (!*folded) return digests->try_emplace(key).first->second;
  DigestStats& other = (*digests)[OtherDigestKey(cluster)];
  if (other.count == 0) {
    other.cluster = cluster;
    other.digest_text = kOtherDigestText;
  }
  return other;
}
}  // namespace

void MergeDigest(std::unordered_map<uint64_t, DigestStats>* digests, uint64_t key,
                 const DigestStats& v) {
  bool folded = false;
  DigestStats& row = DigestRow(digests, key, v.cluster, &folded);
  if (!folded && (row.count == 0 || row.digest_text != kOtherDigestText)) {
    row.Merge(v);
    return;
  }
  // Folded into "other": its text and identity stay the row's own.
  DigestStats anon = v;
  anon.digest_text = row.digest_text;
  anon.schema.clear();
  anon.user.clear();
  anon.hostgroup = -1;
  row.Merge(anon);
}

void StatsDelta::Merge(StatsDelta&& o) {
  for (auto& [k, v] : o.servers) servers[k].Merge(v);
  for (auto& [k, v] : o.digests) MergeDigest(&digests, k, v);
  for (auto& [k, v] : o.commands) {
    commands[k].count += v.count;
    commands[k].latency.Merge(v.latency);
  }
  for (auto& [k, v] : o.users) {
    users[k].statements += v.statements;
    users[k].errors += v.errors;
    users[k].client_connections = v.client_connections;
  }
  for (const auto& [k, v] : o.consistency) consistency[k].Add(v);
  client_connections_accepted += o.client_connections_accepted;
  client_connections_refused += o.client_connections_refused;
  protocol_errors += o.protocol_errors;
  protocol_errors_mysql += o.protocol_errors_mysql;
  protocol_errors_postgresql += o.protocol_errors_postgresql;
  client_login_timeouts += o.client_login_timeouts;
  preauth_evictions += o.preauth_evictions;
  query_timeouts += o.query_timeouts;
  idle_transaction_timeouts += o.idle_transaction_timeouts;
  pool_waits += o.pool_waits;
  pool_wait_timeouts += o.pool_wait_timeouts;
  retries += o.retries;
  connect_holds += o.connect_holds;
  connect_hold_timeouts += o.connect_hold_timeouts;
  rejected_statements += o.rejected_statements;
  for (auto& [k, v] : o.session_pins) session_pins[k] += v;
  for (auto& r : o.rejected) {
    if (rejected.size() >= kRejectedSamplesMax) break;
    rejected.push_back(std::move(r));
  }
  client_connections = o.client_connections;
}

void RecordRejection(StatsDelta* d, std::string_view cluster, std::string_view user,
                     std::string_view message, std::string_view statement) {
  ++d->rejected_statements;
  if (d->rejected.size() >= kRejectedSamplesMax) return;
  d->rejected.push_back(RejectedStatement{std::string(cluster), std::string(user),
                                          std::string(message),
                                          std::string(statement.substr(0, kRejectedTextMax))});
}

namespace {

// The row for key, made (and its key copied) only the first time: a statement that finds its
// row allocates nothing.
template <class Map>
typename Map::mapped_type& Row(Map& m, std::string_view key) {
  auto it = m.find(key);
  if (it == m.end()) it = m.emplace(std::string(key), typename Map::mapped_type{}).first;
  return it->second;
}

}  // namespace

std::string UserStatsKey(std::string_view cluster, std::string_view user) {
  std::string k;
  k.reserve(cluster.size() + 1 + user.size());
  k.append(cluster).append("/").append(user);
  return k;
}

namespace {

// "A/B" in BUF when it fits (it does for every name a config allows), else in *LONG.
std::string_view JoinKey(std::string_view a, std::string_view b, char (&buf)[160],
                         std::string* long_key) {
  size_t n = a.size() + 1 + b.size();
  if (n > sizeof buf) {
    long_key->append(a).append("/").append(b);
    return *long_key;
  }
  memcpy(buf, a.data(), a.size());
  buf[a.size()] = '/';
  memcpy(buf + a.size() + 1, b.data(), b.size());
  return {buf, n};
}

}  // namespace

void RecordStatement(StatsDelta* d, const StatementRecord& r) {
  // "cluster/host:port" and "cluster/user", built on the stack when they fit (always, for
  // IPv4 and the names a config allows): a statement that finds its rows allocates nothing.
  char buf[160];
  std::string long_key;
  ServerStats& s = Row(d->servers, JoinKey(r.cluster, r.server, buf, &long_key));
  ++s.queries;
  s.errors += r.error;
  s.latency.Add(r.latency_us);
  CommandStats& c = Row(d->commands, r.command.empty() ? "OTHER" : r.command);
  ++c.count;
  c.latency.Add(r.latency_us);
  long_key.clear();
  UserStats& u = Row(d->users, JoinKey(r.cluster, r.user, buf, &long_key));
  ++u.statements;
  u.errors += r.error;
  if (r.digest_text.empty()) return;
  // The same statement shape by another user or in another schema is another row.
  uint64_t key = r.digest_hash ^ (std::hash<std::string_view>()(r.user) * 0x9E3779B97F4A7C15ull) ^
                 (std::hash<std::string_view>()(r.schema) * 0xC2B2AE3D27D4EB4Full) ^
                 std::hash<std::string_view>()(r.cluster);
  bool folded = false;
  DigestStats& g = DigestRow(&d->digests, key, r.cluster, &folded);
  int64_t now = static_cast<int64_t>(time(nullptr));
  if (g.count == 0) {
    if (!folded) {  // "other" has its text already, and no user, schema or hostgroup
      g.cluster = r.cluster;
      g.digest_text = r.digest_text;
      g.schema = r.schema;
      g.user = r.user;
    }
    g.first_seen_unix = now;
  }
  if (!folded) g.hostgroup = r.hostgroup;
  ++g.count;
  g.sum_us += r.latency_us;
  g.min_us = std::min(g.min_us, r.latency_us);
  g.max_us = std::max(g.max_us, r.latency_us);
  g.rows_sent += r.rows_sent;
  g.rows_affected += r.rows_affected;
  g.errors += r.error;
  g.last_seen_unix = now;
}

bool StatsDelta::empty() const {
  return servers.empty() && digests.empty() && commands.empty() && users.empty() &&
         client_connections_accepted == 0 && client_connections_refused == 0 &&
         protocol_errors == 0 && pool_waits == 0 && retries == 0 && connect_holds == 0 &&
         connect_hold_timeouts == 0 && rejected_statements == 0 && client_login_timeouts == 0 &&
         preauth_evictions == 0 && query_timeouts == 0 && idle_transaction_timeouts == 0 &&
         session_pins.empty() && consistency.empty();
}

}  // namespace sluice
