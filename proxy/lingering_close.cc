#include "proxy/lingering_close.h"

#include <event2/buffer.h>
#include <event2/event.h>

#include <chrono>

namespace sluice {
namespace {

constexpr int kPollMs = 10;
thread_local int lingering = 0;  // each worker's loop runs on its own thread

struct Linger {
  bufferevent* bev;
  event* timer;
  std::chrono::steady_clock::time_point deadline;
};

// Over TLS (and MySQL compression) the bytes pass from each filter's buffer into the one
// below, down to the socket bufferevent's: all must be empty before the free, which
// closes the socket.
bool Flushed(bufferevent* bev) {
  for (bufferevent* b = bev; b; b = bufferevent_get_underlying(b))
    if (evbuffer_get_length(bufferevent_get_output(b)) != 0) return false;
  return true;
}

void Poll(evutil_socket_t, short, void* arg) {
  auto* l = static_cast<Linger*>(arg);
  if (Flushed(l->bev) || std::chrono::steady_clock::now() >= l->deadline) {
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
  if (Flushed(bev)) {
    bufferevent_free(bev);
    return;
  }
  auto* l = new Linger{bev, nullptr,
                       std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms)};
  l->timer = evtimer_new(bufferevent_get_base(bev), &Poll, l);
  ++lingering;
  Poll(-1, 0, l);
}

int LingeringCloses() {
  return lingering;
}

}  // namespace sluice
