// MariaDB side of Node: libmariadb, blocking, connect/read/write timeouts in seconds.
#include <mysql.h>

#include <chrono>
#include <map>

#include <fmt/format.h>

#include "health/node.h"

namespace sluice::health {
namespace {

class MysqlNode : public Node {
 public:
  explicit MysqlNode(NodeOptions o) : o_(std::move(o)) {}
  ~MysqlNode() override { Close(); }

  void Close() override {
    if (conn_) mysql_close(conn_);
    conn_ = nullptr;
  }

  Result<Rows> Query(const std::string& sql) override {
    std::vector<std::string> names;
    return QueryNamed(sql, &names);
  }

  Result<NodeCheck> Check() override {
    auto start = std::chrono::steady_clock::now();
    NodeCheck c;
    auto vars = Query("SELECT @@read_only, @@gtid_binlog_pos, @@gtid_slave_pos");
    if (!vars.ok()) return vars.status();
    if (vars->empty()) return Internal("no row for @@read_only");
    const auto& v = (*vars)[0];
    c.read_only = v[0].value_or("0") == "1";
    c.gtid_binlog = v[1].value_or("");
    c.gtid_applied = v[2].value_or("");
    std::vector<std::string> names;
    auto st = QueryNamed("SHOW SLAVE STATUS", &names);
    if (!st.ok()) return st.status();
    if (!st->empty()) {
      std::map<std::string, std::string> f;
      for (size_t i = 0; i < names.size() && i < (*st)[0].size(); ++i)
        f[names[i]] = (*st)[0][i].value_or("");
      c.replicating = !f["Master_Host"].empty();
      c.threads_running = f["Slave_IO_Running"] == "Yes" && f["Slave_SQL_Running"] == "Yes";
      if (f["Last_SQL_Errno"] != "0" && !f["Last_SQL_Errno"].empty())
        c.replication_error = "SQL thread: " + f["Last_SQL_Error"];
      else if (f["Last_IO_Errno"] != "0" && !f["Last_IO_Errno"].empty() &&
               f["Slave_IO_Running"] == "No")
        c.replication_error = "IO thread: " + f["Last_IO_Error"];
      if (!(*st)[0].empty()) {
        for (size_t i = 0; i < names.size(); ++i)
          if (names[i] == "Seconds_Behind_Master" && (*st)[0][i])
            c.lag_ms = std::stoll(*(*st)[0][i]) * 1000;
      }
      c.gtid_received = f["Gtid_IO_Pos"];
    }
    c.is_primary = !c.read_only && !c.replicating;
    if (c.is_primary) {
      // Needs REPLICATION MASTER ADMIN on 10.5+; without it discovery just sees nothing.
      auto hosts = QueryNamed("SHOW SLAVE HOSTS", &names);
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

 private:
  Status Connect() {
    if (conn_) return Status::Ok();
    conn_ = mysql_init(nullptr);
    unsigned ct = o_.connect_timeout_s, rt = o_.read_timeout_s;
    mysql_optionsv(conn_, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_optionsv(conn_, MYSQL_OPT_READ_TIMEOUT, &rt);
    mysql_optionsv(conn_, MYSQL_OPT_WRITE_TIMEOUT, &rt);
    if (!mysql_real_connect(conn_, o_.host.c_str(), o_.user.c_str(), o_.password.c_str(), nullptr,
                            o_.port, nullptr, 0)) {
      Status s = Unavailable(fmt::format("connect: {}", mysql_error(conn_)));
      Close();
      return s;
    }
    return Status::Ok();
  }

  Result<Rows> QueryNamed(const std::string& sql, std::vector<std::string>* names) {
    if (Status s = Connect(); !s.ok()) return s;
    if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) {
      unsigned err = mysql_errno(conn_);
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
};

}  // namespace

std::unique_ptr<Node> MakeMysqlNode(const NodeOptions& o) {
  return std::make_unique<MysqlNode>(o);
}

}  // namespace sluice::health
