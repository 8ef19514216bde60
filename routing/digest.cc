#include "routing/digest.h"

#include "routing/keywords.h"

namespace sluice::routing {
namespace {

bool IsLiteral(const Token& t) {
  return t.kind == TokenKind::kString || t.kind == TokenKind::kNumber ||
         t.kind == TokenKind::kPlaceholder;
}

bool IsSign(const Token& t) {
  return t.kind == TokenKind::kOperator && (t.text == "-" || t.text == "+");
}

// What was emitted last decides the spacing before the next token and whether a sign
// before a number is unary.
enum class Last { kStart, kValue, kKeyword, kFuncName, kOperator, kCast, kOpen, kComma, kDot };

// If the lexer stands right after '(' and what follows is a list of literals and a ')',
// consumes it and returns the number of items; otherwise returns 0 and consumes nothing.
int ConsumeLiteralList(SqlLexer* lx) {
  SqlLexer probe = *lx;
  int items = 0;
  for (;;) {
    Token t = probe.Next();
    if (IsSign(t)) t = probe.Next();
    if (!IsLiteral(t)) return 0;
    ++items;
    t = probe.Next();
    if (t.kind == TokenKind::kRParen) break;
    if (t.kind != TokenKind::kComma) return 0;
  }
  *lx = probe;
  return items;
}

// After the first row of VALUES: consumes each further ",(...)" and says if there was one.
bool SkipMoreRows(SqlLexer* lx) {
  bool skipped = false;
  for (;;) {
    SqlLexer probe = *lx;
    if (probe.Next().kind != TokenKind::kComma) return skipped;
    if (probe.Next().kind != TokenKind::kLParen) return skipped;
    int depth = 1;
    while (depth > 0) {
      Token t = probe.Next();
      if (t.kind == TokenKind::kEnd) break;
      if (t.kind == TokenKind::kLParen) ++depth;
      if (t.kind == TokenKind::kRParen) --depth;
    }
    *lx = probe;
    skipped = true;
  }
}

class DigestWriter {
 public:
  explicit DigestWriter(std::string* out) : out_(out) {}

  void Emit(std::string_view text, Last kind) {
    if (NeedSpace(text, kind)) out_->push_back(' ');
    out_->append(text);
    last_ = kind;
  }
  Last last() const { return last_; }
  void set_last(Last kind) { last_ = kind; }

 private:
  bool NeedSpace(std::string_view text, Last kind) const {
    if (last_ == Last::kStart || last_ == Last::kOpen || last_ == Last::kDot ||
        last_ == Last::kComma || last_ == Last::kCast)
      return false;
    if (kind == Last::kComma || kind == Last::kDot || kind == Last::kCast) return false;
    if (text == ")" || text == ";") return false;
    if (kind == Last::kOpen) return last_ != Last::kFuncName && last_ != Last::kValue;
    return true;
  }

  std::string* out_;
  Last last_ = Last::kStart;
};

void EmitMoreRows(DigestWriter* w) {
  w->Emit(",...", Last::kComma);
  w->set_last(Last::kValue);
}

}  // namespace

void Digest(std::string_view sql, Dialect dialect, std::string* out) {
  out->clear();
  SqlLexer lx(sql.substr(0, kDigestMaxInput), dialect);
  DigestWriter w(out);
  bool after_values = false;  // the last word emitted was VALUES / VALUE
  int depth = 0;
  int values_row_depth = -1;  // depth of the first VALUES row's '(' while it is open
  for (Token t = lx.Next(); t.kind != TokenKind::kEnd; t = lx.Next()) {
    bool was_values = after_values;
    after_values = false;
    switch (t.kind) {
      case TokenKind::kString:
      case TokenKind::kNumber:
      case TokenKind::kPlaceholder:
        w.Emit("?", Last::kValue);
        break;
      case TokenKind::kWord: {
        Kw kw = LookupKeyword(t.text);
        Last kind = Last::kValue;
        if (kw != Kw::kNone) kind = (KeywordFlags(kw) & kFunc) ? Last::kFuncName : Last::kKeyword;
        if (kind == Last::kValue && lx.Peek().kind == TokenKind::kLParen) kind = Last::kFuncName;
        w.Emit(t.text, kind);
        after_values = kw == Kw::kValues || kw == Kw::kValue;
        break;
      }
      case TokenKind::kQuotedIdent:
      case TokenKind::kUserVar:
      case TokenKind::kSysVar:
        w.Emit(t.text, lx.Peek().kind == TokenKind::kLParen ? Last::kFuncName : Last::kValue);
        break;
      case TokenKind::kOperator:
        if (IsSign(t) && w.last() != Last::kValue) {
          SqlLexer probe = lx;
          if (probe.Next().kind == TokenKind::kNumber) {  // -1 is one literal
            lx = probe;
            w.Emit("?", Last::kValue);
            break;
          }
        }
        w.Emit(t.text, t.text == "::" ? Last::kCast : Last::kOperator);
        break;
      case TokenKind::kLParen: {
        int items = ConsumeLiteralList(&lx);
        if (items > 0) {
          w.Emit(items == 1 ? "(?)" : "(?,...)", Last::kOpen);
          w.set_last(Last::kValue);
          if (was_values && SkipMoreRows(&lx)) EmitMoreRows(&w);
          break;
        }
        if (was_values && values_row_depth < 0) values_row_depth = depth;
        ++depth;
        w.Emit("(", Last::kOpen);
        break;
      }
      case TokenKind::kRParen:
        if (depth > 0) --depth;
        w.Emit(")", Last::kValue);
        if (depth == values_row_depth) {
          values_row_depth = -1;
          if (SkipMoreRows(&lx)) EmitMoreRows(&w);
        }
        break;
      case TokenKind::kComma:
        w.Emit(",", Last::kComma);
        break;
      case TokenKind::kDot:
        w.Emit(".", Last::kDot);
        break;
      case TokenKind::kSemicolon:
        w.Emit(";", Last::kOperator);
        break;
      case TokenKind::kEnd:
        break;
    }
  }
}

uint64_t DigestHash(std::string_view digest_text) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a 64-bit offset basis
  for (unsigned char ch : digest_text) {
    h ^= ch;
    h *= 1099511628211ull;  // FNV 64-bit prime
  }
  return h == 0 ? 1 : h;
}

}  // namespace sluice::routing
