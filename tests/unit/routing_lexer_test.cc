#include "routing/sql_lexer.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sluice::routing {
namespace {

struct Lexed {
  TokenKind kind;
  std::string text;
  bool operator==(const Lexed&) const = default;
};

std::vector<Lexed> Lex(std::string_view sql, Dialect d) {
  std::vector<Lexed> out;
  SqlLexer lx(sql, d);
  for (int i = 0; i < 1000; ++i) {
    Token t = lx.Next();
    if (t.kind == TokenKind::kEnd) break;
    out.push_back({t.kind, std::string(t.text)});
  }
  return out;
}

constexpr auto W = TokenKind::kWord;
constexpr auto S = TokenKind::kString;
constexpr auto N = TokenKind::kNumber;
constexpr auto Q = TokenKind::kQuotedIdent;
constexpr auto O = TokenKind::kOperator;
constexpr auto P = TokenKind::kPlaceholder;

TEST(RoutingLexer, WordsNumbersOperatorsPunctuation) {
  std::vector<Lexed> want = {{W, "SELECT"},
                             {W, "a"},
                             {TokenKind::kComma, ","},
                             {N, "1.5e3"},
                             {TokenKind::kLParen, "("},
                             {N, ".5"},
                             {TokenKind::kRParen, ")"},
                             {W, "FROM"},
                             {W, "t"},
                             {TokenKind::kDot, "."},
                             {W, "c"},
                             {W, "WHERE"},
                             {W, "x"},
                             {O, "<="},
                             {N, "0x1F"},
                             {TokenKind::kSemicolon, ";"}};
  EXPECT_EQ(Lex("SELECT a, 1.5e3 (.5) FROM t.c WHERE x<=0x1F;", Dialect::kMysql), want);
}

TEST(RoutingLexer, MysqlStringsAndEscapes) {
  EXPECT_EQ(Lex(R"('it''s' 'a\'b' "dq\"x" x'1F' b'01' N'n')", Dialect::kMysql),
            (std::vector<Lexed>{{S, "'it''s'"},
                                {S, R"('a\'b')"},
                                {S, R"("dq\"x")"},
                                {N, "x'1F'"},
                                {N, "b'01'"},
                                {S, "N'n'"}}));
}

TEST(RoutingLexer, PostgresStringsDoNotTakeBackslashButEStringsDo) {
  // Standard conforming strings: '\' ends at the second quote.
  EXPECT_EQ(Lex(R"('a\' x)", Dialect::kPostgres), (std::vector<Lexed>{{S, R"('a\')"}, {W, "x"}}));
  EXPECT_EQ(Lex(R"(E'a\'b' x)", Dialect::kPostgres),
            (std::vector<Lexed>{{S, R"(E'a\'b')"}, {W, "x"}}));
}

TEST(RoutingLexer, DollarQuotesAndParameters) {
  EXPECT_EQ(Lex("$$a;'b$$ $fn$ x $$ y $fn$ $1 $23", Dialect::kPostgres),
            (std::vector<Lexed>{{S, "$$a;'b$$"}, {S, "$fn$ x $$ y $fn$"}, {P, "$1"}, {P, "$23"}}));
}

TEST(RoutingLexer, QuotedIdentifiersPerDialect) {
  EXPECT_EQ(Lex("`a``b` \"c\"", Dialect::kMysql),
            (std::vector<Lexed>{{Q, "`a``b`"}, {S, "\"c\""}}));
  EXPECT_EQ(Lex("\"a\"\"b\" U&\"d\"", Dialect::kPostgres),
            (std::vector<Lexed>{{Q, "\"a\"\"b\""}, {Q, "U&\"d\""}}));
}

TEST(RoutingLexer, CommentsAreSkipped) {
  EXPECT_EQ(Lex("-- c\n# h\n/* b */ a /* x */ b", Dialect::kMysql),
            (std::vector<Lexed>{{W, "a"}, {W, "b"}}));
  // '#' is an operator in PostgreSQL, and its comments nest.
  EXPECT_EQ(Lex("/* a /* b */ still */ x # y", Dialect::kPostgres),
            (std::vector<Lexed>{{W, "x"}, {O, "#"}, {W, "y"}}));
  // MySQL needs a space after "--".
  EXPECT_EQ(Lex("1--1", Dialect::kMysql),
            (std::vector<Lexed>{{N, "1"}, {O, "-"}, {O, "-"}, {N, "1"}}));
}

TEST(RoutingLexer, MysqlExecutableCommentIsCode) {
  EXPECT_EQ(
      Lex("/*!40101 SET NAMES utf8 */;", Dialect::kMysql),
      (std::vector<Lexed>{{W, "SET"}, {W, "NAMES"}, {W, "utf8"}, {TokenKind::kSemicolon, ";"}}));
  EXPECT_EQ(Lex("/*M!100101 SET x=1 */", Dialect::kMysql),
            (std::vector<Lexed>{{W, "SET"}, {W, "x"}, {O, "="}, {N, "1"}}));
  EXPECT_EQ(Lex("SELECT /*+ BKA(t) */ 1", Dialect::kMysql),
            (std::vector<Lexed>{{W, "SELECT"}, {N, "1"}}));
}

TEST(RoutingLexer, MysqlVariables) {
  EXPECT_EQ(Lex("@x @'y z' @@session.sql_mode @@autocommit a:=b", Dialect::kMysql),
            (std::vector<Lexed>{{TokenKind::kUserVar, "@x"},
                                {TokenKind::kUserVar, "@'y z'"},
                                {TokenKind::kSysVar, "@@session.sql_mode"},
                                {TokenKind::kSysVar, "@@autocommit"},
                                {W, "a"},
                                {O, ":="},
                                {W, "b"}}));
}

TEST(RoutingLexer, PlaceholdersAndPostgresOperators) {
  EXPECT_EQ(Lex("a = ? AND b::int ->> 'k' ?| c", Dialect::kPostgres),
            (std::vector<Lexed>{{W, "a"},
                                {O, "="},
                                {P, "?"},
                                {W, "AND"},
                                {W, "b"},
                                {O, "::"},
                                {W, "int"},
                                {O, "->>"},
                                {S, "'k'"},
                                {O, "?|"},
                                {W, "c"}}));
}

TEST(RoutingLexer, UnterminatedConstructsEndTheText) {
  EXPECT_EQ(Lex("SELECT 'abc", Dialect::kMysql), (std::vector<Lexed>{{W, "SELECT"}, {S, "'abc"}}));
  EXPECT_EQ(Lex("SELECT /* abc", Dialect::kPostgres), (std::vector<Lexed>{{W, "SELECT"}}));
  EXPECT_EQ(Lex("SELECT $$abc", Dialect::kPostgres),
            (std::vector<Lexed>{{W, "SELECT"}, {S, "$$abc"}}));
  EXPECT_EQ(Lex("'a\\", Dialect::kMysql), (std::vector<Lexed>{{S, "'a\\"}}));
}

TEST(RoutingLexer, SpaceBeforeAndPeek) {
  SqlLexer lx("a (b", Dialect::kMysql);
  EXPECT_FALSE(lx.Next().space_before);
  EXPECT_EQ(lx.Peek().text, "(");
  Token t = lx.Next();
  EXPECT_EQ(t.text, "(");
  EXPECT_TRUE(t.space_before);
  EXPECT_FALSE(lx.Next().space_before);
  EXPECT_EQ(lx.Next().kind, TokenKind::kEnd);
}

TEST(RoutingLexer, EqualsKeywordIgnoresCase) {
  EXPECT_TRUE(EqualsKeyword("select", "SELECT"));
  EXPECT_TRUE(EqualsKeyword("SeLeCt", "SELECT"));
  EXPECT_FALSE(EqualsKeyword("selects", "SELECT"));
}

}  // namespace
}  // namespace sluice::routing
