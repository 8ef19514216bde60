// TLS towards clients: one OpenSSL server context per cluster that has a certificate,
// built at start (a bad file is a config error) and shared read-only by the workers.
#pragma once

#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include <string>

#include "common/status.h"

namespace sluice {

// A server-side context for cert/key (PEM), TLS 1.2 or newer. The caller owns it.
Result<SSL_CTX*> MakeServerTlsContext(const std::string& cert_file, const std::string& key_file);

// Puts a server-side TLS filter (ctx) over a client's plain bufferevent, which the filter
// then owns and frees. nullptr when OpenSSL cannot make one: plain is still the caller's.
bufferevent* AcceptTls(event_base* base, SSL_CTX* ctx, bufferevent* plain);

}  // namespace sluice
