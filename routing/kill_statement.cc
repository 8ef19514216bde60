#include "routing/kill_statement.h"

#include <charconv>
#include <vector>

#include "routing/sql_lexer.h"

namespace sluice::routing {

std::optional<KillStatement> ParseKill(std::string_view sql) {
  SqlLexer lex(sql, Dialect::kMysql);
  Token t = lex.Next();
  if (t.kind != TokenKind::kWord || !EqualsKeyword(t.text, "KILL")) return std::nullopt;
  KillStatement k;
  t = lex.Next();
  if (t.kind == TokenKind::kWord &&
      (EqualsKeyword(t.text, "HARD") || EqualsKeyword(t.text, "SOFT")))
    t = lex.Next();
  if (t.kind == TokenKind::kWord && EqualsKeyword(t.text, "CONNECTION")) {
    t = lex.Next();
  } else if (t.kind == TokenKind::kWord && EqualsKeyword(t.text, "QUERY")) {
    k.query_only = true;
    t = lex.Next();
    if (t.kind == TokenKind::kWord && EqualsKeyword(t.text, "ID")) {
      k.unsupported = "KILL QUERY ID (a query id) through sluice; use KILL QUERY <connection id>";
      return k;
    }
  }
  if (t.kind == TokenKind::kWord && EqualsKeyword(t.text, "USER")) {
    k.unsupported = "KILL USER through sluice; use KILL <connection id>";
    return k;
  }
  uint64_t v = 0;
  bool number = t.kind == TokenKind::kNumber && !t.text.empty();
  if (number) {
    auto [end, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    number = ec == std::errc() && end == t.text.data() + t.text.size() && v <= UINT32_MAX;
  }
  Token rest = lex.Next();
  if (rest.kind == TokenKind::kSemicolon) rest = lex.Next();
  if (!number || rest.kind != TokenKind::kEnd) {
    k.unsupported = "KILL with a target other than a connection id through sluice";
    return k;
  }
  k.id = static_cast<uint32_t>(v);
  return k;
}

std::optional<std::string> ReplaceConnectionId(std::string_view sql, uint32_t id) {
  // Cheap test first: almost no statement names the function.
  bool maybe = false;
  for (size_t i = 0; !maybe && i + 13 <= sql.size(); ++i)
    maybe = (sql[i] == 'C' || sql[i] == 'c') && EqualsKeyword(sql.substr(i, 13), "CONNECTION_ID");
  if (!maybe) return std::nullopt;
  SqlLexer lex(sql, Dialect::kMysql);
  std::vector<std::pair<size_t, size_t>> spans;  // [begin, end) of each CONNECTION_ID ( )
  Token prev;
  for (Token t = lex.Next(); t.kind != TokenKind::kEnd; t = lex.Next()) {
    bool qualified = prev.kind == TokenKind::kDot;
    prev = t;
    if (t.kind != TokenKind::kWord || qualified || !EqualsKeyword(t.text, "CONNECTION_ID"))
      continue;
    SqlLexer ahead = lex;
    Token open = ahead.Next();
    Token close = ahead.Next();
    if (open.kind != TokenKind::kLParen || close.kind != TokenKind::kRParen) continue;
    size_t begin = static_cast<size_t>(t.text.data() - sql.data());
    size_t end = static_cast<size_t>(close.text.data() - sql.data()) + close.text.size();
    spans.emplace_back(begin, end);
    lex = ahead;
    prev = close;
  }
  if (spans.empty()) return std::nullopt;
  std::string out;
  size_t at = 0;
  for (auto [b, e] : spans) {
    out.append(sql.substr(at, b - at));
    out += std::to_string(id);
    at = e;
  }
  out.append(sql.substr(at));
  return out;
}

}  // namespace sluice::routing
