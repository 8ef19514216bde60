// PostgreSQL side of Node: libpq driven nonblocking, every connect and statement bounded by a
// deadline of its own, so a hung server (SIGSTOP: TCP up, no answer) fails the check in time.
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "common/log.h"
#include "health/node.h"
#include "health/node_tls.h"
#include "health/pg_standby.h"
#include "health/positions.h"

namespace sluice::health {
namespace {

std::string SqlString(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

using Clock = std::chrono::steady_clock;

class PgNode : public Node {
 public:
  PgNode(NodeOptions o, std::string database) : o_(std::move(o)), database_(std::move(database)) {}
  ~PgNode() override { Close(); }

  void Close() override {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
  }

  Result<NodeCheck> Check() override {
    auto start = std::chrono::steady_clock::now();
    auto r = Query(
        "SELECT pg_is_in_recovery(), "
        "CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END, "
        "pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, "
        "(extract(epoch FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, "
        "CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END, "
        "(SELECT status FROM pg_stat_wal_receiver LIMIT 1), "
        "current_setting('default_transaction_read_only')");
    if (!r.ok()) return r.status();
    if (r->empty()) return Internal("no row from the check query");
    const auto& v = (*r)[0];
    NodeCheck c;
    bool recovery = v[0].value_or("f") == "t";
    c.is_primary = !recovery;
    c.replicating = recovery;
    // A fenced primary (default_transaction_read_only) is not writable.
    c.writable = !recovery && v[7].value_or("off") == "off";
    if (v[1]) c.written = LsnPosition(ParseLsn(*v[1]).value_or(0));
    if (v[2]) c.received = LsnPosition(ParseLsn(*v[2]).value_or(0));
    if (v[3]) c.applied = LsnPosition(ParseLsn(*v[3]).value_or(0));
    if (v[4]) c.replay_age_ms = std::stoll(*v[4]);
    c.streaming = v[6].value_or("") == "streaming";
    if (c.is_primary) ReadStandbys(&c);
    c.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count();
    return c;
  }

  Status Promote(const NodeCheck& k) override {
    (void)k;
    // pg_promote replays everything received before it opens for writes.
    auto r = Query("SELECT pg_promote(true, 25)");
    if (!r.ok()) return r.status();
    if (r->empty() || (*r)[0][0].value_or("f") != "t")
      return Unavailable("pg_promote did not finish within 25 s");
    return Status::Ok();
  }

  Result<std::string> Fence(const std::vector<std::string>& keep_users) override {
    // ALTER SYSTEM: it survives a restart, so a returning old primary refuses writes from
    // its first connection on.
    for (const char* sql :
         {"ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()"})
      if (Status st = Exec(sql); !st.ok()) return st;
    auto killed = Query(PgFenceSessionsSql(keep_users));
    if (!killed.ok()) return killed.status();
    return fmt::format(
        "default_transaction_read_only=on, {} client backend(s) terminated; needs rejoin "
        "(pg_rewind + standby restart, sluice does not rewind)",
        killed->size());
  }

  Status Unfence() override {
    if (Status st = Exec("ALTER SYSTEM RESET default_transaction_read_only"); !st.ok()) return st;
    return Exec("SELECT pg_reload_conf()");
  }

  Status Repoint(const ReplicationSource& src, bool former_primary) override {
    if (former_primary) return InvalidArgument("a PostgreSQL primary needs pg_rewind to rejoin");
    // Keep the standby's application_name: discovery reads it as the standby's address and
    // synchronous_standby_names may name it. A standby that had none gets its address.
    std::string app = fmt::format("{}:{}", o_.host, o_.port);
    auto cur = Query("SHOW primary_conninfo");
    if (cur.ok() && !cur->empty() && (*cur)[0][0]) {
      std::string named = PgConninfoApplicationName(*(*cur)[0][0]);
      if (!named.empty()) app = named;
    }
    std::string conninfo = fmt::format(
        "host={} port={} user={} password={} application_name={}", PgConninfoValue(src.host),
        src.port, PgConninfoValue(src.user), PgConninfoValue(src.password), PgConninfoValue(app));
    // E'': the conninfo's quotes and backslashes, escaped by SqlString, read back as written.
    if (Status st = Exec("ALTER SYSTEM SET primary_conninfo = E" + SqlString(conninfo)); !st.ok())
      return st;
    if (Status st = Exec("ALTER SYSTEM SET recovery_target_timeline = 'latest'"); !st.ok())
      return st;
    return Exec("SELECT pg_reload_conf()");
  }

  Status WaitApplied(const Position& p, int timeout_ms) override {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      auto k = Check();
      if (k.ok() && Behind(k->applied, p) == 0) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return Unavailable("position not replayed in time");
  }

  bool CanRejoinLive() const override { return false; }

 private:
  Status Exec(const std::string& sql) override {
    auto r = Query(sql);
    return r.ok() ? Status::Ok() : r.status();
  }

  Result<Rows> Query(const std::string& sql) override {
    if (Status s = Connect(); !s.ok()) return s;
    auto deadline = Clock::now() + std::chrono::milliseconds(o_.read_timeout_ms);
    if (!PQsendQuery(conn_, sql.c_str())) return Lost(sql + ": " + PQerrorMessage(conn_));
    // Nonblocking: PQflush sends what the socket takes, 1 while some is left.
    for (int f; (f = PQflush(conn_)) != 0;) {
      if (f < 0) return Lost(sql + ": " + PQerrorMessage(conn_));
      if (!WaitSocket(POLLOUT | POLLIN, deadline))
        return Lost(fmt::format("{}: no answer within {} ms", sql, o_.read_timeout_ms));
      if (!PQconsumeInput(conn_)) return Lost(sql + ": " + PQerrorMessage(conn_));
    }
    Rows rows;
    std::string error;
    for (;;) {
      while (PQisBusy(conn_)) {
        if (!WaitSocket(POLLIN, deadline))
          return Lost(fmt::format("{}: no answer within {} ms", sql, o_.read_timeout_ms));
        if (!PQconsumeInput(conn_)) return Lost(sql + ": " + PQerrorMessage(conn_));
      }
      PGresult* res = PQgetResult(conn_);
      if (!res) break;
      ExecStatusType st = PQresultStatus(res);
      if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        if (error.empty()) error = PQresultErrorMessage(res);
      } else if (rows.empty()) {
        for (int i = 0; i < PQntuples(res); ++i) {
          std::vector<std::optional<std::string>> r;
          for (int j = 0; j < PQnfields(res); ++j)
            r.push_back(PQgetisnull(res, i, j) ? std::nullopt
                                               : std::optional<std::string>(PQgetvalue(res, i, j)));
          rows.push_back(std::move(r));
        }
      }
      PQclear(res);
    }
    if (PQstatus(conn_) != CONNECTION_OK) return Lost(sql + ": " + PQerrorMessage(conn_));
    if (!error.empty()) return Unavailable(fmt::format("{}: {}", sql, error));
    return rows;
  }

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

  // Connects within connect_timeout_ms (TCP, TLS negotiation, login), driving libpq's
  // nonblocking state machine: libpq's own connect_timeout counts whole seconds, at least 2.
  Status Connect() {
    if (conn_) return Status::Ok();
    auto deadline = Clock::now() + std::chrono::milliseconds(o_.connect_timeout_ms);
    // tcp_user_timeout: unacknowledged data to a vanished host; statement_timeout: the
    // server gives up on a stuck statement too (the read deadline below bounds our wait).
    std::string info = fmt::format(
        "host={} port={} user={} password={} dbname={} tcp_user_timeout={} "
        "application_name=sluice_monitor options='-c statement_timeout={}'",
        PgConninfoValue(o_.host), o_.port, PgConninfoValue(o_.user), PgConninfoValue(o_.password),
        PgConninfoValue(database_), o_.read_timeout_ms, o_.read_timeout_ms);
    info += PgTlsConninfo(o_.tls, o_.host);
    conn_ = PQconnectStart(info.c_str());
    if (!conn_) return Unavailable("connect: out of memory");
    PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
    while (ps != PGRES_POLLING_OK) {
      if (ps == PGRES_POLLING_FAILED || PQstatus(conn_) == CONNECTION_BAD)
        return Lost(std::string("connect: ") + PQerrorMessage(conn_));
      if (!WaitSocket(ps == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline))
        return Lost(fmt::format("connect: no answer within {} ms", o_.connect_timeout_ms));
      ps = PQconnectPoll(conn_);
    }
    if (PQsetnonblocking(conn_, 1) != 0)
      return Lost(std::string("connect: ") + PQerrorMessage(conn_));
    return Status::Ok();
  }

  // Waits for EVENTS on the connection's socket until DEADLINE; false on timeout or error.
  bool WaitSocket(short events, Clock::time_point deadline) {
    int fd = PQsocket(conn_);
    if (fd < 0) return false;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd, events, 0};
      int n = poll(&p, 1, static_cast<int>(left.count()));
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return false;
    }
  }

  // The connection is unusable (gone, or a statement left unanswered): closed, so the next
  // call connects afresh.
  Status Lost(const std::string& why) {
    Close();
    return Unavailable(why);
  }

  NodeOptions o_;
  std::string database_;
  PGconn* conn_ = nullptr;
};

}  // namespace

std::string PgFenceSessionsSql(const std::vector<std::string>& keep_users) {
  std::string keep;
  for (const std::string& u : keep_users) keep += (keep.empty() ? "" : ", ") + ("E" + SqlString(u));
  // Client backends only: the WAL senders (backend_type 'walsender') keep streaming.
  return "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
         "backend_type = 'client backend' AND pid <> pg_backend_pid()" +
         (keep.empty() ? std::string() : " AND usename NOT IN (" + keep + ")");
}

std::unique_ptr<Node> MakePgNode(const NodeOptions& o) {
  return std::make_unique<PgNode>(o, "postgres");
}

std::unique_ptr<Node> MakePgNodeFor(const NodeOptions& o, const std::string& database) {
  return std::make_unique<PgNode>(o, database);
}

}  // namespace sluice::health
