// MariaDB side of Node: libmariadb, blocking, connect/read/write timeouts in seconds.
#include <mysql.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "health/node.h"
#include "health/node_tls.h"
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

// Errors that mean the monitor login lacks a grant, not that the server is unwell.
bool PrivilegeErrno(unsigned err) {
  return err == 1227 /* ER_SPECIFIC_ACCESS_DENIED_ERROR */ ||
         err == 1142 /* ER_TABLEACCESS_DENIED_ERROR */ || err == 1044 /* ER_DBACCESS_DENIED */;
}

class MysqlNode : public Node {
 public:
  explicit MysqlNode(NodeOptions o) : o_(std::move(o)) {}
  ~MysqlNode() override { Close(); }

  void Close() override {
    if (conn_) mysql_close(conn_);
    conn_ = nullptr;
  }

  Result<NodeCheck> Check() override {
    auto start = std::chrono::steady_clock::now();
    NodeCheck c;
    auto vars = Query("SELECT @@read_only, @@gtid_binlog_pos, @@gtid_slave_pos");
    if (!vars.ok()) return vars.status();
    if (vars->empty()) return Internal("no row for @@read_only");
    const auto& v = (*vars)[0];
    bool read_only = v[0].value_or("0") == "1";
    binlog_text_ = v[1].value_or("");
    c.written = ParseGtidPos(binlog_text_).value_or(Position{});
    c.applied = ParseGtidPos(v[2].value_or("")).value_or(Position{});
    std::vector<std::string> names;
    unsigned err = 0;
    auto st = QueryNamed("SHOW SLAVE STATUS", &names, &err);
    if (!st.ok() && PrivilegeErrno(err)) {
      c.privilege_error = st.status().message();
    } else if (!st.ok()) {
      return st.status();
    } else if (!st->empty()) {
      std::map<std::string, std::string> f;
      for (size_t i = 0; i < names.size() && i < (*st)[0].size(); ++i)
        f[names[i]] = (*st)[0][i].value_or("");
      c.replicating = !f["Master_Host"].empty();
      c.streaming = f["Slave_IO_Running"] == "Yes" && f["Slave_SQL_Running"] == "Yes";
      if (f["Last_SQL_Errno"] != "0" && !f["Last_SQL_Errno"].empty())
        c.replication_error = "SQL thread: " + f["Last_SQL_Error"];
      else if (f["Last_IO_Errno"] != "0" && !f["Last_IO_Errno"].empty() &&
               f["Slave_IO_Running"] == "No")
        c.replication_error = "IO thread: " + f["Last_IO_Error"];
      if (!f["Seconds_Behind_Master"].empty())
        c.lag_ms = std::stoll(f["Seconds_Behind_Master"]) * 1000;
      received_text_ = f["Gtid_IO_Pos"];
      c.received = ParseGtidPos(received_text_).value_or(Position{});
    }
    c.is_primary = !c.replicating;
    c.writable = !read_only && !c.replicating;
    if (c.writable) {
      // Needs REPLICATION MASTER ADMIN on 10.5+; without it discovery just sees nothing.
      auto hosts = QueryNamed("SHOW SLAVE HOSTS", &names, &err);
      if (hosts.ok()) {
        for (const auto& row : *hosts)
          if (row.size() >= 3 && row[1] && row[2] && !row[1]->empty())
            c.replicas.push_back(*row[1] + ":" + *row[2]);
      }
    }
    c.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count();
    return c;
  }

  Status Promote(const NodeCheck& k) override {
    (void)k;
    // Apply what the relay log already holds: an acknowledged write may be only there. The
    // received position as the server spells it (server ids included), read fresh.
    auto now = Check();
    if (!now.ok()) return now.status();
    std::string received = received_text_;
    if (!received.empty()) {
      auto w = Query("SELECT MASTER_GTID_WAIT(" + SqlString(received) + ", 20)");
      if (!w.ok()) return w.status();
      if (!w->empty() && (*w)[0][0].value_or("-1") != "0")
        return Unavailable("the relay log was not applied within 20 s");
    }
    for (const char* sql : {"STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only=OFF"})
      if (Status st = Exec(sql); !st.ok()) return st;
    return Status::Ok();
  }

  Result<std::string> Fence(const std::vector<std::string>& keep_users) override {
    if (Status st = Exec("SET GLOBAL read_only=ON"); !st.ok()) return st;
    auto ids = Query(MysqlFenceSessionsSql(keep_users));
    if (!ids.ok()) return ids.status();
    int killed = 0;
    for (const auto& row : *ids)
      if (row[0] && Exec("KILL CONNECTION " + *row[0]).ok()) ++killed;
    return fmt::format("read_only=ON, {} client connection(s) killed", killed);
  }

  Status Unfence() override { return Exec("SET GLOBAL read_only=OFF"); }

  // Every step's result counts. STOP SLAVE on a connection that the server's restart ended
  // fails with a client error (2006/2013): it is run again on a fresh connection, since a
  // CHANGE MASTER after an ignored failure meets a running slave (1198).
  Status Repoint(const ReplicationSource& src, bool former_primary) override {
    if (Status st = ExecAgainIfLost("STOP SLAVE"); !st.ok()) return st;
    std::string change = fmt::format(
        "CHANGE MASTER TO MASTER_HOST={}, MASTER_PORT={}, MASTER_USER={}, MASTER_PASSWORD={}, "
        "MASTER_USE_GTID={}, MASTER_CONNECT_RETRY=1",
        SqlString(src.host), src.port, SqlString(src.user), SqlString(src.password),
        // A former primary's own writes are in its binlog, not in gtid_slave_pos.
        former_primary ? "current_pos" : "slave_pos");
    unsigned err = 0;
    Status st = ExecErrno(change, &err);
    if (!st.ok() && err == 1198 /* ER_SLAVE_MUST_STOP */) {
      // Started again in between (START SLAVE by someone else, the server's own restart).
      if (Status stop = ExecAgainIfLost("STOP SLAVE"); !stop.ok()) return stop;
      st = ExecErrno(change, &err);
    }
    if (!st.ok()) return st;
    if (former_primary)
      if (Status ro = Exec("SET GLOBAL read_only=ON"); !ro.ok()) return ro;
    return ExecAgainIfLost("START SLAVE");
  }

  Status WaitApplied(const Position& p, int timeout_ms) override {
    // Positions keep no server ids, which MASTER_GTID_WAIT would need: poll, bounded.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      auto k = Check();
      if (k.ok() && Behind(k->applied, p) == 0) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return Unavailable("position not applied in time");
  }

  bool CanRejoinLive() const override { return true; }

 private:
  Status Exec(const std::string& sql) override {
    auto r = Query(sql);
    return r.ok() ? Status::Ok() : r.status();
  }
  Result<Rows> Query(const std::string& sql) override {
    std::vector<std::string> names;
    unsigned err = 0;
    return QueryNamed(sql, &names, &err);
  }
  Status ExecErrno(const std::string& sql, unsigned* err) {
    std::vector<std::string> names;
    auto r = QueryNamed(sql, &names, err);
    return r.ok() ? Status::Ok() : r.status();
  }
  // SQL that may run twice (STOP/START SLAVE): once more on a new connection when the first
  // one was lost (client errors 2000..2999; QueryNamed closed it).
  Status ExecAgainIfLost(const std::string& sql) {
    unsigned err = 0;
    Status st = ExecErrno(sql, &err);
    if (!st.ok() && err >= 2000 && err < 3000) st = ExecErrno(sql, &err);
    return st;
  }

  Status Connect() {
    if (conn_) return Status::Ok();
    conn_ = mysql_init(nullptr);
    // Whole seconds in libmariadb: rounded up, never 0 (which would mean no bound). The
    // connect timeout also bounds the wait for the server's greeting and the login.
    unsigned ct = std::max(1, (o_.connect_timeout_ms + 999) / 1000);
    unsigned rt = std::max(1, (o_.read_timeout_ms + 999) / 1000);
    mysql_optionsv(conn_, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_optionsv(conn_, MYSQL_OPT_READ_TIMEOUT, &rt);
    mysql_optionsv(conn_, MYSQL_OPT_WRITE_TIMEOUT, &rt);
    ApplyMysqlTls(conn_, o_.tls);
    if (!mysql_real_connect(conn_, o_.host.c_str(), o_.user.c_str(), o_.password.c_str(), nullptr,
                            o_.port, nullptr, 0)) {
      Status s = Unavailable(fmt::format("connect: {}", mysql_error(conn_)));
      Close();
      return s;
    }
    return Status::Ok();
  }

  Result<Rows> QueryNamed(const std::string& sql, std::vector<std::string>* names,
                          unsigned* err_out) {
    *err_out = 0;
    if (Status s = Connect(); !s.ok()) return s;
    if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) {
      unsigned err = mysql_errno(conn_);
      *err_out = err;
      Status s = Unavailable(fmt::format("{}: {} ({})", sql, mysql_error(conn_), err));
      // Client-side errors (2000..2999) mean the connection is gone.
      if (err >= 2000 && err < 3000) Close();
      return s;
    }
    Rows rows;
    names->clear();
    do {
      MYSQL_RES* res = mysql_store_result(conn_);
      if (!res) continue;
      unsigned n = mysql_num_fields(res);
      if (names->empty()) {
        MYSQL_FIELD* fields = mysql_fetch_fields(res);
        for (unsigned i = 0; i < n; ++i) names->push_back(fields[i].name);
        while (MYSQL_ROW row = mysql_fetch_row(res)) {
          unsigned long* len = mysql_fetch_lengths(res);
          std::vector<std::optional<std::string>> r;
          for (unsigned i = 0; i < n; ++i)
            r.push_back(row[i] ? std::optional<std::string>(std::string(row[i], len[i]))
                               : std::nullopt);
          rows.push_back(std::move(r));
        }
      }
      mysql_free_result(res);
    } while (mysql_next_result(conn_) == 0);
    if (mysql_errno(conn_) != 0) {
      Status s = Unavailable(fmt::format("{}: {}", sql, mysql_error(conn_)));
      Close();
      return s;
    }
    return rows;
  }

  NodeOptions o_;
  MYSQL* conn_ = nullptr;
  std::string binlog_text_;    // the last check's @@gtid_binlog_pos, as the server spells it
  std::string received_text_;  // the last check's Gtid_IO_Pos
};

}  // namespace

std::string MysqlFenceSessionsSql(const std::vector<std::string>& keep_users) {
  std::string keep;
  for (const std::string& u : keep_users) keep += ", " + SqlString(u);
  // Replication streams (Binlog Dump) and the server's own threads stay; so does this one.
  return "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND "
         "command NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Slave_IO', "
         "'Slave_SQL', 'Slave_worker') AND user NOT IN ('system user', 'event_scheduler'" +
         keep + ")";
}

std::unique_ptr<Node> MakeMysqlNode(const NodeOptions& o) {
  return std::make_unique<MysqlNode>(o);
}

}  // namespace sluice::health
