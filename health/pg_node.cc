// PostgreSQL side of Node: libpq, blocking; connect_timeout and tcp_user_timeout bound a dead
// peer, statement_timeout a stuck query.
#include <libpq-fe.h>

#include <chrono>

#include <fmt/format.h>

#include "common/log.h"
#include "health/node.h"
#include "health/pg_standby.h"
#include "health/positions.h"

namespace sluice::health {
namespace {

class PgNode : public Node {
 public:
  PgNode(NodeOptions o, std::string database) : o_(std::move(o)), database_(std::move(database)) {}
  ~PgNode() override { Close(); }

  void Close() override {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
  }

  Result<Rows> Query(const std::string& sql) override {
    if (Status s = Connect(); !s.ok()) return s;
    PGresult* res = PQexec(conn_, sql.c_str());
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      Status s = Unavailable(fmt::format("{}: {}", sql, PQerrorMessage(conn_)));
      PQclear(res);
      if (PQstatus(conn_) != CONNECTION_OK) Close();
      return s;
    }
    Rows rows;
    for (int i = 0; i < PQntuples(res); ++i) {
      std::vector<std::optional<std::string>> r;
      for (int j = 0; j < PQnfields(res); ++j)
        r.push_back(PQgetisnull(res, i, j) ? std::nullopt
                                           : std::optional<std::string>(PQgetvalue(res, i, j)));
      rows.push_back(std::move(r));
    }
    PQclear(res);
    return rows;
  }

  Result<NodeCheck> Check() override {
    auto start = std::chrono::steady_clock::now();
    auto r = Query(
        "SELECT pg_is_in_recovery(), "
        "CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END, "
        "pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, "
        "(extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, "
        "CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END, "
        "(SELECT status FROM pg_stat_wal_receiver LIMIT 1)");
    if (!r.ok()) return r.status();
    if (r->empty()) return Internal("no row from the check query");
    const auto& v = (*r)[0];
    NodeCheck c;
    bool recovery = v[0].value_or("f") == "t";
    c.is_primary = !recovery;
    c.read_only = recovery;
    c.replicating = recovery;
    if (v[1]) c.lsn_current = ParseLsn(*v[1]).value_or(0);
    if (v[2]) c.lsn_received = ParseLsn(*v[2]).value_or(0);
    if (v[3]) c.lsn_replayed = ParseLsn(*v[3]).value_or(0);
    if (v[4]) c.replay_age_ms = std::stoll(*v[4]);
    c.replay_paused = v[5].value_or("f") == "t";
    c.threads_running = v[6].value_or("") == "streaming";
    if (c.is_primary) ReadStandbys(&c);
    c.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count();
    return c;
  }

 private:
  // Discovery's view: the streaming standbys that name themselves "host:port" (pg_standby.h).
  // Without pg_monitor (or pg_read_all_stats) the state is NULL and discovery sees nothing,
  // as MariaDB's does without SHOW SLAVE HOSTS rights; the check itself still counts.
  void ReadStandbys(NodeCheck* c) {
    auto r = Query("SELECT application_name, host(client_addr), state FROM pg_stat_replication");
    if (!r.ok()) {
      log::Debug("discovery: pg_stat_replication on {}:{}: {}", o_.host, o_.port,
                 r.status().message());
      return;
    }
    for (const auto& row : *r) {
      if (row[2].value_or("") != "streaming") continue;
      const std::string name = row[0].value_or("");
      if (auto addr = PgStandbyAddress(name)) {
        c->replicas.push_back(*addr);
        continue;
      }
      log::Debug("discovery: standby from {} names itself '{}', not host:port: ignored",
                 row[1].value_or("?"), name);
    }
  }

  Status Connect() {
    if (conn_) return Status::Ok();
    std::string info = fmt::format(
        "host={} port={} user={} password={} dbname={} connect_timeout={} "
        "tcp_user_timeout={} application_name=sluice_monitor options='-c statement_timeout={}'",
        PgConninfoValue(o_.host), o_.port, PgConninfoValue(o_.user), PgConninfoValue(o_.password),
        PgConninfoValue(database_), o_.connect_timeout_s, o_.read_timeout_s * 1000,
        o_.read_timeout_s * 1000);
    conn_ = PQconnectdb(info.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      Status s = Unavailable(fmt::format("connect: {}", PQerrorMessage(conn_)));
      Close();
      return s;
    }
    return Status::Ok();
  }

  NodeOptions o_;
  std::string database_;
  PGconn* conn_ = nullptr;
};

}  // namespace

std::unique_ptr<Node> MakePgNode(const NodeOptions& o) {
  return std::make_unique<PgNode>(o, "postgres");
}

std::unique_ptr<Node> MakePgNodeFor(const NodeOptions& o, const std::string& database) {
  return std::make_unique<PgNode>(o, database);
}

}  // namespace sluice::health
