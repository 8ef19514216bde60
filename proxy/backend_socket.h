// BackendSocket: the connection under every backend connection sluice opens (MySQL,
// PostgreSQL, a PostgreSQL cancel): connect to a numeric address with a timeout, report
// connected / readable / writable / failed (timeout, refusal, the server's close), pause and
// resume reading. The protocol's login and framing live in the class that owns it.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <string>

#include "common/status.h"
#include "proxy/net_address.h"

namespace sluice {

// Opens the bufferevents backend connections run on. The worker's default makes TCP
// sockets; unit tests give their own (in-memory bufferevent pairs) to play a server.
class Dialer {
 public:
  virtual ~Dialer() = default;
  // A bufferevent to connect to addr; BackendSocket sets it up, then calls Start().
  virtual bufferevent* Create(event_base* base, const SocketAddress& addr) = 0;
  // Starts connecting; BEV_EVENT_CONNECTED or an error follows from the loop. False when the
  // connect failed at once.
  virtual bool Start(bufferevent* bev, const SocketAddress& addr) = 0;
};

// TCP (TCP_NODELAY once connected), reading through UseDirectReads.
Dialer* TcpDialer();

class BackendSocket {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    virtual void OnSocketConnected() = 0;
    // The TLS handshake StartTls() began is done: what follows is encrypted.
    virtual void OnSocketTlsReady() {}
    virtual void OnSocketReadable() = 0;
    // The output fell below the mark WatchWrites() set.
    virtual void OnSocketWritable() {}
    // The connect failed or timed out, the server closed, or the socket broke: why says
    // which ("timed out", "connection closed by the server", the system's error text, or
    // why the address cannot be connected to). Reading and writing are off by then.
    virtual void OnSocketFailed(const std::string& why) = 0;
  };

  explicit BackendSocket(Callbacks* cb) : cb_(cb) {}
  ~BackendSocket();
  BackendSocket(const BackendSocket&) = delete;
  BackendSocket& operator=(const BackendSocket&) = delete;

  // Connects to addr (an error in addr is a failure, reported from the loop like every
  // other, never a connect to 0.0.0.0). The timeout covers connect and login until
  // ClearTimeouts(); read_high_water bounds the read-ahead.
  void Connect(event_base* base, Dialer* dialer, const Result<SocketAddress>& addr, int timeout_ms,
               size_t read_high_water);

  evbuffer* input() const { return bufferevent_get_input(bev_); }
  evbuffer* output() const { return bufferevent_get_output(bev_); }
  // Sends the output now (proxy/socket_io.h).
  void WriteNow();
  // Puts a client-side TLS filter (ssl, which it then owns) over the connection and starts
  // the handshake, nonblocking on the loop and under the connect timeout: OnSocketTlsReady,
  // or OnSocketFailed with OpenSSL's reason. The input must be empty (nothing read ahead of
  // the server's TLS). False when the filter cannot be made (ssl is freed).
  bool StartTls(SSL* ssl);
  bool tls() const { return tls_; }
  void PauseRead() { bufferevent_disable(bev_, EV_READ); }
  void ResumeRead() { bufferevent_enable(bev_, EV_READ); }
  void Disable() { bufferevent_disable(bev_, EV_READ | EV_WRITE); }
  // Asks for OnSocketWritable once the output drains below low_water.
  void WatchWrites(size_t low_water);
  // The read-ahead bound (a whole large packet may need more than the default).
  void SetReadHighWater(size_t bytes);
  // Logged in: no more timeouts; the session bounds its own waits.
  void ClearTimeouts();
  // The numeric address connected to ("" when the address could not be parsed).
  const std::string& ip() const { return ip_; }
  // OnSocketFailed was reported: the connection itself failed (refused, timed out, reset,
  // closed), as opposed to a protocol's refusal over a working connection.
  bool failed() const { return failed_; }

 private:
  static void OnRead(bufferevent*, void* arg);
  static void OnWrite(bufferevent*, void* arg);
  static void OnEvent(bufferevent*, short what, void* arg);

  Callbacks* cb_;
  bufferevent* bev_ = nullptr;
  size_t read_high_water_ = 0;
  int timeout_ms_ = 0;
  bool tls_ = false;          // bev_ is the TLS filter over the socket's bufferevent
  bool handshaking_ = false;  // its handshake has not finished
  std::string ip_;
  std::string pending_failure_;  // why, when the connect could not even start
  bool failed_ = false;
};

}  // namespace sluice
