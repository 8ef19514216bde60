#include "proxy/tls.h"

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include <fmt/format.h>

namespace sluice {
namespace {
std::string LastSslError() {
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}
}  // namespace

Result<SSL_CTX*> MakeServerTlsContext(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return Internal("cannot create a TLS context: " + LastSslError());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Sessions are short-lived proxies of one client each; no resumption cache to bound.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    std::string why = LastSslError();
    SSL_CTX_free(ctx);
    return InvalidArgument(
        fmt::format("{}: tls_cert: cannot load certificate: {}", cert_file, why));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    std::string why = LastSslError();
    SSL_CTX_free(ctx);
    return InvalidArgument(
        fmt::format("{}: tls_key: cannot load the key of {}: {}", key_file, cert_file, why));
  }
  return ctx;
}

bufferevent* AcceptTls(event_base* base, SSL_CTX* ctx, bufferevent* plain) {
  SSL* ssl = SSL_new(ctx);
  if (!ssl) return nullptr;
  bufferevent* tls = bufferevent_openssl_filter_new(base, plain, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                    BEV_OPT_CLOSE_ON_FREE);
  if (!tls) SSL_free(ssl);
  return tls;
}

}  // namespace sluice
