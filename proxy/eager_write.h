// EagerWrite: send what a socket bufferevent holds now, in the callback that produced it,
// instead of arming EV_WRITE and sending after the next epoll_wait round.
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

}  // namespace sluice
