// The real Node implementations (libpq, libmariadb) against hung peers on loopback: a
// listener that never accepts, and a fake PostgreSQL server that logs the monitor in and
// then never answers (a SIGSTOPped server). Every check must end within its own bounds.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "health/node.h"

namespace sluice::health {
namespace {

using Clock = std::chrono::steady_clock;

// A loopback listener; with accept_and_login the thread plays a PostgreSQL server that
// answers the startup (SSL and GSS refused, trust login) and then stays silent for up to
// hold_s seconds, as a stopped server does.
class HungPeer {
 public:
  explicit HungPeer(bool accept_and_login, int hold_s = 6) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 8), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (accept_and_login) thread_ = std::thread([this, hold_s] { Serve(hold_s); });
  }
  ~HungPeer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  bool logged_in() const { return logged_in_; }

 private:
  // Reads one startup-phase packet (int32 length first); false on EOF or timeout.
  static bool ReadPacket(int c, std::string* out) {
    char len_buf[4];
    if (!ReadFull(c, len_buf, 4)) return false;
    uint32_t len;
    std::memcpy(&len, len_buf, 4);
    len = ntohl(len);
    if (len < 4 || len > 10000) return false;
    out->assign(len - 4, '\0');
    return ReadFull(c, out->data(), len - 4);
  }
  static bool ReadFull(int c, char* p, size_t n) {
    while (n > 0) {
      pollfd pf{c, POLLIN, 0};
      if (poll(&pf, 1, 3000) <= 0) return false;
      ssize_t r = read(c, p, n);
      if (r <= 0) return false;
      p += r, n -= static_cast<size_t>(r);
    }
    return true;
  }
  void Serve(int hold_s) {
    pollfd pf{fd_, POLLIN, 0};
    if (poll(&pf, 1, 5000) <= 0) return;
    int c = accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    std::string pkt;
    for (;;) {
      if (!ReadPacket(c, &pkt)) return (void)close(c);
      uint32_t code = 0;
      if (pkt.size() >= 4) std::memcpy(&code, pkt.data(), 4), code = ntohl(code);
      if (code == 80877103 || code == 80877104) {  // SSLRequest, GSSENCRequest: no
        (void)!write(c, "N", 1);
        continue;
      }
      break;  // the StartupMessage
    }
    // AuthenticationOk, then ReadyForQuery (idle).
    const char ok[] = {'R', 0, 0, 0, 8, 0, 0, 0, 0, 'Z', 0, 0, 0, 5, 'I'};
    (void)!write(c, ok, sizeof ok);
    logged_in_ = true;
    auto until = Clock::now() + std::chrono::seconds(hold_s);
    while (!stop_ && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    close(c);
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> logged_in_{false};
};

NodeOptions Options(Protocol p, uint16_t port, int timeout_ms) {
  NodeOptions o;
  o.protocol = p;
  o.host = "127.0.0.1";
  o.port = port;
  o.user = "monitor";
  o.password = "x";
  o.connect_timeout_ms = timeout_ms;
  o.read_timeout_ms = timeout_ms;
  return o;
}

double SecondsOf(const std::function<void()>& f) {
  auto start = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Checks a Node of PROTOCOL on PEER with TIMEOUT_MS bounds: it must fail within LIMIT_S
// seconds, saying WHY when WHY is not empty.
void ExpectCheckEndsWithin(Protocol protocol, const HungPeer& peer, int timeout_ms, double limit_s,
                           const std::string& why) {
  auto node = protocol == Protocol::kMysql
                  ? MakeMysqlNode(Options(protocol, peer.port(), timeout_ms))
                  : MakePgNode(Options(protocol, peer.port(), timeout_ms));
  Result<NodeCheck> r = Internal("not run");
  double s = SecondsOf([&] { r = node->Check(); });
  EXPECT_FALSE(r.ok());
  EXPECT_LT(s, limit_s) << r.status().message();
  if (!why.empty()) {
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
  }
}

// Before: libpq's connect_timeout (whole seconds, raised to 2) waited 2 s for a check
// bounded at 1 s by the window.
TEST(PgNodeTimeout, ConnectToAHungServerEndsOnItsDeadline) {
  HungPeer peer(false);
  ExpectCheckEndsWithin(Protocol::kPostgres, peer, 300, 1.0, "no answer within 300 ms");
}

// Before: the check statement waited on a server that had logged the monitor in and then
// stopped, as long as the server stayed stopped (here 6 s).
TEST(PgNodeTimeout, CheckOfAServerThatStopsAnsweringEndsOnItsDeadline) {
  HungPeer peer(true);
  ExpectCheckEndsWithin(Protocol::kPostgres, peer, 400, 1.5, "no answer within 400 ms");
  EXPECT_TRUE(peer.logged_in());
}

// libmariadb: MYSQL_OPT_CONNECT_TIMEOUT bounds the wait for the greeting (whole seconds).
TEST(MysqlNodeTimeout, ConnectToAHungServerEndsOnItsDeadline) {
  HungPeer peer(false);
  ExpectCheckEndsWithin(Protocol::kMysql, peer, 300, 2.5, "");
}

TEST(CheckTimeout, WellUnderTheWindow) {
  EXPECT_EQ(CheckTimeoutMs(2000), 1000);
  EXPECT_EQ(CheckTimeoutMs(10'000), 1000);
  EXPECT_EQ(CheckTimeoutMs(600), 300);
  EXPECT_EQ(CheckTimeoutMs(0), 100);
}

}  // namespace
}  // namespace sluice::health
