// SqlLexer: a small tokenizer for MySQL and PostgreSQL statement text, shared by the
// classifier and the digest so that both see quotes, comments and literals the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::routing {

enum class Dialect { kMysql, kPostgres };

enum class TokenKind : uint8_t {
  kEnd,          // no more tokens
  kWord,         // keyword or bare identifier
  kQuotedIdent,  // `x` (MySQL) or "x" (PostgreSQL)
  kString,       // '..', MySQL "..", E'..', $tag$..$tag$, N'..', _charset'..' is a word + string
  kNumber,       // 12, 1.5e3, .5, 0x1F, 0b01, x'1F', b'01'
  kPlaceholder,  // ? or $1
  kUserVar,      // MySQL @x, @'x', @`x`
  kSysVar,       // MySQL @@x, @@session.x
  kOperator,     // = <> := :: || -> etc.
  kLParen,
  kRParen,
  kComma,
  kDot,
  kSemicolon,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string_view text;  // a view into the lexed statement, quotes included
  // True when whitespace or a comment separated this token from the previous one.
  bool space_before = false;
};

// Scans one statement text. A value type: copy it to look ahead.
class SqlLexer {
 public:
  SqlLexer(std::string_view sql, Dialect dialect) : sql_(sql), dialect_(dialect) {}

  Token Next();
  // The token Next() would return, without consuming it.
  Token Peek() const {
    SqlLexer copy = *this;
    return copy.Next();
  }
  size_t position() const { return pos_; }
  std::string_view sql() const { return sql_; }
  Dialect dialect() const { return dialect_; }

 private:
  // Skips whitespace and comments; returns true if anything was skipped.
  bool SkipSpaceAndComments();
  bool SkipBlockComment();
  Token Make(TokenKind kind, size_t start) const;
  void ScanQuoted(char quote, bool backslash_escapes);
  bool ScanDollarQuote();
  void ScanNumber();
  void ScanWordChars();
  void ScanOperator();

  std::string_view sql_;
  Dialect dialect_;
  size_t pos_ = 0;
  // Inside a MySQL /*! ... */ executable comment: its closing */ is skipped like space.
  bool in_exec_comment_ = false;
};

// ASCII case-insensitive comparison of a token's text with an upper-case keyword.
bool EqualsKeyword(std::string_view text, std::string_view upper_keyword);

}  // namespace sluice::routing
