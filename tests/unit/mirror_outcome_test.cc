// Outcomes: the result checksum (unordered and ordered), ORDER BY detection, the findings of
// a pair, and the pairing of both sides by sequence number.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mirror/outcome.h"

namespace sluice::mirror {
namespace {

using Rows = std::vector<std::vector<std::string>>;

uint64_t Sum(const Rows& rows, bool ordered) {
  ResultChecksum c(ordered);
  for (const auto& r : rows) {
    for (const auto& f : r) {
      if (f == "NULL")
        c.AddNull();
      else
        c.AddField(f);
    }
    c.EndRow();
  }
  return c.Value();
}

TEST(ResultChecksumTest, UnorderedIgnoresRowOrderButNotContent) {
  Rows a = {{"1", "x"}, {"2", "y"}, {"3", "z"}, {"2", "y"}};
  Rows b = a;
  std::reverse(b.begin(), b.end());
  EXPECT_EQ(Sum(a, false), Sum(b, false));
  Rows changed = a;
  changed[1][1] = "Y";
  EXPECT_NE(Sum(a, false), Sum(changed, false));
  Rows dup_removed = {{"1", "x"}, {"2", "y"}, {"3", "z"}};
  EXPECT_NE(Sum(a, false), Sum(dup_removed, false));  // duplicates count (no XOR cancelling)
  Rows twice = {{"2", "y"}, {"2", "y"}};
  Rows none;
  EXPECT_NE(Sum(twice, false), Sum(none, false));
}

TEST(ResultChecksumTest, OrderedSeesTheOrder) {
  Rows a = {{"1"}, {"2"}, {"3"}};
  Rows b = {{"3"}, {"2"}, {"1"}};
  EXPECT_NE(Sum(a, true), Sum(b, true));
  EXPECT_EQ(Sum(a, true), Sum(Rows(a), true));
}

TEST(ResultChecksumTest, FieldBoundariesAndNullsMatter) {
  EXPECT_NE(Sum({{"ab", "c"}}, false), Sum({{"a", "bc"}}, false));
  EXPECT_NE(Sum({{"NULL"}}, false), Sum({{""}}, false));
  EXPECT_NE(Sum({{"1", "2"}}, false), Sum({{"1"}, {"2"}}, false));
  ResultChecksum empty;
  EXPECT_EQ(empty.rows(), 0u);
  EXPECT_EQ(empty.Value(), ResultChecksum().Value());
}

TEST(HasOrderByTest, TopLevelOnly) {
  EXPECT_TRUE(HasOrderBy("SELECT c FROM t WHERE id = ? ORDER BY c"));
  EXPECT_TRUE(HasOrderBy("select c from t order  by c limit ?"));
  EXPECT_FALSE(HasOrderBy("SELECT c FROM t WHERE id BETWEEN ? AND ?"));
  EXPECT_FALSE(HasOrderBy("SELECT * FROM (SELECT c FROM t ORDER BY c LIMIT ?) x"));
  EXPECT_FALSE(HasOrderBy("SELECT 'order by' FROM t"));
  EXPECT_FALSE(HasOrderBy("SELECT a FROM t ORDER BY a UNION SELECT b FROM u"));
  EXPECT_FALSE(HasOrderBy("SELECT reorder, by_x FROM t"));
  EXPECT_TRUE(HasOrderBy("(SELECT a FROM t) UNION (SELECT b FROM u) ORDER BY 1"));
}

Outcome Make(Side side, uint64_t seq, bool read, bool ok = true, uint64_t checksum = 1) {
  Outcome o;
  o.mirror = "m";
  o.side = side;
  o.seq = seq;
  o.read = read;
  o.ok = ok;
  o.checksum = checksum;
  if (!ok) o.error = {1054, "42S22", "Unknown column 'k' in 'field list'"};
  return o;
}

TEST(CompareTest, DecidesOnThePair) {
  // A shadow error the source did not have.
  PairFindings f = Compare({Make(Side::kSource, 1, false), Make(Side::kShadow, 1, false, false)});
  EXPECT_TRUE(f.new_error);
  // The same error on both sides is not new.
  f = Compare({Make(Side::kSource, 1, false, false), Make(Side::kShadow, 1, false, false)});
  EXPECT_FALSE(f.new_error);
  // A different error is.
  OutcomePair p{Make(Side::kSource, 1, false, false), Make(Side::kShadow, 1, false, false)};
  p.shadow->error = {1146, "42S02", "Table 't' doesn't exist"};
  EXPECT_TRUE(Compare(p).new_error);
  // An error only on the source is no finding against the shadow.
  f = Compare({Make(Side::kSource, 1, false, false), Make(Side::kShadow, 1, false)});
  EXPECT_FALSE(f.new_error);
  // Different checksums count only for reads.
  f = Compare({Make(Side::kSource, 1, true, true, 1), Make(Side::kShadow, 1, true, true, 2)});
  EXPECT_TRUE(f.result_mismatch);
  f = Compare({Make(Side::kSource, 1, false, true, 1), Make(Side::kShadow, 1, false, true, 2)});
  EXPECT_FALSE(f.result_mismatch);
  // Unpaired: nothing to decide.
  f = Compare({Make(Side::kSource, 1, true), std::nullopt});
  EXPECT_FALSE(f.new_error || f.result_mismatch || f.row_count_differs);
  // A write that touched other rows.
  OutcomePair w{Make(Side::kSource, 1, false), Make(Side::kShadow, 1, false)};
  w.source.rows_affected = 3;
  w.shadow->rows_affected = 2;
  EXPECT_TRUE(Compare(w).row_count_differs);
  EXPECT_FALSE(Compare(w).result_mismatch);
}

TEST(OutcomePairerTest, PairsBySequenceAndBoundsThePending) {
  OutcomePairer p(3);
  std::deque<OutcomePair> unpaired;
  EXPECT_FALSE(p.AddSource(Make(Side::kSource, 1, true)));
  EXPECT_FALSE(p.AddSource(Make(Side::kSource, 2, true)));
  auto one = p.AddShadow(Make(Side::kShadow, 1, true), &unpaired);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->source.seq, 1u);
  EXPECT_EQ(one->shadow->seq, 1u);
  EXPECT_EQ(one->shadow->side, Side::kShadow);
  EXPECT_FALSE(p.AddSource(Make(Side::kSource, 3, true)));
  EXPECT_FALSE(p.AddSource(Make(Side::kSource, 4, true)));
  auto over = p.AddSource(Make(Side::kSource, 5, true));  // 4 pending > 3
  ASSERT_TRUE(over);
  EXPECT_EQ(over->source.seq, 2u);
  EXPECT_FALSE(over->shadow);
  // The shadow answers 4: 3 is handed back unpaired (skipped), 4 pairs.
  auto four = p.AddShadow(Make(Side::kShadow, 4, true), &unpaired);
  ASSERT_TRUE(four);
  EXPECT_EQ(four->source.seq, 4u);
  ASSERT_EQ(unpaired.size(), 1u);
  EXPECT_EQ(unpaired[0].source.seq, 3u);
  // A shadow outcome nobody waits for.
  EXPECT_FALSE(p.AddShadow(Make(Side::kShadow, 2, true), &unpaired));
  auto cut = p.Cut();
  ASSERT_EQ(cut.size(), 1u);
  EXPECT_EQ(cut[0].source.seq, 5u);
  EXPECT_EQ(p.pending(), 0u);
}

}  // namespace
}  // namespace sluice::mirror
