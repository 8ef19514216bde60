// libFuzzer target for the digest (routing/digest): any text, both dialects. The digest is
// bounded by its input cap, deterministic, and idempotent on its own hash input size.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "routing/digest.h"

namespace sr = sluice::routing;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view sql(reinterpret_cast<const char*>(data), size);
  std::string a, b;
  for (sr::Dialect d : {sr::Dialect::kMysql, sr::Dialect::kPostgres}) {
    sr::Digest(sql, d, &a);
    sr::Digest(sql, d, &b);
    if (a != b) __builtin_trap();
    // Every input byte yields at most a few output bytes ("?" for a literal, spaces, ",...").
    if (a.size() > 4 * sr::kDigestMaxInput + 16) __builtin_trap();
    if (sr::DigestHash(a) == 0) __builtin_trap();
  }
  return 0;
}
