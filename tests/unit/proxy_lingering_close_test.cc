// FreeWhenFlushed (proxy/lingering_close.h) on a real TLS connection over a socketpair: the
// last bytes arrive, then the close_notify alert, so the client sees a clean end.
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>
#include <csignal>

#include <chrono>
#include <functional>
#include <string>

#include "proxy/lingering_close.h"
#include "proxy/tls.h"

namespace sluice {
namespace {

// A server context with a fresh self-signed certificate (no files).
SSL_CTX* SelfSignedServerContext() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("sluice-test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

class LingeringCloseTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // as sluice does: a write to a closed peer is an error, not a kill
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
    base_ = event_base_new();
    server_ctx_ = SelfSignedServerContext();
    ASSERT_NE(server_ctx_, nullptr);
    bufferevent* plain = bufferevent_socket_new(base_, fds_[0], BEV_OPT_CLOSE_ON_FREE);
    server_ = AcceptTls(base_, server_ctx_, plain);
    ASSERT_NE(server_, nullptr);
    bufferevent_enable(server_, EV_READ | EV_WRITE);
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    client_ = SSL_new(client_ctx_);
    SSL_set_fd(client_, fds_[1]);
    SSL_set_connect_state(client_);
  }
  void TearDown() override {
    SSL_free(client_);
    SSL_CTX_free(client_ctx_);
    SSL_CTX_free(server_ctx_);
    close(fds_[1]);
    event_base_free(base_);
  }

  // Turns the server's loop and calls step (the client's side) until it returns true.
  bool Until(const std::function<bool()>& step) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      event_base_loop(base_, EVLOOP_NONBLOCK);
      if (step()) return true;
    }
    return false;
  }

  int fds_[2] = {-1, -1};
  event_base* base_ = nullptr;
  SSL_CTX* server_ctx_ = nullptr;
  SSL_CTX* client_ctx_ = nullptr;
  bufferevent* server_ = nullptr;
  SSL* client_ = nullptr;
};

TEST_F(LingeringCloseTlsTest, TheLastBytesArriveThenCloseNotify) {
  ASSERT_TRUE(Until([&] {
    SSL_do_handshake(client_);
    return SSL_is_init_finished(client_) &&
           SSL_is_init_finished(bufferevent_openssl_get_ssl(server_));
  }));
  bufferevent_write(server_, "OK", 2);  // e.g. a COMMIT's answer, after which it closes
  FreeWhenFlushed(server_);
  std::string got;
  int err = SSL_ERROR_NONE;
  ASSERT_TRUE(Until([&] {
    char buf[64];
    int n = SSL_read(client_, buf, sizeof buf);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      return false;
    }
    err = SSL_get_error(client_, n);
    return err != SSL_ERROR_WANT_READ;
  }));
  EXPECT_EQ(got, "OK");
  // SSL_ERROR_ZERO_RETURN: the peer's close_notify. Without it OpenSSL reports
  // SSL_ERROR_SSL ("unexpected eof while reading") or SSL_ERROR_SYSCALL.
  EXPECT_EQ(err, SSL_ERROR_ZERO_RETURN) << ERR_error_string(ERR_get_error(), nullptr);
  EXPECT_TRUE(Until([] { return LingeringCloses() == 0; }));  // and the connection is gone
}

TEST_F(LingeringCloseTlsTest, AConnectionBeforeItsHandshakeClosesWithoutAnAlert) {
  FreeWhenFlushed(server_);  // nothing to flush, no TLS session to end
  EXPECT_EQ(LingeringCloses(), 0);
}

}  // namespace
}  // namespace sluice
