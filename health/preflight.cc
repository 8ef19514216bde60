#include "health/preflight.h"

#include <libpq-fe.h>
#include <mysql.h>

#include <fmt/format.h>

#include <memory>

#include "health/node_tls.h"

namespace sluice::health {
namespace {

constexpr unsigned kTimeoutS = 5;

std::string PgQuote(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// The privileges MariaDB needs for what each login does (health/mysql_node.cc): the monitor
// reads replication state; failover and switchover stop/re-point replicas and set read_only.
void CheckMysql(const Cluster& c, const Server& s, const std::string& who, const std::string& user,
                const std::string& password, bool admin, std::vector<std::string>* out) {
  std::string prefix = fmt::format("cluster {}: server {}: {} {}: ", c.name, s.name(), who, user);
  std::unique_ptr<MYSQL, void (*)(MYSQL*)> conn(mysql_init(nullptr), mysql_close);
  unsigned t = kTimeoutS;
  mysql_optionsv(conn.get(), MYSQL_OPT_CONNECT_TIMEOUT, &t);
  mysql_optionsv(conn.get(), MYSQL_OPT_READ_TIMEOUT, &t);
  ApplyMysqlTls(conn.get(), c.backend_tls);  // as the monitor connects
  const std::string& host = s.address.empty() ? s.host : s.address;
  if (!mysql_real_connect(conn.get(), host.c_str(), user.c_str(), password.c_str(), nullptr, s.port,
                          nullptr, 0)) {
    out->push_back(prefix + "cannot log in: " + mysql_error(conn.get()));
    return;
  }
  // Statements the monitor runs, tried as they are (no SHOW GRANTS parsing): a missing
  // privilege is error 1227 naming it.
  const char* monitor[] = {"SHOW SLAVE STATUS", "SHOW MASTER STATUS", "SHOW SLAVE HOSTS",
                           "SELECT @@read_only"};
  for (const char* q : monitor) {
    if (mysql_query(conn.get(), q) != 0) {
      out->push_back(fmt::format("{}cannot run {}: {} ({})", prefix, q, mysql_error(conn.get()),
                                 mysql_errno(conn.get())));
      continue;
    }
    if (MYSQL_RES* r = mysql_store_result(conn.get())) mysql_free_result(r);
  }
  if (!admin) return;
  if (mysql_query(conn.get(), "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES") !=
      0) {
    out->push_back(prefix + "cannot read its privileges: " + mysql_error(conn.get()));
    return;
  }
  bool super = false, read_only_admin = false, slave_admin = false;
  if (MYSQL_RES* r = mysql_store_result(conn.get())) {
    while (MYSQL_ROW row = mysql_fetch_row(r)) {
      std::string p = row[0] ? row[0] : "";
      super = super || p == "SUPER";
      read_only_admin = read_only_admin || p == "READ_ONLY ADMIN";
      slave_admin = slave_admin || p == "REPLICATION SLAVE ADMIN";
    }
    mysql_free_result(r);
  }
  if (!super && !(read_only_admin && slave_admin))
    out->push_back(prefix +
                   "lacks what failover needs: SUPER, or READ_ONLY ADMIN and REPLICATION SLAVE "
                   "ADMIN (SET GLOBAL read_only, STOP SLAVE, CHANGE MASTER)");
}

void CheckPg(const Cluster& c, const Server& s, const std::string& who, const std::string& user,
             const std::string& password, bool admin, std::vector<std::string>* out) {
  std::string prefix = fmt::format("cluster {}: server {}: {} {}: ", c.name, s.name(), who, user);
  const std::string& host = s.address.empty() ? s.host : s.address;
  std::string info = fmt::format(
      "host={} port={} user={} password={} dbname=postgres connect_timeout={} "
      "application_name=sluice_check",
      PgQuote(host), s.port, PgQuote(user), PgQuote(password), kTimeoutS);
  info += PgTlsConninfo(c.backend_tls, host);  // as the monitor connects
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(info.c_str()), PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn.get());
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    for (char& ch : why)
      if (ch == '\n') ch = ' ';
    out->push_back(prefix + "cannot log in: " + why);
    return;
  }
  const char* q =
      "SELECT rolsuper, pg_has_role(current_user, 'pg_monitor', 'member'), "
      "has_function_privilege('pg_promote(boolean, integer)', 'execute') "
      "FROM pg_roles WHERE rolname = current_user";
  std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(conn.get(), q), PQclear);
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) {
    out->push_back(prefix + "cannot read its roles: " + PQerrorMessage(conn.get()));
    return;
  }
  bool super = std::string(PQgetvalue(r.get(), 0, 0)) == "t";
  bool monitor = std::string(PQgetvalue(r.get(), 0, 1)) == "t";
  bool promote = std::string(PQgetvalue(r.get(), 0, 2)) == "t";
  if (!super && !monitor)
    out->push_back(prefix + "lacks pg_monitor (replication state and lag are hidden without it)");
  if (admin && !super && !promote)
    out->push_back(prefix +
                   "lacks what failover needs: superuser, or EXECUTE on pg_promote() and ALTER "
                   "SYSTEM rights");
}

}  // namespace

std::vector<std::string> PreflightConnect(const Runtime& rt) {
  std::vector<std::string> out;
  for (const Cluster& c : rt.clusters) {
    bool separate_admin = !c.admin_user.empty() && c.admin_user != c.monitor_user;
    for (const Server& s : c.servers) {
      auto check = c.protocol == Protocol::kMysql ? CheckMysql : CheckPg;
      // The monitor login is also the failover login when admin_user is empty.
      check(c, s, "monitor_user", c.monitor_user, c.monitor_password, !separate_admin, &out);
      if (separate_admin) check(c, s, "admin_user", c.admin_user, c.admin_password, true, &out);
    }
  }
  return out;
}

}  // namespace sluice::health
