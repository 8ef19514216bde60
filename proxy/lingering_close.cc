#include "proxy/lingering_close.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <chrono>

namespace sluice {
namespace {

constexpr int kPollMs = 10;
thread_local int lingering = 0;  // each worker's loop runs on its own thread

struct Linger {
  bufferevent* bev;
  event* timer;
  std::chrono::steady_clock::time_point deadline;
  bool close_notify_sent = false;
};

// Over TLS (and MySQL compression) the bytes pass from each filter's buffer into the one
// below, down to the socket bufferevent's: all must be empty before the free, which
// closes the socket.
bool Flushed(bufferevent* bev) {
  for (bufferevent* b = bev; b; b = bufferevent_get_underlying(b))
    if (evbuffer_get_length(bufferevent_get_output(b)) != 0) return false;
  return true;
}

// A TLS connection ends with the close_notify alert, after its last bytes: without it
// the client cannot tell the end from a cut (OpenSSL 3: "unexpected eof while reading"),
// as over TLS a COMMIT's answer then reached the client (issue #13 item 5). libevent frees
// the SSL without one. SSL_shutdown writes it through the filter's BIO into the buffer of
// the bufferevent below, so the close waits for that to leave too. False when there is
// no TLS (or no finished handshake) under bev.
bool SendCloseNotify(bufferevent* bev) {
  for (bufferevent* b = bev; b; b = bufferevent_get_underlying(b)) {
    SSL* ssl = bufferevent_openssl_get_ssl(b);
    if (!ssl) continue;
    if (!SSL_is_init_finished(ssl)) return false;
    // 0: sent, the peer's alert is not awaited. < 0 (the connection broke): nothing to
    // send, and the error must not stay queued for the next SSL call on this thread.
    if (SSL_shutdown(ssl) < 0) ERR_clear_error();
    return true;
  }
  return false;
}

void Poll(evutil_socket_t, short, void* arg) {
  auto* l = static_cast<Linger*>(arg);
  bool flushed = Flushed(l->bev);
  if (flushed && !l->close_notify_sent) {
    l->close_notify_sent = true;
    flushed = !SendCloseNotify(l->bev) || Flushed(l->bev);
  }
  if (flushed || std::chrono::steady_clock::now() >= l->deadline) {
    --lingering;
    bufferevent_free(l->bev);
    event_free(l->timer);
    delete l;
    return;
  }
  timeval tv{0, kPollMs * 1000};
  evtimer_add(l->timer, &tv);
}

}  // namespace

void FreeWhenFlushed(bufferevent* bev, int timeout_ms) {
  bufferevent_setcb(bev, nullptr, nullptr, nullptr, nullptr);  // its owner is gone
  bufferevent_disable(bev, EV_READ);
  bool sent = Flushed(bev) && SendCloseNotify(bev);
  if (Flushed(bev)) {
    bufferevent_free(bev);
    return;
  }
  auto* l = new Linger{
      bev, nullptr, std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms), sent};
  l->timer = evtimer_new(bufferevent_get_base(bev), &Poll, l);
  ++lingering;
  Poll(-1, 0, l);
}

int LingeringCloses() {
  return lingering;
}

}  // namespace sluice
