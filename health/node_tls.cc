#include "health/node_tls.h"

#include <arpa/inet.h>

#include <fmt/format.h>

#include "health/pg_standby.h"

namespace sluice::health {

// backend_tls as libmariadb's options. libmariadb checks the chain when it has a CA and the
// host name only with MYSQL_OPT_SSL_VERIFY_SERVER_CERT, against the host it connects to (it
// has no option for another name): with backend_tls_server_name set, verify-full checks the
// chain here, and the data plane checks the name.
void ApplyMysqlTls(MYSQL* conn, const BackendTls& tls) {
  if (!tls.on()) return;
  auto opt = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
  const char* capath = tls.verify() && tls.ca_file.empty() ? "/etc/ssl/certs" : nullptr;
  mysql_ssl_set(conn, opt(tls.key_file), opt(tls.cert_file),
                tls.verify() ? opt(tls.ca_file) : nullptr, capath, nullptr);
  my_bool enforce = tls.required();
  mysql_optionsv(conn, MYSQL_OPT_SSL_ENFORCE, &enforce);
  my_bool verify_name = tls.mode == BackendTlsMode::kVerifyFull && tls.server_name.empty();
  mysql_optionsv(conn, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify_name);
}

namespace {

bool IsNumericHost(const std::string& h) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, h.c_str(), &a4) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1;
}

}  // namespace

// backend_tls as libpq's conninfo: sslmode is spelled as libpq spells it. verify-full with
// backend_tls_server_name: libpq checks the certificate against host, connects to hostaddr.
std::string PgTlsConninfo(const BackendTls& tls, const std::string& host) {
  std::string out = fmt::format(" sslmode={}", BackendTlsModeName(tls.mode));
  if (!tls.on()) return out;
  // Without a file libpq 15 would read ~/.postgresql/root.crt: the system's roots instead.
  if (tls.verify())
    out +=
        " sslrootcert=" +
        PgConninfoValue(tls.ca_file.empty() ? "/etc/ssl/certs/ca-certificates.crt" : tls.ca_file);
  if (!tls.cert_file.empty())
    out += fmt::format(" sslcert={} sslkey={}", PgConninfoValue(tls.cert_file),
                       PgConninfoValue(tls.key_file));
  if (!tls.server_name.empty() && IsNumericHost(host))
    out += fmt::format(" host={} hostaddr={}", PgConninfoValue(tls.server_name), host);
  return out;
}

}  // namespace sluice::health
