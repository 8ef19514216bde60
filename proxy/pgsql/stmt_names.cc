#include "proxy/pgsql/stmt_names.h"

#include <fmt/format.h>

namespace sluice::pgproxy {

std::string SluiceStatementName(std::string_view query, std::span<const uint32_t> param_types) {
  // FNV-1a 64: stable across processes and workers, so every worker picks the same name.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint8_t b) {
    h ^= b;
    h *= 1099511628211ull;
  };
  for (char c : query) mix(static_cast<uint8_t>(c));
  mix(0);
  for (uint32_t t : param_types)
    for (int i = 0; i < 4; ++i) mix(static_cast<uint8_t>(t >> (8 * i)));
  return fmt::format("sluice_{:016x}", h);
}

}  // namespace sluice::pgproxy
