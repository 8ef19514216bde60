// TLS towards the database servers: one OpenSSL client context per cluster whose backend_tls
// is on, made at start (a bad file is a start-up error), and one SSL per connection with the
// checks its mode asks for. The handshake itself runs in BackendSocket, on the worker's loop.
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "common/status.h"
#include "routing/runtime.h"

namespace sluice {

// A client context for tls: TLS 1.2 or newer; the CA (or the system's roots) and a peer
// check for verify-ca/verify-full; the client certificate when one is set. Errors name the
// file and the key. The caller owns it.
Result<SSL_CTX*> MakeBackendTlsContext(const BackendTls& tls);

// What one connection needs besides the context (copied at connect: the snapshot may go).
struct BackendTlsTarget {
  BackendTlsMode mode = BackendTlsMode::kDisable;
  SSL_CTX* ctx = nullptr;   // ProxyShared::backend_tls, nullptr while mode is disable
  std::string server_name;  // backend_tls_server_name; "": the server's configured host
  bool on() const { return mode != BackendTlsMode::kDisable && ctx != nullptr; }
  bool required() const { return mode >= BackendTlsMode::kRequire; }
};

// An SSL for a connection to HOST: SNI when the name is not an address; for verify-full the
// name (or address) the certificate must carry. nullptr when OpenSSL cannot make one.
SSL* NewBackendSsl(const BackendTlsTarget& t, const std::string& host);

// Why a handshake on SSL failed: the verification result when the peer's certificate was
// refused, else OpenSSL's first error (ERR), else FALLBACK.
std::string BackendTlsError(SSL* ssl, unsigned long err, const std::string& fallback);

}  // namespace sluice
