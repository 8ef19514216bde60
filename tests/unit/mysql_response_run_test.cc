// ResponseTracker::PassRun: runs of column definitions and rows followed from their first
// byte end where Feed alone would, with the same counts, over the captured MariaDB
// responses (both EOF modes) and hand-made edges: ERR, a split row, a sequence gap, a limit.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/mysql/constants.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/response.h"
#include "protocol/mysql/wire.h"
#include "tests/unit/mysql_response_captures.h"

namespace sluice::mysql {
namespace {

constexpr uint64_t kCaps = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |
                           CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS |
                           CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | CLIENT_SESSION_TRACK |
                           CLIENT_LOCAL_FILES;

// What a tracker says after a whole response, for comparing two ways of feeding it.
struct Seen {
  std::vector<TrackStatus> statuses;  // one per packet; a packet in a run is kMore
  uint64_t rows = 0;
  uint32_t result_sets = 0;
  bool error = false;
  uint16_t flags = 0;
  bool cursor = false;
  uint64_t run_packets = 0;
  bool operator==(const Seen&) const = default;
};

// Feeds `wire` packet by packet, or with PassRun first wherever it takes packets (runs no
// longer than `limit` bytes).
Seen Follow(uint8_t cmd, uint64_t caps, const std::string& wire, bool runs,
            size_t limit = 1 << 20) {
  ResponseTracker t;
  t.Begin(cmd, caps);
  Seen s;
  std::span<const uint8_t> in = AsBytes(wire);
  while (!in.empty()) {
    if (runs) {
      ResponseTracker::Run r = t.PassRun(in, limit);
      s.run_packets += r.packets;
      s.statuses.insert(s.statuses.end(), r.packets, TrackStatus::kMore);
      in = in.subspan(r.bytes);
      if (in.empty()) break;
    }
    PacketView p;
    size_t used = 0;
    if (DecodePacket(in, &p, &used) != DecodeStatus::kPacket) {
      ADD_FAILURE() << "a partial packet at the end";
      break;
    }
    s.statuses.push_back(t.Feed(p));
    in = in.subspan(used);
  }
  s.rows = t.rows();
  s.result_sets = t.result_sets();
  s.error = t.ended_in_error();
  s.flags = t.status_flags();
  s.cursor = t.cursor_opened();
  return s;
}

void ExpectSameBothWays(uint8_t cmd, uint64_t caps, std::string_view hex, uint64_t min_run) {
  std::string wire = FromHex(hex);
  Seen fed = Follow(cmd, caps, wire, false);
  for (size_t limit : {size_t{1}, size_t{10}, size_t{1} << 20}) {
    Seen run = Follow(cmd, caps, wire, true, limit);
    // Unbounded, every definition and row after the first packet passes in a run.
    if (limit == size_t{1} << 20) {
      EXPECT_EQ(run.run_packets, min_run) << hex;
    }
    run.run_packets = 0;
    EXPECT_EQ(run, fed) << "limit " << limit;
  }
}

TEST(MysqlResponseRun, CapturedResponsesEndAsWithFeedAlone) {
  // Legacy EOFs: the definitions pass in runs, the rows too (select_rows: 2 definitions, 3
  // rows); the EOFs and ERRs go through Feed.
  ExpectSameBothWays(COM_QUERY, kCaps, kEofSelectRows, 5);
  ExpectSameBothWays(COM_QUERY, kCaps, kEofEmptySet, 2);
  ExpectSameBothWays(COM_QUERY, kCaps, kEofMultiSelect, 4);
  ExpectSameBothWays(COM_QUERY, kCaps, kEofCallProc, 4);
  ExpectSameBothWays(COM_QUERY, kCaps, kEofErrSimple, 0);
  ExpectSameBothWays(COM_QUERY, kCaps, kEofErrMidstream, 2);
  ExpectSameBothWays(COM_QUERY, kCaps, kEofMultiErr, 2);
  ExpectSameBothWays(COM_STMT_EXECUTE, kCaps, kEofExecuteBinary, 5);
  ExpectSameBothWays(COM_STMT_EXECUTE, kCaps, kEofExecuteCursor, 2);
  ExpectSameBothWays(COM_STMT_FETCH, kCaps, kEofFetch2, 1);
  ExpectSameBothWays(COM_STMT_PREPARE, kCaps, kEofPrepareSelect, 0);
  ExpectSameBothWays(COM_FIELD_LIST, kCaps, kEofFieldList, 0);
  const uint64_t deprecate = kCaps | CLIENT_DEPRECATE_EOF;
  ExpectSameBothWays(COM_QUERY, deprecate, kNoEofSelectRows, 8);  // 6 rows by then
  ExpectSameBothWays(COM_QUERY, deprecate, kNoEofEmptySet, 2);
  ExpectSameBothWays(COM_QUERY, deprecate, kNoEofMultiSelect, 4);
  ExpectSameBothWays(COM_QUERY, deprecate, kNoEofCallProc, 4);
  ExpectSameBothWays(COM_QUERY, deprecate, kNoEofErrMidstream, 2);
  ExpectSameBothWays(COM_QUERY, deprecate, kNoEofMultiErr, 2);
  ExpectSameBothWays(COM_STMT_EXECUTE, deprecate, kNoEofExecuteBinary, 8);
  ExpectSameBothWays(COM_STMT_EXECUTE, deprecate, kNoEofExecuteCursor, 2);
  ExpectSameBothWays(COM_STMT_FETCH, deprecate, kNoEofFetch2, 1);
  ExpectSameBothWays(COM_STMT_FETCH, deprecate, kNoEofFetchRest, 3);
}

std::string Pkt(uint8_t seq, std::string_view payload) {
  std::string out;
  AppendPacket(&out, &seq, payload);
  return out;
}

const std::string kCount("\x01", 1);
const std::string kDef(
    "\x03"
    "def\x00\x00\x00\x01"
    "c\x00\x0c\x3f\x00",
    14);
const std::string kRow("\x02hi", 3);
const std::string kEnd("\xfe\x00\x00\x02\x00\x00\x00", 7);  // DEPRECATE_EOF's OK

TEST(MysqlResponseRun, StopsBeforeWhatFeedMustRead) {
  const uint64_t caps = kCaps | CLIENT_DEPRECATE_EOF;
  ResponseTracker t;
  t.Begin(COM_QUERY, caps);
  ASSERT_EQ(t.Feed({1, AsBytes(kCount)}), TrackStatus::kMore);
  std::string rows = Pkt(2, kDef) + Pkt(3, kRow) + Pkt(4, kRow);
  std::string err = Pkt(5, MakeErr(1317, "70100", "Query execution was interrupted"));
  std::string wire = rows + err;
  ResponseTracker::Run r = t.PassRun(AsBytes(wire), 1 << 20);
  EXPECT_EQ(r.bytes, rows.size());  // not the ERR
  EXPECT_EQ(r.packets, 3u);
  EXPECT_EQ(r.rows, 2u);
  EXPECT_EQ(r.last_seq, 4);
  EXPECT_EQ(t.rows(), 2u);
  // Nothing more passes: the ERR is Feed's, and ends the response.
  EXPECT_EQ(t.PassRun(AsBytes(err), 1 << 20).bytes, 0u);
  PacketView p;
  size_t used = 0;
  ASSERT_EQ(DecodePacket(AsBytes(err), &p, &used), DecodeStatus::kPacket);
  EXPECT_EQ(t.Feed(p), TrackStatus::kDone);
  EXPECT_TRUE(t.ended_in_error());
}

TEST(MysqlResponseRun, AGapAPartialPacketAndAnEmptyOneAreLeftToFeed) {
  const uint64_t caps = kCaps | CLIENT_DEPRECATE_EOF;
  ResponseTracker t;
  t.Begin(COM_QUERY, caps);
  ASSERT_EQ(t.Feed({1, AsBytes(kCount)}), TrackStatus::kMore);
  ASSERT_EQ(t.Feed({2, AsBytes(kDef)}), TrackStatus::kMore);
  std::string gap = Pkt(3, kRow) + Pkt(5, kRow);  // seq 4 is missing
  ResponseTracker::Run r = t.PassRun(AsBytes(gap), 1 << 20);
  EXPECT_EQ(r.packets, 1u);
  EXPECT_EQ(r.bytes, 7u);
  // Feed reports the gap.
  EXPECT_EQ(t.Feed({5, AsBytes(kRow)}), TrackStatus::kError);

  t.Begin(COM_QUERY, caps);
  t.Feed({1, AsBytes(kCount)});
  t.Feed({2, AsBytes(kDef)});
  std::string row = Pkt(3, kRow);
  EXPECT_EQ(t.PassRun(AsBytes(row).first(6), 1 << 20).bytes, 0u);  // not all here
  EXPECT_EQ(t.PassRun(AsBytes(row).first(3), 1 << 20).bytes, 0u);  // no whole header
  std::string empty = Pkt(3, "");
  EXPECT_EQ(t.PassRun(AsBytes(empty), 1 << 20).bytes, 0u);
  EXPECT_EQ(t.Feed({3, {}}), TrackStatus::kError);  // empty packet
}

TEST(MysqlResponseRun, ASplitRowGoesThroughFeedAndTheRowsAfterItRunAgain) {
  const uint64_t caps = kCaps | CLIENT_DEPRECATE_EOF;
  std::string big(kMaxPacketPayload + 10, 'r');
  big[0] = '\xfd';  // a 3-byte length: kMaxPacketPayload + 6
  big[1] = static_cast<char>((kMaxPacketPayload + 6) & 0xff);
  big[2] = static_cast<char>(((kMaxPacketPayload + 6) >> 8) & 0xff);
  big[3] = static_cast<char>(((kMaxPacketPayload + 6) >> 16) & 0xff);
  std::string wire = Pkt(1, kCount) + Pkt(2, kDef) + Pkt(3, kRow);
  uint8_t seq = 4;
  AppendPacket(&wire, &seq, big);  // seq 4 (0xFFFFFF bytes) and 5 (10 bytes)
  wire += Pkt(6, kRow) + Pkt(7, kEnd);
  Seen fed = Follow(COM_QUERY, caps, wire, false);
  Seen run = Follow(COM_QUERY, caps, wire, true);
  EXPECT_EQ(fed.rows, 3u);
  EXPECT_EQ(run.run_packets, 3u);  // the definition and the rows either side of the split one
  run.run_packets = 0;
  EXPECT_EQ(run, fed);
}

TEST(MysqlResponseRun, TheLimitEndsTheRunAfterThePacketThatReachesIt) {
  const uint64_t caps = kCaps | CLIENT_DEPRECATE_EOF;
  ResponseTracker t;
  t.Begin(COM_QUERY, caps);
  t.Feed({1, AsBytes(kCount)});
  t.Feed({2, AsBytes(kDef)});
  std::string wire;
  for (uint8_t s = 3; s < 13; ++s) wire += Pkt(s, kRow);  // 10 rows of 7 bytes
  ResponseTracker::Run r = t.PassRun(AsBytes(wire), 15);
  EXPECT_EQ(r.packets, 3u);  // 7, 14, 21: the third reaches 15
  EXPECT_EQ(r.bytes, 21u);
  r = t.PassRun(AsBytes(wire).subspan(21), 1 << 20);
  EXPECT_EQ(r.packets, 7u);
  EXPECT_EQ(r.last_seq, 12);
  EXPECT_EQ(t.rows(), 10u);
}

TEST(MysqlResponseRun, NothingPassesOutsideDefinitionsAndRows) {
  ResponseTracker t;
  t.Begin(COM_QUERY, kCaps);
  std::string head = Pkt(1, kCount);
  EXPECT_EQ(t.PassRun(AsBytes(head), 1 << 20).bytes, 0u);  // the first packet: Feed's
  t.Begin(COM_PING, kCaps);
  std::string ok = Pkt(1, MakeOk(0, 0, SERVER_STATUS_AUTOCOMMIT, 0, kCaps));
  t.Feed({1, AsBytes(ok).subspan(4)});
  EXPECT_EQ(t.PassRun(AsBytes(Pkt(2, kRow)), 1 << 20).bytes, 0u);  // after the end
}

}  // namespace
}  // namespace sluice::mysql
