// The PostgreSQL shadow session's pipeline, from bytes: segments the source answered go to
// the shadow back to back, each before the one ahead of it is answered; the shadow's answers,
// read together, are attributed to their segments in order (an error mid-run is that
// segment's alone); a shadow that breaks mid-run pairs what it answered and reports the
// rest unpaired.
#include <gtest/gtest.h>

#include "proxy/pgsql/shadow.h"
#include "tests/unit/pgsql_shadow_fixture.h"

namespace sluice::pgproxy {
namespace {

class PgShadowPipelineTest : public PgShadowTest {
 protected:
  // Each of QUERIES through the source (one row each), while the shadow answers nothing;
  // returns the Queries the shadow got meanwhile.
  std::vector<std::string> ThroughTheSource(const std::vector<std::string>& queries) {
    for (const auto& q : queries) {
      h_.client().Write(Query(q));
      EXPECT_EQ(ServerUntil(0, 'Q').size(), 1u);
      h_.server(0).Write(Row({"a"}) + Complete("SELECT 1") + Ready());
      EXPECT_FALSE(ClientUntil('Z').empty());
    }
    std::vector<std::string> got;
    h_.RunUntil([&] {
      for (const Msg& m : ServerUntil(1, 'Q'))
        if (m.type == 'Q') got.push_back(m.body.substr(0, m.body.size() - 1));
      return got.size() >= queries.size();
    });
    return got;
  }
  const mirror::DigestAgg* Digest(std::string_view text) { return testing::DigestOf(*Agg(), text); }
};

TEST_F(PgShadowPipelineTest, SegmentsGoBackToBackAndTheirAnswersAreAttributedInOrder) {
  MirroredLogin();
  std::vector<std::string> qs = {"SELECT v FROM t", "SELECT w FROM u", "SELECT x FROM z"};
  // All three reach the shadow before it answered the first.
  EXPECT_EQ(ThroughTheSource(qs), qs);
  // One write of three answers: one row, an error, two rows.
  h_.server(1).Write(Row({"a"}) + Complete("SELECT 1") + Ready() +
                     Error("42P01", "relation \"u\" does not exist") + Ready() + Row({"x"}) +
                     Row({"y"}) + Complete("SELECT 2") + Ready());
  ASSERT_TRUE(h_.RunUntil([&] { return Paired(3); }));
  const mirror::DigestAgg* t = Digest("SELECT v FROM t");
  const mirror::DigestAgg* u = Digest("SELECT w FROM u");
  const mirror::DigestAgg* z = Digest("SELECT x FROM z");
  ASSERT_TRUE(t && u && z);
  EXPECT_EQ(t->shadow.errors, 0u);
  EXPECT_EQ(t->shadow.rows_returned, 1u);
  EXPECT_EQ(t->result_mismatches, 0u);
  EXPECT_EQ(u->shadow.errors, 1u);
  EXPECT_EQ(u->new_errors, 1u);
  EXPECT_EQ(u->shadow.last_error.sqlstate, "42P01");
  EXPECT_EQ(z->shadow.errors, 0u);
  EXPECT_EQ(z->shadow.rows_returned, 2u);
  EXPECT_EQ(z->result_mismatches, 1u);
  // Nothing left in flight: the next segment goes out alone and is answered.
  EXPECT_EQ(ThroughTheSource({"SELECT 4"}), std::vector<std::string>{"SELECT 4"});
  h_.server(1).Write(Row({"a"}) + Complete("SELECT 1") + Ready());
  ASSERT_TRUE(h_.RunUntil([&] { return Paired(4); }));
}

TEST_F(PgShadowPipelineTest, AShadowThatBreaksMidRunPairsWhatItAnsweredAndNotTheRest) {
  MirroredLogin();
  std::vector<std::string> qs = {"SELECT v FROM t", "SELECT w FROM u", "SELECT x FROM z"};
  EXPECT_EQ(ThroughTheSource(qs), qs);
  // The first answer and half of the second, then the connection breaks.
  h_.server(1).Write(Row({"a"}) + Complete("SELECT 1") + Ready() + Row({"a"}));
  ASSERT_TRUE(h_.RunUntil([&] { return Paired(1); }));
  h_.server(1).Close();
  ASSERT_TRUE(h_.RunUntil([&] { return Cuts(mirror::CutReason::kShadowDown) == 1; }));
  EXPECT_TRUE(Paired(1));
  EXPECT_EQ(Digest("SELECT v FROM t")->pairs, 1u);
  EXPECT_EQ(Digest("SELECT w FROM u")->unpaired, 1u);
  EXPECT_EQ(Digest("SELECT x FROM z")->unpaired, 1u);
  EXPECT_EQ(Agg()->statements, 3u);
  StillServes();  // the client never noticed
}

}  // namespace
}  // namespace sluice::pgproxy
