// ParseNumber: a whole string_view as an integer in a base, or false (no sign games, no
// trailing bytes); what the position parsers of routing/ and health/ share.
#pragma once

#include <charconv>
#include <string_view>
#include <system_error>

namespace sluice {

template <class T>
bool ParseNumber(std::string_view s, int base, T* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace sluice
