// ClientConn: the client's side of a session, whatever its protocol: the bufferevent, its
// TLS upgrade, backpressure towards the backend, one write per loop turn, and a close that
// still delivers the last bytes (an error packet, a FATAL).
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include <cstddef>

namespace sluice {

// Backpressure: above this much queued to the client the backend is not read, until the
// client drains below the low mark.
inline constexpr size_t kClientOutHighWater = 1u << 20;
inline constexpr size_t kClientOutLowWater = 256u << 10;

class ClientConn {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    virtual void OnClientReadable() = 0;
    // The output fell below kClientOutLowWater after WaitForDrain().
    virtual void OnClientDrained() = 0;
    // The client closed or the connection broke.
    virtual void OnClientGone() = 0;
  };

  // Takes bev (a socket bufferevent of an accepted client, or an in-memory one in tests).
  // read_high_water bounds the read-ahead (0: none).
  ClientConn(bufferevent* bev, Callbacks* cb, size_t read_high_water);
  ~ClientConn();
  ClientConn(const ClientConn&) = delete;
  ClientConn& operator=(const ClientConn&) = delete;

  bool open() const { return bev_ != nullptr; }
  evbuffer* input() const { return bufferevent_get_input(bev_); }
  evbuffer* output() const { return bufferevent_get_output(bev_); }
  void Enable() { bufferevent_enable(bev_, EV_READ | EV_WRITE); }
  void PauseRead() { bufferevent_disable(bev_, EV_READ); }
  void ResumeRead() { bufferevent_enable(bev_, EV_READ); }
  // Sets the read-ahead bound (0: none), e.g. from the pre-login bound to the protocol's.
  void SetReadBound(size_t bytes) {
    read_high_water_ = bytes;
    bufferevent_setwatermark(bev_, EV_READ, 0, bytes);
  }
  // Lets one message of bytes in even when that is above the read-ahead bound.
  void AllowRead(size_t bytes) { bufferevent_setwatermark(bev_, EV_READ, 0, bytes); }

  // Puts a server-side TLS filter (ctx) over the connection; false when OpenSSL could not
  // (the caller closes).
  bool UpgradeTls(SSL_CTX* ctx);
  bool tls() const { return tls_; }
  // Puts a bufferevent filter (libevent's bufferevent_filter_new, owning ctx: free_ctx)
  // over the connection, e.g. the MySQL compressed protocol; false when libevent could not.
  bool PushFilter(bufferevent_filter_cb in, bufferevent_filter_cb out, void* ctx,
                  void (*free_ctx)(void*));

  // True when the client is behind by kClientOutHighWater or more.
  bool Backlogged() const { return evbuffer_get_length(output()) >= kClientOutHighWater; }
  // Backpressure: OnClientDrained() once the client has caught up.
  void WaitForDrain();
  // Sends the output now (proxy/socket_io.h): called once at the end of every callback.
  void Flush();
  // Closes once the output has left (bounded); the callbacks hear nothing more.
  void CloseWhenFlushed();
  // That close resets the connection (SO_LINGER 0: an RST, no FIN), as a server does that
  // aborts it; the proxy passes on what its backend connection saw.
  void ResetOnClose();

 private:
  static void OnRead(bufferevent*, void* arg);
  static void OnWrite(bufferevent*, void* arg);
  static void OnEvent(bufferevent*, short what, void* arg);
  void SetCallbacks(bool watch_writes);

  bufferevent* bev_;
  Callbacks* cb_;
  size_t read_high_water_;
  bool tls_ = false;
};

}  // namespace sluice
