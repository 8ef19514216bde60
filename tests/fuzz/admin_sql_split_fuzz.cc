// libFuzzer target for the admin port's statement splitter (admin/sql_split): any text.
// Every statement is non-empty, trimmed, found in the input in order, and there are never
// more statements than semicolons + 1.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "admin/sql_split.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view sql(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts = sluice::SplitStatements(sql);
  size_t semicolons = 0;
  for (char c : sql) semicolons += c == ';';
  if (parts.size() > semicolons + 1) __builtin_trap();
  size_t from = 0;
  for (const std::string& p : parts) {
    if (p.empty() || std::isspace(static_cast<unsigned char>(p.front())) ||
        std::isspace(static_cast<unsigned char>(p.back())))
      __builtin_trap();
    size_t at = sql.find(p, from);
    if (at == std::string_view::npos) __builtin_trap();
    from = at + p.size();
  }
  (void)sluice::FirstWord(sql);
  return 0;
}
