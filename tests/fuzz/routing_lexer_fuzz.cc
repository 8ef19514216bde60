// libFuzzer target for the SQL lexer (routing/sql_lexer): every input, in both dialects, must
// lex to tokens that are views inside the input, in order, and always reach kEnd.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "routing/sql_lexer.h"

namespace sr = sluice::routing;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view sql(reinterpret_cast<const char*>(data), size);
  for (sr::Dialect d : {sr::Dialect::kMysql, sr::Dialect::kPostgres}) {
    sr::SqlLexer lex(sql, d);
    const char* prev_end = sql.data();
    // Each token consumes at least one byte, so the loop ends within size + 1 turns.
    for (size_t n = 0; n <= size + 1; ++n) {
      sr::Token peek = lex.Peek();
      sr::Token t = lex.Next();
      if (t.kind != peek.kind || t.text != peek.text) __builtin_trap();
      if (t.kind == sr::TokenKind::kEnd) break;
      if (t.text.empty() || t.text.data() < prev_end ||
          t.text.data() + t.text.size() > sql.data() + sql.size())
        __builtin_trap();
      prev_end = t.text.data() + t.text.size();
      if (n == size + 1) __builtin_trap();  // a token that consumed nothing
    }
    if (lex.position() > size) __builtin_trap();
  }
  return 0;
}
