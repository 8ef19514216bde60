#include "tests/integration/cluster_env.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace sluice::testing {
namespace {

std::string Unquote(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return std::string(v);
}

Result<int> ParsePort(const std::string& key, const std::string& text) {
  char* end = nullptr;
  long port = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || port <= 0 || port > 65535) {
    return InvalidArgument(fmt::format("cluster.env: {}={} is not a port", key, text));
  }
  return static_cast<int>(port);
}

std::vector<std::string> SplitWords(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int ClusterEnv::NodePort(std::string_view node) const {
  auto it = values.find(fmt::format("NODE_{}_PORT", node));
  if (it == values.end()) return 0;
  return std::atoi(it->second.c_str());
}

Result<ClusterEnv> ParseClusterEnv(std::string_view text) {
  ClusterEnv env;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      return InvalidArgument(fmt::format("cluster.env: line without '=': {}", line));
    }
    env.values[line.substr(0, eq)] = Unquote(std::string_view(line).substr(eq + 1));
  }
  auto get = [&](const char* key) -> std::string {
    auto it = env.values.find(key);
    return it == env.values.end() ? std::string() : it->second;
  };
  for (const char* key : {"KIND", "PRIMARY_PORT", "APP_USER", "ADMIN_USER", "DATABASE"}) {
    if (get(key).empty()) return InvalidArgument(fmt::format("cluster.env: no {}", key));
  }
  env.kind = get("KIND");
  env.dir = get("DIR");
  env.host = get("HOST");
  auto primary = ParsePort("PRIMARY_PORT", get("PRIMARY_PORT"));
  if (!primary.ok()) return primary.status();
  env.primary_port = *primary;
  for (const auto& p : SplitWords(get("REPLICA_PORTS"))) {
    auto port = ParsePort("REPLICA_PORTS", p);
    if (!port.ok()) return port.status();
    env.replica_ports.push_back(*port);
  }
  env.replica_names = SplitWords(get("REPLICA_NAMES"));
  if (env.replica_names.size() != env.replica_ports.size()) {
    return InvalidArgument("cluster.env: REPLICA_NAMES and REPLICA_PORTS differ in length");
  }
  env.socket_dir = get("SOCKET_DIR");
  env.primary_socket = get("PRIMARY_SOCKET");
  env.app_user = get("APP_USER");
  env.app_password = get("APP_PASSWORD");
  env.monitor_user = get("MONITOR_USER");
  env.monitor_password = get("MONITOR_PASSWORD");
  env.admin_user = get("ADMIN_USER");
  env.admin_password = get("ADMIN_PASSWORD");
  env.repl_user = get("REPL_USER");
  env.repl_password = get("REPL_PASSWORD");
  env.database = get("DATABASE");
  env.sync = get("SYNC") == "1";
  return env;
}

Result<ClusterEnv> ReadClusterEnv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Unavailable(fmt::format("cannot read {}: is the cluster up?", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseClusterEnv(ss.str());
}

Result<std::string> RequiredEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    return InvalidArgument(fmt::format("environment variable {} is not set", name));
  }
  return std::string(v);
}

Result<ClusterEnv> ClusterEnvFromEnvironment(const char* dir_variable) {
  auto dir = RequiredEnv(dir_variable);
  if (!dir.ok()) return dir.status();
  return ReadClusterEnv(*dir + "/cluster.env");
}

Result<std::string> RunClusterScript(const std::vector<std::string>& args) {
  auto script = RequiredEnv("SLUICE_CLUSTER_SCRIPT");
  if (!script.ok()) return script.status();
  char err_path[] = "/tmp/sluice-cluster-stderr-XXXXXX";
  int err_fd = mkstemp(err_path);
  if (err_fd < 0) return Internal("mkstemp failed");
  close(err_fd);
  std::string cmd = "bash " + ShellQuote(*script);
  for (const auto& a : args) cmd += " " + ShellQuote(a);
  cmd += " 2>" + ShellQuote(err_path);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    unlink(err_path);
    return Internal("popen failed");
  }
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int rc = pclose(p);
  std::string err = ReadAll(err_path);
  unlink(err_path);
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    return Internal(fmt::format("{} failed (status {}): {}", cmd, rc, err));
  }
  return out;
}

bool WaitFor(std::chrono::milliseconds timeout, const std::function<bool()>& pred) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

Result<MysqlConn> ConnectMariaDB(int port, const std::string& user, const std::string& password,
                                 const std::string& database) {
  MysqlConn conn(mysql_init(nullptr));
  if (!conn) return Internal("mysql_init failed");
  unsigned int timeout_s = 5;
  mysql_optionsv(conn.get(), MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
  mysql_optionsv(conn.get(), MYSQL_OPT_READ_TIMEOUT, &timeout_s);
  mysql_optionsv(conn.get(), MYSQL_OPT_WRITE_TIMEOUT, &timeout_s);
  if (mysql_real_connect(conn.get(), "127.0.0.1", user.c_str(), password.c_str(),
                         database.empty() ? nullptr : database.c_str(), port, nullptr,
                         0) == nullptr) {
    return Unavailable(fmt::format("connect {}@127.0.0.1:{}: mysql error {}: {}", user, port,
                                   mysql_errno(conn.get()), mysql_error(conn.get())));
  }
  return conn;
}

Result<Rows> MysqlQuery(MYSQL* conn, const std::string& sql) {
  if (mysql_query(conn, sql.c_str()) != 0) {
    return Status(StatusCode::kInternal,
                  fmt::format("mysql error {}: {}", mysql_errno(conn), mysql_error(conn)));
  }
  Rows rows;
  MYSQL_RES* res = mysql_store_result(conn);
  if (res == nullptr) {
    if (mysql_field_count(conn) == 0) return rows;
    return Status(StatusCode::kInternal,
                  fmt::format("mysql error {}: {}", mysql_errno(conn), mysql_error(conn)));
  }
  unsigned int fields = mysql_num_fields(res);
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    unsigned long* lengths = mysql_fetch_lengths(res);
    std::vector<std::string> cells;
    for (unsigned int i = 0; i < fields; ++i) {
      cells.emplace_back(row[i] == nullptr ? "" : std::string(row[i], lengths[i]));
    }
    rows.push_back(std::move(cells));
  }
  mysql_free_result(res);
  return rows;
}

Result<PgConn> ConnectPostgres(int port, const std::string& user, const std::string& password,
                               const std::string& database) {
  const char* keys[] = {"host", "port", "user", "password", "dbname", "connect_timeout", nullptr};
  std::string port_s = std::to_string(port);
  const char* vals[] = {
      "127.0.0.1", port_s.c_str(), user.c_str(), password.c_str(), database.c_str(), "5", nullptr};
  PgConn conn(PQconnectdbParams(keys, vals, 0));
  if (!conn) return Internal("PQconnectdbParams failed");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Unavailable(
        fmt::format("connect {}@127.0.0.1:{}: {}", user, port, PQerrorMessage(conn.get())));
  }
  return conn;
}

Result<Rows> PgQuery(PGconn* conn, const std::string& sql) {
  PGresult* res = PQexec(conn, sql.c_str());
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    std::string msg =
        fmt::format("SQLSTATE {}: {}", state ? state : "?????", PQresultErrorMessage(res));
    PQclear(res);
    return Status(StatusCode::kInternal, msg);
  }
  Rows rows;
  for (int r = 0; r < PQntuples(res); ++r) {
    std::vector<std::string> cells;
    for (int c = 0; c < PQnfields(res); ++c) cells.emplace_back(PQgetvalue(res, r, c));
    rows.push_back(std::move(cells));
  }
  PQclear(res);
  return rows;
}

}  // namespace sluice::testing
