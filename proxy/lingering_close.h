// Closing a client connection without losing its last bytes (an error packet, a FATAL):
// the bufferevent (and the socket under a TLS filter) is freed once its output has left,
// or after a bounded time for a client that does not read.
#pragma once

#include <event2/bufferevent.h>

namespace sluice {

// Takes ownership of bev (a TLS filter must own its socket: BEV_OPT_CLOSE_ON_FREE). Its
// callbacks are cleared: the former owner hears nothing more.
void FreeWhenFlushed(bufferevent* bev, int timeout_ms = 2000);

// The connections of this thread's event loop still waiting for their last bytes to leave:
// a draining worker ends its loop only when none is left (else the last COMMIT's answer of
// each worker was lost at shutdown, issue #13 item 5).
int LingeringCloses();

}  // namespace sluice
