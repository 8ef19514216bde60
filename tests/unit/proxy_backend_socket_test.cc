// The backend connection core: numeric addresses (IPv4, IPv6, the control plane's resolved
// address), a clear failure for a name, peer addresses, cancel keys over IPv6.
#include "proxy/backend_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "proxy/mysql/backend.h"
#include "proxy/net_address.h"
#include "proxy/shared.h"
#include "proxy/worker.h"
#include "routing/runtime.h"

namespace sluice {
namespace {

TEST(NetAddress, ParsesIpv4AndIpv6) {
  auto a = ParseSocketAddress("10.1.2.3", 3306);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->sa()->sa_family, AF_INET);
  EXPECT_EQ(a->ip, "10.1.2.3");
  auto b = ParseSocketAddress("[::1]", 5432);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->sa()->sa_family, AF_INET6);
  EXPECT_EQ(b->ip, "::1");
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in6*>(b->sa())->sin6_port), 5432);
  EXPECT_FALSE(ParseSocketAddress("db.example", 1).ok());
  EXPECT_FALSE(ParseSocketAddress("", 1).ok());
  EXPECT_FALSE(ParseSocketAddress("1.2.3.4.5", 1).ok());
}

TEST(NetAddress, ServerPrefersTheResolvedAddressAndNeverGuesses) {
  Server s;
  s.host = "db1.internal";
  s.port = 3306;
  auto none = ServerSocketAddress(s);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("not resolved"), std::string::npos);
  s.address = "fd00::5";
  auto v6 = ServerSocketAddress(s);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ip, "fd00::5");
  s.address = "garbage";
  EXPECT_FALSE(ServerSocketAddress(s).ok());
  Server n;
  n.host = "127.0.0.1";
  n.port = 1;
  ASSERT_TRUE(ServerSocketAddress(n).ok());
  EXPECT_EQ(ServerSocketAddress(n)->ip, "127.0.0.1");
}

// A listening TCP socket on the loopback address of family, port chosen by the kernel.
int Listen(int family, uint16_t* port) {
  int fd = socket(family, SOCK_STREAM, 0);
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 4) != 0) {
    close(fd);
    return -1;
  }
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *port = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                   : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

TEST(PeerAddress, ReportsAnIpv6Client) {
  uint16_t port = 0;
  int l = Listen(AF_INET6, &port);
  ASSERT_GE(l, 0) << "no IPv6 loopback on this machine";
  int c = socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  to.sin6_addr = in6addr_loopback;
  to.sin6_port = htons(port);
  ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  int a = accept(l, nullptr, nullptr);
  ASSERT_GE(a, 0);
  EXPECT_EQ(PeerAddress(a), "::1");
  close(a);
  close(c);
  close(l);
}

class Owner : public mysqlproxy::MysqlBackend::Owner {
 public:
  void OnBackendReady(mysqlproxy::MysqlBackend*) override { ready = true; }
  void OnBackendReadable(mysqlproxy::MysqlBackend*) override {}
  void OnBackendError(mysqlproxy::MysqlBackend* b, const Status& st) override {
    error = st.message();
    b->SetOwner(nullptr);
    b->Destroy();
  }
  bool ready = false;
  std::string error;
};

class BackendConnect : public ::testing::Test {
 protected:
  void SetUp() override {
    shared_.runtime.Publish(std::make_shared<const Runtime>());
    worker_ = std::make_unique<Worker>(0, &shared_);
  }
  void RunUntil(const std::function<bool()>& done) {
    int64_t deadline = MonotonicMs() + 5000;
    while (!done() && MonotonicMs() < deadline) event_base_loop(worker_->base(), EVLOOP_ONCE);
  }
  ProxyShared shared_;
  std::unique_ptr<Worker> worker_;
};

// A host name without a resolved address is a connect failure with its reason; it used to
// be parsed as 0.0.0.0, which Linux connects to this machine.
TEST_F(BackendConnect, UnresolvedHostFailsWithItsReasonAndConnectsNowhere) {
  uint16_t port = 0;
  int l = Listen(AF_INET, &port);
  ASSERT_GE(l, 0);
  mysqlproxy::BackendLogin login;
  login.host = "db1.internal";
  login.port = port;
  login.connect_timeout_ms = 500;
  Owner owner;
  mysqlproxy::MysqlBackend::Connect(worker_.get(), PoolKey{"db1.internal:1", "u", 0}, login,
                                    &owner);
  RunUntil([&] { return !owner.error.empty(); });
  EXPECT_NE(owner.error.find("not resolved"), std::string::npos) << owner.error;
  // Nothing connected to the listener.
  timeval tv{0, 0};
  fd_set set;
  FD_ZERO(&set);
  FD_SET(l, &set);
  EXPECT_EQ(select(l + 1, &set, nullptr, nullptr, &tv), 0);
  close(l);
}

// The control plane's address wins over the configured name, IPv6 included: the server's
// greeting arrives over ::1.
TEST_F(BackendConnect, ConnectsToTheResolvedIpv6Address) {
  uint16_t port = 0;
  int l = Listen(AF_INET6, &port);
  ASSERT_GE(l, 0);
  mysqlproxy::BackendLogin login;
  login.host = "db1.internal";
  login.address = "::1";
  login.port = port;
  login.connect_timeout_ms = 300;
  Owner owner;
  mysqlproxy::MysqlBackend::Connect(worker_.get(), PoolKey{"db1.internal:1", "u", 0}, login,
                                    &owner);
  int accepted = -1;
  RunUntil([&] {
    if (accepted < 0) {
      timeval tv{0, 0};
      fd_set set;
      FD_ZERO(&set);
      FD_SET(l, &set);
      if (select(l + 1, &set, nullptr, nullptr, &tv) == 1) accepted = accept(l, nullptr, nullptr);
    }
    return !owner.error.empty();
  });
  EXPECT_GE(accepted, 0);
  // No greeting was sent: the login times out, and says so.
  EXPECT_NE(owner.error.find("timed out"), std::string::npos) << owner.error;
  if (accepted >= 0) close(accepted);
  close(l);
}

}  // namespace
}  // namespace sluice
