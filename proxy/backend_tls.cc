#include "proxy/backend_tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

namespace sluice {
namespace {

std::string SslErrorText(unsigned long e) {
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

bool IsAddress(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

Status Refuse(SSL_CTX* ctx, const std::string& file, const char* key, const char* what) {
  std::string why = SslErrorText(ERR_get_error());
  ERR_clear_error();
  SSL_CTX_free(ctx);
  return InvalidArgument(fmt::format("{}: {}: {}: {}", file, key, what, why));
}

}  // namespace

Result<SSL_CTX*> MakeBackendTlsContext(const BackendTls& tls) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return Internal("cannot create a TLS client context: " + SslErrorText(ERR_get_error()));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (tls.verify()) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (tls.ca_file.empty()) {
      if (SSL_CTX_set_default_verify_paths(ctx) != 1)
        return Refuse(ctx, "(system roots)", "backend_tls_ca_file", "cannot load the roots");
    } else if (SSL_CTX_load_verify_locations(ctx, tls.ca_file.c_str(), nullptr) != 1) {
      return Refuse(ctx, tls.ca_file, "backend_tls_ca_file", "cannot load CA certificates");
    }
  } else {
    // prefer/require: encrypted, the certificate not checked (libpq's sslmode=require).
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!tls.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1)
      return Refuse(ctx, tls.cert_file, "backend_tls_cert_file", "cannot load certificate");
    if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
      return Refuse(ctx, tls.key_file, "backend_tls_key_file",
                    "cannot load the key of backend_tls_cert_file");
  }
  return ctx;
}

SSL* NewBackendSsl(const BackendTlsTarget& t, const std::string& host) {
  SSL* ssl = SSL_new(t.ctx);
  if (!ssl) return nullptr;
  const std::string& name = t.server_name.empty() ? host : t.server_name;
  bool address = IsAddress(name);
  if (!address && !name.empty()) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (t.mode == BackendTlsMode::kVerifyFull) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = address ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                     : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    if (ok != 1) {
      SSL_free(ssl);
      return nullptr;
    }
  }
  return ssl;
}

std::string BackendTlsError(SSL* ssl, unsigned long err, const std::string& fallback) {
  // Without SSL_VERIFY_PEER the result is computed but not enforced: not the cause.
  bool checked = ssl && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER);
  long verify = checked ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (verify != X509_V_OK)
    return fmt::format("certificate verify failed: {}", X509_verify_cert_error_string(verify));
  if (err != 0) return SslErrorText(err);
  return fallback;
}

}  // namespace sluice
