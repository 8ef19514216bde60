#include "proxy/client_conn.h"

#include <sys/socket.h>

#include "proxy/lingering_close.h"
#include "proxy/socket_io.h"
#include "proxy/tls.h"

namespace sluice {

ClientConn::ClientConn(bufferevent* bev, Callbacks* cb, size_t read_high_water)
    : bev_(bev), cb_(cb), read_high_water_(read_high_water) {
  UseDirectReads(bev_);
  SetCallbacks(false);
}

ClientConn::~ClientConn() {
  if (bev_) bufferevent_free(bev_);
}

void ClientConn::SetCallbacks(bool watch_writes) {
  bufferevent_setcb(bev_, &ClientConn::OnRead, watch_writes ? &ClientConn::OnWrite : nullptr,
                    &ClientConn::OnEvent, this);
  if (!watch_writes && read_high_water_)
    bufferevent_setwatermark(bev_, EV_READ, 0, read_high_water_);
}

bool ClientConn::UpgradeTls(SSL_CTX* ctx) {
  bufferevent* tls = AcceptTls(bufferevent_get_base(bev_), ctx, bev_);
  if (!tls) return false;
  // The TLS bufferevent owns the plain one now.
  bev_ = tls;
  tls_ = true;
  SetCallbacks(false);
  Enable();
  return true;
}

bool ClientConn::PushFilter(bufferevent_filter_cb in, bufferevent_filter_cb out, void* ctx,
                            void (*free_ctx)(void*)) {
  bufferevent* f = bufferevent_filter_new(bev_, in, out, BEV_OPT_CLOSE_ON_FREE, free_ctx, ctx);
  if (!f) return false;
  bev_ = f;  // the filter owns the connection below it now
  SetCallbacks(false);
  Enable();
  return true;
}

void ClientConn::WaitForDrain() {
  bufferevent_setwatermark(bev_, EV_WRITE, kClientOutLowWater, 0);
  bufferevent_setcb(bev_, &ClientConn::OnRead, &ClientConn::OnWrite, &ClientConn::OnEvent, this);
}

void ClientConn::Flush() {
  EagerWrite(bev_);
}

void ClientConn::ResetOnClose() {
  if (!bev_) return;
  bufferevent* sock = bev_;  // the socket under any filters (TLS, compression)
  while (bufferevent_get_underlying(sock)) sock = bufferevent_get_underlying(sock);
  evutil_socket_t fd = bufferevent_getfd(sock);
  if (fd < 0) return;  // an in-memory pair (unit tests)
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

void ClientConn::CloseWhenFlushed() {
  if (!bev_) return;
  FreeWhenFlushed(bev_);
  bev_ = nullptr;
}

void ClientConn::OnRead(bufferevent*, void* arg) {
  static_cast<ClientConn*>(arg)->cb_->OnClientReadable();
}

void ClientConn::OnWrite(bufferevent*, void* arg) {
  auto* c = static_cast<ClientConn*>(arg);
  bufferevent_setcb(c->bev_, &ClientConn::OnRead, nullptr, &ClientConn::OnEvent, c);
  c->cb_->OnClientDrained();
}

void ClientConn::OnEvent(bufferevent*, short what, void* arg) {
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) static_cast<ClientConn*>(arg)->cb_->OnClientGone();
}

}  // namespace sluice
