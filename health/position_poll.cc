// The servers' replication positions for causal reads (routing::PositionBoard): published
// from every round's checks, and read again between rounds every
// monitor_position_interval_ms with one short query per server, so that a read whose target
// a replica already shows runs there without a check (docs/architecture.md, "Causal reads").
#include <mutex>

#include "common/log.h"
#include "health/cluster_monitor.h"

namespace sluice::health {
namespace {

// What a server shows: a primary what it wrote, a replica what it applied.
routing::CausalPosition ToCausal(Protocol protocol, const Position& p) {
  routing::CausalPosition out;
  for (const auto& [stream, seq] : p) {
    if (protocol == Protocol::kPostgres)
      out.MergeLsn(seq);
    else
      out.MergeGtid(routing::CausalGtid{stream, 0, seq});  // MASTER_GTID_WAIT ignores server
  }
  return out;
}

// One row: the position written (a primary) and the position applied (a replica).
const char* PositionQuery(Protocol protocol) {
  return protocol == Protocol::kPostgres
             ? "SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text "
               "END, pg_last_wal_replay_lsn()::text"
             : "SELECT @@gtid_binlog_pos, @@gtid_slave_pos";
}

std::optional<Position> ParsePosition(Protocol protocol, const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  if (protocol == Protocol::kMysql) return ParseGtidPos(*text);
  auto lsn = ParseLsn(*text);
  if (!lsn) return std::nullopt;
  return LsnPosition(*lsn);
}

}  // namespace

void ClusterMonitor::PublishPositions(const Cluster& c) {
  if (!owner_->hooks_.position_board) return;
  routing::PositionBoard* board = owner_->hooks_.position_board(name_);
  if (!board) return;
  for (const Server& s : c.servers) {
    const ServerWatch& w = watch_[s.name()];
    routing::CausalPosition p;
    if (w.last)
      p = ToCausal(c.protocol, s.role == ServerRole::kPrimary ? w.last->written : w.last->applied);
    board->Publish(s.host, s.port, p);  // empty: not answering, its old position says nothing
  }
}

void ClusterMonitor::PollPositions() {
  if (!owner_->hooks_.position_board) return;
  routing::PositionBoard* board = owner_->hooks_.position_board(name_);
  if (!board) return;
  // A switchover holds the nodes: the positions wait for the next round.
  std::unique_lock<std::mutex> a(action_mu_, std::try_to_lock);
  if (!a.owns_lock()) return;
  Cluster c = Composed();
  for (const Server& s : c.servers) {
    auto it = watch_.find(s.name());
    if (it == watch_.end() || !it->second.node || !it->second.last) continue;
    auto rows = it->second.node->Query(PositionQuery(c.protocol));
    routing::CausalPosition p;
    if (rows.ok() && !rows->empty() && (*rows)[0].size() >= 2) {
      auto pos = ParsePosition(c.protocol, (*rows)[0][s.role == ServerRole::kPrimary ? 0 : 1]);
      if (pos) p = ToCausal(c.protocol, *pos);
    } else if (!rows.ok()) {
      log::Debug("monitor {}: position of {}: {}", name_, s.name(), rows.status().message());
    }
    board->Publish(s.host, s.port, p);
  }
}

}  // namespace sluice::health
