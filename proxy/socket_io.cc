#include "proxy/socket_io.h"

#include <event2/buffer.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

namespace sluice {
namespace {

// The most one read takes, as libevent's own socket bufferevent (MAX_SINGLE_READ_DEFAULT).
constexpr size_t kMaxSingleRead = 16384;

void Report(bufferevent* bev, short what, int err) {
  bufferevent_disable(bev, EV_READ);
  errno = err;  // callbacks read the cause with EVUTIL_SOCKET_ERROR()
  bufferevent_trigger_event(bev, static_cast<short>(BEV_EVENT_READING | what), 0);
}

void DirectRead(evutil_socket_t fd, short what, void* arg) {
  auto* bev = static_cast<bufferevent*>(arg);
  if (what == EV_TIMEOUT) {
    Report(bev, BEV_EVENT_TIMEOUT, ETIMEDOUT);
    return;
  }
  evbuffer* in = bufferevent_get_input(bev);
  size_t want = kMaxSingleRead;
  size_t high = 0;
  bufferevent_getwatermark(bev, EV_READ, nullptr, &high);
  if (high != 0) {
    size_t have = evbuffer_get_length(in);
    if (have >= high) return;  // over the read bound: the bufferevent suspends reading
    want = std::min(want, high - have);
  }
  // The socket bufferevent freezes its input's end so that only its read callback adds to
  // it; this is that callback.
  evbuffer_unfreeze(in, /*at_front=*/0);
  evbuffer_iovec space[2];
  int nspace = evbuffer_reserve_space(in, static_cast<ev_ssize_t>(want), space, 2);
  ssize_t n = -1;
  int err = ENOMEM;
  if (nspace > 0) {
    iovec iov[2];
    for (int i = 0; i < nspace; ++i) iov[i] = {space[i].iov_base, space[i].iov_len};
    n = readv(fd, iov, nspace);
    err = errno;
    if (n > 0) {
      int used = 0;
      for (size_t left = static_cast<size_t>(n); used < nspace && left > 0; ++used) {
        space[used].iov_len = std::min(space[used].iov_len, left);
        left -= space[used].iov_len;
      }
      evbuffer_commit_space(in, space, used);
    }
  }
  evbuffer_freeze(in, /*at_front=*/0);
  if (n > 0) {
    bufferevent_trigger(bev, EV_READ, 0);
  } else if (n == 0) {
    Report(bev, BEV_EVENT_EOF, 0);
  } else if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
    Report(bev, BEV_EVENT_ERROR, err);
  }
}

}  // namespace

void UseDirectReads(bufferevent* bev) {
  evutil_socket_t fd = bufferevent_getfd(bev);
  if (fd < 0) return;
  bool pending = event_pending(&bev->ev_read, EV_READ, nullptr);
  event_del(&bev->ev_read);
  // The flags libevent's socket bufferevent gives its own read event.
  event_assign(&bev->ev_read, bufferevent_get_base(bev), fd, EV_READ | EV_PERSIST | EV_FINALIZE,
               &DirectRead, bev);
  if (pending)
    event_add(&bev->ev_read, evutil_timerisset(&bev->timeout_read) ? &bev->timeout_read : nullptr);
}

namespace {
// Writes a socket bufferevent's output now (the caller checked that it may).
void WriteOutput(bufferevent* bev) {
  evbuffer* out = bufferevent_get_output(bev);
  evutil_socket_t fd = bufferevent_getfd(bev);
  if (fd < 0 || evbuffer_get_length(out) == 0) return;
  // A socket bufferevent freezes its output's front so that only its own write callback
  // drains it; this is that write, done earlier.
  evbuffer_unfreeze(out, /*at_front=*/1);
  evbuffer_write(out, fd);
  evbuffer_freeze(out, /*at_front=*/1);
  // Everything left: the armed EV_WRITE sends it, or reports the socket's error.
  if (evbuffer_get_length(out) == 0) event_del(&bev->ev_write);
}
}  // namespace

void EagerWriteTls(bufferevent* tls) {
  bufferevent* sock = tls ? bufferevent_get_underlying(tls) : nullptr;
  if (sock == nullptr || bufferevent_get_underlying(sock) != nullptr) return;
  if (!(bufferevent_get_enabled(sock) & EV_WRITE)) return;
  size_t high = 0;
  bufferevent_getwatermark(sock, EV_WRITE, nullptr, &high);
  if (high != 0) return;
  // The filter's own write callback on the socket only refills the output from the filter,
  // which has nothing left to give: it encrypted every byte on the way in.
  WriteOutput(sock);
}

void EagerWrite(bufferevent* bev) {
  if (bev == nullptr || bufferevent_get_underlying(bev) != nullptr) return;
  if (!(bufferevent_get_enabled(bev) & EV_WRITE)) return;
  bufferevent_data_cb write_cb = nullptr;
  bufferevent_getcb(bev, nullptr, &write_cb, nullptr, nullptr);
  if (write_cb != nullptr) return;
  WriteOutput(bev);
}

}  // namespace sluice
