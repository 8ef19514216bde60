#include "proxy/eager_write.h"

#include <event2/buffer.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>

namespace sluice {

void EagerWrite(bufferevent* bev) {
  if (bev == nullptr || bufferevent_get_underlying(bev) != nullptr) return;
  if (!(bufferevent_get_enabled(bev) & EV_WRITE)) return;
  bufferevent_data_cb write_cb = nullptr;
  bufferevent_getcb(bev, nullptr, &write_cb, nullptr, nullptr);
  if (write_cb != nullptr) return;
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

}  // namespace sluice
