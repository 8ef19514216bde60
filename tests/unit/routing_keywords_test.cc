// LookupKeyword: every keyword in any case finds itself, and nothing else finds one.
#include "routing/keywords.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace sluice::routing {
namespace {

TEST(KeywordsTest, EveryKeywordFindsItselfInAnyCase) {
  int n = 0;
#define SLUICE_KW_CHECK(e, s, f)                                  \
  {                                                               \
    std::string lower(s);                                         \
    for (char& c : lower) c = static_cast<char>(std::tolower(c)); \
    EXPECT_EQ(LookupKeyword(s), Kw::k##e) << s;                   \
    EXPECT_EQ(LookupKeyword(lower), Kw::k##e) << lower;           \
    EXPECT_EQ(KeywordText(Kw::k##e), std::string_view(s));        \
    EXPECT_EQ(KeywordFlags(Kw::k##e), f);                         \
    ++n;                                                          \
  }
  SLUICE_KEYWORDS(SLUICE_KW_CHECK)
#undef SLUICE_KW_CHECK
  EXPECT_GT(n, 180);
}

TEST(KeywordsTest, OtherWordsAreNone) {
  for (std::string_view w : {"", "SELEC", "SELECTS", "pgbench_accounts", "aid", "abalance", "X",
                             "ZONES", "SQL_CALC_FOUND_ROWS_", "sbtest1", "k", "c", "id"})
    EXPECT_EQ(LookupKeyword(w), Kw::kNone) << w;
  EXPECT_EQ(LookupKeyword(std::string(300, 'A')), Kw::kNone);
  EXPECT_EQ(LookupKeyword("sElEcT"), Kw::kSelect);
}

}  // namespace
}  // namespace sluice::routing
