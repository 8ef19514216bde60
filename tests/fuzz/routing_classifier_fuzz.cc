// libFuzzer target for the statement classifier (routing/classifier): any text, both
// dialects. Views in the result must point into the input; the keyword is bounded.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "routing/classifier.h"

namespace sr = sluice::routing;

namespace {
bool Inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view sql(reinterpret_cast<const char*>(data), size);
  for (sr::Dialect d : {sr::Dialect::kMysql, sr::Dialect::kPostgres}) {
    sr::Classification c = sr::Classify(sql, d);
    if (!Inside(c.schema, sql)) __builtin_trap();
    for (const sr::SetVar& v : c.set_vars) {
      // Multi-word names ("CHARACTER SET", "TIME ZONE", ...) may be static strings.
      if (v.value.size() > sql.size()) __builtin_trap();
      if (!Inside(v.value, sql)) __builtin_trap();
    }
    if (c.first_keyword.size() > 64) __builtin_trap();
    (void)sr::StatementKindName(c.kind);
  }
  return 0;
}
