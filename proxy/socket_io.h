// How sluice reads and writes plain sockets under libevent's bufferevents: writes leave in
// the callback that made them, reads skip libevent's per-read ioctl.
#pragma once

#include <event2/bufferevent.h>

namespace sluice {

// libevent's socket bufferevent always waits for EV_WRITE before it writes: per forwarded
// message that is one epoll_ctl to arm, one more loop turn, and one epoll_ctl to disarm.
// Sessions call this once at the end of each callback, so every connection gets at most one
// writev per loop turn and EV_WRITE stays armed only for bytes the kernel did not take. With
// the worker's change-list epoll backend the arm/disarm pair never reaches the kernel.
//
// Leaves alone (libevent keeps writing them as before): nullptr, TLS (a filter over the
// socket), a bufferevent waiting on its write callback (low-water backpressure), and an
// empty output. A write error is left in place for the bufferevent's own write to report.
void EagerWrite(bufferevent* bev);

// The same for a client-side TLS filter (BackendSocket::StartTls): the filter encrypts into
// its socket bufferevent's output as soon as bytes are added, and this sends that output
// now, where libevent would wait a loop turn for EV_WRITE. Left alone as above, and when the
// socket's output has a write high-water mark (the filter would hold bytes back for it).
void EagerWriteTls(bufferevent* tls);

// libevent's evbuffer_read asks the kernel how much is readable (ioctl FIONREAD) before
// every read: one system call per read, 5 % of sluice's CPU under point selects. This gives
// a socket bufferevent (connected, fd set) a read callback that reads straight into its
// input buffer instead and then runs the bufferevent's own read/event callbacks, keeping
// its watermarks, timeouts, enable/disable and EOF/error reporting. Call it again if the
// bufferevent's fd is replaced (bufferevent_setfd/bufferevent_socket_connect reset it).
void UseDirectReads(bufferevent* bev);

}  // namespace sluice
