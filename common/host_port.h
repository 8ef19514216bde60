// "host:port" parsing, strict: shared by the config file (listen addresses) and discovery
// (addresses a server announces, which sluice must not take on trust).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// "host:port" or "[v6]:port"; the port must be 1..65535.
inline bool ParseHostPort(std::string_view s, std::string* host, uint16_t* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view h = s.substr(0, colon);
  std::string_view p = s.substr(colon + 1);
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return false;  // a bare IPv6 address is ambiguous; it needs brackets
  }
  if (p.empty() || p.size() > 5) return false;
  int v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > 65535) return false;
  *host = std::string(h);
  *port = static_cast<uint16_t>(v);
  return true;
}

}  // namespace sluice
