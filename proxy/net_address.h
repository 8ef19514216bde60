// Numeric socket addresses on the data plane: what a backend connection connects to (the
// address the control plane resolved, never a name lookup on a worker) and what a client's
// peer address is, IPv4 and IPv6 alike.
#pragma once

#include <event2/util.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

struct Server;

// A numeric address and port, ready for connect().
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  std::string ip;  // the numeric address as text, without brackets
  uint16_t port = 0;
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// Parses a numeric IPv4 ("10.0.0.5") or IPv6 ("::1", "[::1]") address. A host name or
// anything else unparsable is an InvalidArgument error that names it.
Result<SocketAddress> ParseSocketAddress(std::string_view ip, uint16_t port);

// Where a worker connects for server: Server::address (resolved by the control plane),
// else Server::host when it is numeric; otherwise an Unavailable error saying why.
Result<SocketAddress> ServerSocketAddress(const Server& server);
// The same from its parts (a backend login keeps them; name is "host:port").
Result<SocketAddress> ConnectAddress(std::string_view host, std::string_view address,
                                     uint16_t port);

// The numeric text of an IPv4/IPv6 socket address; "unknown" for any other family.
std::string FormatAddress(const sockaddr* sa);

// The client's address on an accepted socket; "unknown" when the kernel cannot say.
std::string PeerAddress(evutil_socket_t fd);

}  // namespace sluice
