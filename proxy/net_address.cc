#include "proxy/net_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include <fmt/format.h>

#include "routing/runtime.h"

namespace sluice {

Result<SocketAddress> ParseSocketAddress(std::string_view ip, uint16_t port) {
  std::string text(ip);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  SocketAddress a;
  a.port = port;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (!text.empty() && inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
  } else if (!text.empty() && inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
  } else {
    return InvalidArgument(fmt::format("'{}' is not a numeric IPv4 or IPv6 address", ip));
  }
  a.ip = FormatAddress(a.sa());
  return a;
}

Result<SocketAddress> ConnectAddress(std::string_view host, std::string_view address,
                                     uint16_t port) {
  if (!address.empty()) {
    auto a = ParseSocketAddress(address, port);
    if (!a.ok()) return Unavailable(fmt::format("resolved address {}", a.status().message()));
    return a;
  }
  auto a = ParseSocketAddress(host, port);
  if (!a.ok())
    return Unavailable(
        fmt::format("host '{}' is not resolved yet (not a numeric address, and "
                    "the control plane published none)",
                    host));
  return a;
}

Result<SocketAddress> ServerSocketAddress(const Server& server) {
  return ConnectAddress(server.host, server.address, server.port);
}

std::string FormatAddress(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    return buf;
  }
  if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
    return buf;
  }
  return "unknown";
}

std::string PeerAddress(evutil_socket_t fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "unknown";
  return FormatAddress(reinterpret_cast<const sockaddr*>(&ss));
}

}  // namespace sluice
