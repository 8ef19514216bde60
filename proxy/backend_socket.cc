#include "proxy/backend_socket.h"

#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>

#include <cstring>

#include "proxy/backend_tls.h"
#include "proxy/socket_io.h"

namespace sluice {
namespace {

class Tcp final : public Dialer {
 public:
  bufferevent* Create(event_base* base, const SocketAddress&) override {
    return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  }
  bool Start(bufferevent* bev, const SocketAddress& addr) override {
    if (bufferevent_socket_connect(bev, const_cast<sockaddr*>(addr.sa()),
                                   static_cast<int>(addr.length)) < 0)
      return false;
    UseDirectReads(bev);
    return true;
  }
};

}  // namespace

Dialer* TcpDialer() {
  static Tcp tcp;
  return &tcp;
}

BackendSocket::~BackendSocket() {
  if (bev_) bufferevent_free(bev_);
}

void BackendSocket::Connect(event_base* base, Dialer* dialer, const Result<SocketAddress>& addr,
                            int timeout_ms, size_t read_high_water) {
  bev_ = addr.ok() ? dialer->Create(base, *addr) : nullptr;
  if (!bev_) bev_ = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(bev_, &BackendSocket::OnRead, nullptr, &BackendSocket::OnEvent, this);
  read_high_water_ = read_high_water;
  timeout_ms_ = timeout_ms;
  bufferevent_setwatermark(bev_, EV_READ, 0, read_high_water);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  bufferevent_set_timeouts(bev_, &tv, &tv);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  if (!addr.ok()) {
    pending_failure_ = addr.status().message();
  } else {
    ip_ = addr->ip;
    if (dialer->Start(bev_, *addr)) return;
  }
  // Reported from the event loop so the caller never sees a callback inside Connect().
  bufferevent_trigger_event(bev_, BEV_EVENT_ERROR, BEV_TRIG_DEFER_CALLBACKS);
}

bool BackendSocket::StartTls(SSL* ssl) {
  bufferevent* f = bufferevent_openssl_filter_new(
      bufferevent_get_base(bev_), bev_, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
  if (!f) {
    SSL_free(ssl);
    return false;
  }
  // The filter owns the socket's bufferevent now. A server that closes without close_notify
  // (most do, at shutdown) reads as a close, as on a plain connection.
  bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
  bev_ = f;
  tls_ = true;
  handshaking_ = true;
  bufferevent_setcb(bev_, &BackendSocket::OnRead, nullptr, &BackendSocket::OnEvent, this);
  bufferevent_setwatermark(bev_, EV_READ, 0, read_high_water_);
  timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
  bufferevent_set_timeouts(bev_, &tv, &tv);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  return true;
}

void BackendSocket::ClearTimeouts() {
  for (bufferevent* b = bev_; b; b = bufferevent_get_underlying(b))
    bufferevent_set_timeouts(b, nullptr, nullptr);
}

void BackendSocket::WriteNow() {
  if (tls_ && !handshaking_) {
    EagerWriteTls(bev_);
    return;
  }
  EagerWrite(bev_);
}

void BackendSocket::WatchWrites(size_t low_water) {
  bufferevent_setwatermark(bev_, EV_WRITE, low_water, 0);
  bufferevent_setcb(bev_, &BackendSocket::OnRead, &BackendSocket::OnWrite, &BackendSocket::OnEvent,
                    this);
}

void BackendSocket::SetReadHighWater(size_t bytes) {
  if (bytes == read_high_water_) return;
  read_high_water_ = bytes;
  bufferevent_setwatermark(bev_, EV_READ, 0, bytes);
}

void BackendSocket::OnRead(bufferevent*, void* arg) {
  static_cast<BackendSocket*>(arg)->cb_->OnSocketReadable();
}

void BackendSocket::OnWrite(bufferevent*, void* arg) {
  auto* s = static_cast<BackendSocket*>(arg);
  bufferevent_setcb(s->bev_, &BackendSocket::OnRead, nullptr, &BackendSocket::OnEvent, s);
  s->cb_->OnSocketWritable();
}

void BackendSocket::OnEvent(bufferevent*, short what, void* arg) {
  auto* s = static_cast<BackendSocket*>(arg);
  if ((what & BEV_EVENT_CONNECTED) && s->handshaking_) {
    s->handshaking_ = false;
    s->cb_->OnSocketTlsReady();
    return;
  }
  if (what & BEV_EVENT_CONNECTED) {
    evutil_socket_t fd = bufferevent_getfd(s->bev_);
    if (fd >= 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    s->cb_->OnSocketConnected();
    return;
  }
  std::string why = !s->pending_failure_.empty() ? s->pending_failure_
                    : (what & BEV_EVENT_TIMEOUT) ? "timed out"
                    : (what & BEV_EVENT_EOF)     ? "connection closed by the server"
                                             : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
  if (s->tls_ && !(what & BEV_EVENT_TIMEOUT)) {
    // OpenSSL's reason, when it has one (a refused certificate, a protocol alert).
    unsigned long err = bufferevent_get_openssl_error(s->bev_);
    while (bufferevent_get_openssl_error(s->bev_) != 0) {
    }
    if (err != 0 || s->handshaking_)
      why = (s->handshaking_ ? "TLS handshake failed: " : "TLS: ") +
            BackendTlsError(bufferevent_openssl_get_ssl(s->bev_), err, why);
  }
  s->Disable();
  s->failed_ = true;
  s->cb_->OnSocketFailed(why);
}

}  // namespace sluice
