#include "routing/sql_lexer.h"

namespace sluice::routing {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsHexDigit(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool IsWordStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
// Both dialects allow '$' inside an identifier (MySQL anywhere, PostgreSQL after the first).
bool IsWordChar(char c) {
  return IsWordStart(c) || IsDigit(c) || c == '$';
}
char Upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

// Multi-character operators, longest first (MySQL sql/lex.h symbols; PostgreSQL
// json/geometry operators). Anything else is a one-character operator.
constexpr std::string_view kOperators3[] = {"<=>", "->>", "#>>"};
constexpr std::string_view kOperators2[] = {"<=", ">=", "<>", "!=", ":=", "::", "||", "&&", "->",
                                            "<<", ">>", "@>", "<@", "#>", "~*", "!~", "#-"};

}  // namespace

bool EqualsKeyword(std::string_view text, std::string_view upper_keyword) {
  if (text.size() != upper_keyword.size()) return false;
  for (size_t i = 0; i < text.size(); ++i)
    if (Upper(text[i]) != upper_keyword[i]) return false;
  return true;
}

bool SqlLexer::SkipBlockComment() {
  // At "/*". PostgreSQL block comments nest; MySQL's do not.
  size_t depth = 0;
  while (pos_ < sql_.size()) {
    if (sql_[pos_] == '/' && pos_ + 1 < sql_.size() && sql_[pos_ + 1] == '*') {
      if (depth == 0 || dialect_ == Dialect::kPostgres) ++depth;
      pos_ += 2;
    } else if (sql_[pos_] == '*' && pos_ + 1 < sql_.size() && sql_[pos_ + 1] == '/') {
      pos_ += 2;
      if (--depth == 0) return true;
    } else {
      ++pos_;
    }
  }
  return true;  // unterminated: the rest is comment
}

bool SqlLexer::SkipSpaceAndComments() {
  const size_t start = pos_;
  while (pos_ < sql_.size()) {
    char c = sql_[pos_];
    char n = pos_ + 1 < sql_.size() ? sql_[pos_ + 1] : '\0';
    if (IsSpace(c)) {
      ++pos_;
    } else if (c == '-' && n == '-' &&
               (dialect_ == Dialect::kPostgres || pos_ + 2 >= sql_.size() ||
                IsSpace(sql_[pos_ + 2]) || static_cast<unsigned char>(sql_[pos_ + 2]) < 0x20)) {
      // MySQL needs whitespace after "--" (refman "Comments"); "1--1" is arithmetic.
      while (pos_ < sql_.size() && sql_[pos_] != '\n') ++pos_;
    } else if (c == '#' && dialect_ == Dialect::kMysql) {
      while (pos_ < sql_.size() && sql_[pos_] != '\n') ++pos_;
    } else if (c == '/' && n == '*') {
      size_t after = pos_ + 2;
      bool exec = dialect_ == Dialect::kMysql && after < sql_.size() &&
                  (sql_[after] == '!' ||
                   (sql_[after] == 'M' && after + 1 < sql_.size() && sql_[after + 1] == '!'));
      if (exec && !in_exec_comment_) {
        // "/*!40101 SET ... */" and MariaDB's "/*M!100101 ... */" run as code.
        pos_ = after + (sql_[after] == 'M' ? 2 : 1);
        while (pos_ < sql_.size() && IsDigit(sql_[pos_])) ++pos_;
        in_exec_comment_ = true;
      } else {
        SkipBlockComment();
      }
    } else if (c == '*' && n == '/' && in_exec_comment_) {
      pos_ += 2;
      in_exec_comment_ = false;
    } else {
      break;
    }
  }
  return pos_ != start;
}

Token SqlLexer::Make(TokenKind kind, size_t start) const {
  return Token{kind, sql_.substr(start, pos_ - start), false};
}

void SqlLexer::ScanQuoted(char quote, bool backslash_escapes) {
  // At the opening quote. A doubled quote is an escaped quote in both dialects.
  ++pos_;
  while (pos_ < sql_.size()) {
    char c = sql_[pos_];
    if (backslash_escapes && c == '\\') {
      pos_ += 2;
    } else if (c == quote) {
      if (pos_ + 1 < sql_.size() && sql_[pos_ + 1] == quote) {
        pos_ += 2;
      } else {
        ++pos_;
        return;
      }
    } else {
      ++pos_;
    }
  }
  if (pos_ > sql_.size()) pos_ = sql_.size();
}

bool SqlLexer::ScanDollarQuote() {
  // At '$': "$$...$$" or "$tag$...$tag$" (PostgreSQL docs 4.1.2.4); the tag cannot start
  // with a digit, which is what tells it from a $1 parameter.
  size_t p = pos_ + 1;
  if (p < sql_.size() && IsDigit(sql_[p])) return false;
  while (p < sql_.size() && sql_[p] != '$') {
    if (!IsWordChar(sql_[p]) || sql_[p] == '$') return false;
    ++p;
  }
  if (p >= sql_.size()) return false;
  std::string_view tag = sql_.substr(pos_, p + 1 - pos_);
  size_t end = sql_.find(tag, p + 1);
  pos_ = end == std::string_view::npos ? sql_.size() : end + tag.size();
  return true;
}

void SqlLexer::ScanWordChars() {
  while (pos_ < sql_.size() && IsWordChar(sql_[pos_])) ++pos_;
}

void SqlLexer::ScanNumber() {
  char n = pos_ + 1 < sql_.size() ? sql_[pos_ + 1] : '\0';
  if (sql_[pos_] == '0' && (n == 'x' || n == 'X') && pos_ + 2 < sql_.size() &&
      IsHexDigit(sql_[pos_ + 2])) {
    pos_ += 2;
    while (pos_ < sql_.size() && IsHexDigit(sql_[pos_])) ++pos_;
  } else if (sql_[pos_] == '0' && (n == 'b' || n == 'B') && pos_ + 2 < sql_.size() &&
             (sql_[pos_ + 2] == '0' || sql_[pos_ + 2] == '1')) {
    pos_ += 2;
    while (pos_ < sql_.size() && (sql_[pos_] == '0' || sql_[pos_] == '1')) ++pos_;
  } else {
    while (pos_ < sql_.size() && IsDigit(sql_[pos_])) ++pos_;
    if (pos_ < sql_.size() && sql_[pos_] == '.') {
      ++pos_;
      while (pos_ < sql_.size() && IsDigit(sql_[pos_])) ++pos_;
    }
    if (pos_ < sql_.size() && (sql_[pos_] == 'e' || sql_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < sql_.size() && (sql_[p] == '+' || sql_[p] == '-')) ++p;
      if (p < sql_.size() && IsDigit(sql_[p])) {
        pos_ = p;
        while (pos_ < sql_.size() && IsDigit(sql_[pos_])) ++pos_;
      }
    }
  }
}

void SqlLexer::ScanOperator() {
  std::string_view rest = sql_.substr(pos_);
  for (std::string_view op : kOperators3) {
    if (rest.starts_with(op) && (op[0] != '#' || dialect_ == Dialect::kPostgres)) {
      pos_ += 3;
      return;
    }
  }
  for (std::string_view op : kOperators2) {
    if (rest.starts_with(op) && (op[0] != '#' || dialect_ == Dialect::kPostgres)) {
      pos_ += 2;
      return;
    }
  }
  ++pos_;
}

Token SqlLexer::Next() {
  bool space = SkipSpaceAndComments();
  if (pos_ >= sql_.size()) return Token{TokenKind::kEnd, sql_.substr(sql_.size()), space};
  const size_t start = pos_;
  const char c = sql_[pos_];
  const char n = pos_ + 1 < sql_.size() ? sql_[pos_ + 1] : '\0';
  const bool mysql = dialect_ == Dialect::kMysql;
  TokenKind kind = TokenKind::kOperator;

  if ((c == 'x' || c == 'X' || c == 'b' || c == 'B') && n == '\'') {
    ++pos_;  // x'1F' / b'01': hex and bit literals in both dialects
    ScanQuoted('\'', false);
    kind = TokenKind::kNumber;
  } else if ((c == 'n' || c == 'N') && n == '\'') {
    ++pos_;
    ScanQuoted('\'', mysql);
    kind = TokenKind::kString;
  } else if (!mysql && (c == 'e' || c == 'E') && n == '\'') {
    ++pos_;  // E'..' escape strings take backslash escapes
    ScanQuoted('\'', true);
    kind = TokenKind::kString;
  } else if (!mysql && (c == 'u' || c == 'U') && n == '&' && pos_ + 2 < sql_.size() &&
             (sql_[pos_ + 2] == '\'' || sql_[pos_ + 2] == '"')) {
    pos_ += 2;
    char q = sql_[pos_];
    ScanQuoted(q, false);
    kind = q == '\'' ? TokenKind::kString : TokenKind::kQuotedIdent;
  } else if (IsWordStart(c) || (mysql && c == '$')) {
    ScanWordChars();
    kind = TokenKind::kWord;
  } else if (IsDigit(c) || (c == '.' && IsDigit(n))) {
    ScanNumber();
    kind = TokenKind::kNumber;
    // MySQL identifiers may start with digits ("1abc"); keep such text in one word.
    if (pos_ < sql_.size() && IsWordStart(sql_[pos_])) {
      ScanWordChars();
      kind = TokenKind::kWord;
    }
  } else if (c == '\'') {
    ScanQuoted('\'', mysql);
    kind = TokenKind::kString;
  } else if (c == '"') {
    ScanQuoted('"', mysql);
    kind = mysql ? TokenKind::kString : TokenKind::kQuotedIdent;
  } else if (c == '`' && mysql) {
    ScanQuoted('`', false);
    kind = TokenKind::kQuotedIdent;
  } else if (c == '$' && !mysql) {
    if (IsDigit(n)) {
      ++pos_;
      while (pos_ < sql_.size() && IsDigit(sql_[pos_])) ++pos_;
      kind = TokenKind::kPlaceholder;
    } else if (ScanDollarQuote()) {
      kind = TokenKind::kString;
    } else {
      ++pos_;
    }
  } else if (c == '?') {
    if (!mysql && (n == '|' || n == '&' || n == '-')) {
      pos_ += 2;  // jsonb ?| ?& and geometric ?- operators
    } else {
      ++pos_;
      kind = TokenKind::kPlaceholder;
    }
  } else if (c == '@' && mysql) {
    if (n == '@') {
      pos_ += 2;
      ScanWordChars();
      if (pos_ + 1 < sql_.size() && sql_[pos_] == '.' && IsWordStart(sql_[pos_ + 1])) {
        ++pos_;  // @@session.x
        ScanWordChars();
      }
      kind = TokenKind::kSysVar;
    } else {
      ++pos_;
      if (n == '\'' || n == '"' || n == '`') {
        ScanQuoted(n, n != '`');
      } else {
        while (pos_ < sql_.size() && (IsWordChar(sql_[pos_]) || sql_[pos_] == '.')) ++pos_;
      }
      kind = TokenKind::kUserVar;
    }
  } else if (c == '(') {
    ++pos_;
    kind = TokenKind::kLParen;
  } else if (c == ')') {
    ++pos_;
    kind = TokenKind::kRParen;
  } else if (c == ',') {
    ++pos_;
    kind = TokenKind::kComma;
  } else if (c == '.') {
    ++pos_;
    kind = TokenKind::kDot;
  } else if (c == ';') {
    ++pos_;
    kind = TokenKind::kSemicolon;
  } else {
    ScanOperator();
  }
  Token t = Make(kind, start);
  t.space_before = space;
  return t;
}

}  // namespace sluice::routing
