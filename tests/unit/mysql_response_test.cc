// ResponseTracker over responses captured from a real MariaDB 10.11.19 (Debian 12), with and
// without CLIENT_DEPRECATE_EOF, plus hand-made edge cases (split rows, malformed packets).
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

constexpr uint64_t kBaseCaps = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |
                               CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS |
                               CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | CLIENT_SESSION_TRACK |
                               CLIENT_LOCAL_FILES;
constexpr uint64_t kLegacy = kBaseCaps;
constexpr uint64_t kDeprecateEof = kBaseCaps | CLIENT_DEPRECATE_EOF;

// Feeds every packet of `hex` and returns the statuses, one per packet.
struct Fed {
  std::vector<TrackStatus> statuses;
  TrackStatus last() const { return statuses.empty() ? TrackStatus::kMore : statuses.back(); }
  size_t done_at() const {
    for (size_t i = 0; i < statuses.size(); ++i) {
      if (statuses[i] == TrackStatus::kDone) return i;
    }
    return statuses.size();
  }
};

Fed FeedHex(ResponseTracker* t, std::string_view hex) {
  std::string wire = FromHex(hex);
  std::span<const uint8_t> in = AsBytes(wire);
  Fed run;
  PacketView p;
  size_t used = 0;
  while (DecodePacket(in, &p, &used) == DecodeStatus::kPacket) {
    run.statuses.push_back(t->Feed(p));
    in = in.subspan(used);
  }
  EXPECT_TRUE(in.empty());
  return run;
}

Fed Track(ResponseTracker* t, uint8_t cmd, uint64_t caps, std::string_view hex) {
  t->Begin(cmd, caps);
  return FeedHex(t, hex);
}

// The response ends exactly at its last packet: kMore before, kDone on it.
void ExpectEndsAtLast(const Fed& run) {
  ASSERT_FALSE(run.statuses.empty());
  for (size_t i = 0; i + 1 < run.statuses.size(); ++i) {
    EXPECT_EQ(run.statuses[i], TrackStatus::kMore) << "packet " << i;
  }
  EXPECT_EQ(run.last(), TrackStatus::kDone);
}

TEST(MysqlResponse, TextResultSetBothEofModes) {
  ResponseTracker t;
  Fed a = Track(&t, COM_QUERY, kLegacy, kEofSelectRows);
  ExpectEndsAtLast(a);
  EXPECT_EQ(a.statuses.size(), 8u);
  EXPECT_EQ(t.rows(), 3u);
  EXPECT_EQ(t.result_sets(), 1u);
  EXPECT_FALSE(t.ended_in_error());
  ASSERT_TRUE(t.has_status_flags());
  EXPECT_EQ(t.status_flags(), SERVER_STATUS_AUTOCOMMIT | SERVER_QUERY_NO_INDEX_USED);

  Fed b = Track(&t, COM_QUERY, kDeprecateEof, kNoEofSelectRows);
  ExpectEndsAtLast(b);
  EXPECT_EQ(t.rows(), 6u);  // the second session ran after three more inserts
  EXPECT_EQ(t.status_flags(), SERVER_STATUS_AUTOCOMMIT | SERVER_QUERY_NO_INDEX_USED);
}

TEST(MysqlResponse, WrongEofModeIsNoticed) {
  // Tracking a DEPRECATE_EOF response as if EOFs were sent cannot end cleanly.
  ResponseTracker t;
  Fed r = Track(&t, COM_QUERY, kLegacy, kNoEofSelectRows);
  EXPECT_NE(r.last(), TrackStatus::kDone);
}

TEST(MysqlResponse, EmptySet) {
  ResponseTracker t;
  ExpectEndsAtLast(Track(&t, COM_QUERY, kLegacy, kEofEmptySet));
  EXPECT_EQ(t.rows(), 0u);
  EXPECT_EQ(t.result_sets(), 1u);
  ExpectEndsAtLast(Track(&t, COM_QUERY, kDeprecateEof, kNoEofEmptySet));
  EXPECT_EQ(t.rows(), 0u);
}

TEST(MysqlResponse, ErrorAlone) {
  ResponseTracker t;
  for (auto [caps, hex] : {std::pair{kLegacy, kEofErrSimple}, {kDeprecateEof, kNoEofErrSimple}}) {
    ExpectEndsAtLast(Track(&t, COM_QUERY, caps, hex));
    ASSERT_TRUE(t.ended_in_error());
    EXPECT_EQ(t.error().code, 1146);
    EXPECT_EQ(t.error().sql_state, "42S02");
    EXPECT_EQ(t.error().message, "Table 't.nosuch' doesn't exist");
    EXPECT_FALSE(t.has_status_flags());
  }
}

TEST(MysqlResponse, ErrorMidStream) {
  ResponseTracker t;
  for (auto [caps, hex] :
       {std::pair{kLegacy, kEofErrMidstream}, {kDeprecateEof, kNoEofErrMidstream}}) {
    ExpectEndsAtLast(Track(&t, COM_QUERY, caps, hex));
    ASSERT_TRUE(t.ended_in_error());
    EXPECT_EQ(t.error().code, 1242);
    EXPECT_EQ(t.error().sql_state, "21000");
  }
}

TEST(MysqlResponse, MultiStatementResults) {
  ResponseTracker t;
  Fed a = Track(&t, COM_QUERY, kLegacy, kEofMultiSelect);
  ExpectEndsAtLast(a);
  EXPECT_EQ(a.statuses.size(), 10u);
  EXPECT_EQ(t.result_sets(), 2u);
  EXPECT_EQ(t.rows(), 2u);
  EXPECT_FALSE(t.status_flags() & SERVER_MORE_RESULTS_EXISTS);

  ExpectEndsAtLast(Track(&t, COM_QUERY, kDeprecateEof, kNoEofMultiSelect));
  EXPECT_EQ(t.result_sets(), 2u);
  EXPECT_EQ(t.rows(), 2u);
}

TEST(MysqlResponse, CallEndsWithTrailingOk) {
  ResponseTracker t;
  for (auto [caps, hex] : {std::pair{kLegacy, kEofCallProc}, {kDeprecateEof, kNoEofCallProc}}) {
    Fed r = Track(&t, COM_QUERY, caps, hex);
    ExpectEndsAtLast(r);
    EXPECT_EQ(t.result_sets(), 2u);
    EXPECT_EQ(t.rows(), 2u);
    EXPECT_EQ(t.status_flags(), SERVER_STATUS_AUTOCOMMIT);
  }
}

TEST(MysqlResponse, MultiStatementStopsAtError) {
  ResponseTracker t;
  for (auto [caps, hex] : {std::pair{kLegacy, kEofMultiErr}, {kDeprecateEof, kNoEofMultiErr}}) {
    ExpectEndsAtLast(Track(&t, COM_QUERY, caps, hex));
    EXPECT_TRUE(t.ended_in_error());
    EXPECT_EQ(t.error().code, 1146);
    EXPECT_EQ(t.result_sets(), 1u);
    EXPECT_EQ(t.rows(), 1u);
  }
}

TEST(MysqlResponse, OkPacketsCarryTransactionStateAndIds) {
  ResponseTracker t;
  ExpectEndsAtLast(Track(&t, COM_QUERY, kLegacy, kEofBegin));
  EXPECT_TRUE(t.in_transaction());
  ExpectEndsAtLast(Track(&t, COM_QUERY, kLegacy, kEofInsert));
  EXPECT_TRUE(t.in_transaction());
  EXPECT_EQ(t.affected_rows(), 1u);
  EXPECT_EQ(t.last_insert_id(), 4u);
  EXPECT_EQ(t.result_sets(), 0u);
  ExpectEndsAtLast(Track(&t, COM_QUERY, kLegacy, kEofSetAutocommit));
  EXPECT_FALSE(t.in_transaction());
  EXPECT_EQ(t.session_state_changes(), std::string("\x00\x0e\x0a"
                                                   "autocommit\x02ON",
                                                   16));
}

TEST(MysqlResponse, PrepareBothEofModes) {
  ResponseTracker t;
  Fed a = Track(&t, COM_STMT_PREPARE, kLegacy, kEofPrepareSelect);
  ExpectEndsAtLast(a);
  EXPECT_EQ(a.statuses.size(), 6u);
  EXPECT_EQ(t.prepare_ok().statement_id, 1u);
  EXPECT_EQ(t.prepare_ok().num_columns, 2);
  EXPECT_EQ(t.prepare_ok().num_params, 1);

  Fed b = Track(&t, COM_STMT_PREPARE, kDeprecateEof, kNoEofPrepareSelect);
  ExpectEndsAtLast(b);
  EXPECT_EQ(b.statuses.size(), 4u);
  EXPECT_EQ(t.prepare_ok().statement_id, 4u);

  // Parameters only / columns only.
  ExpectEndsAtLast(Track(&t, COM_STMT_PREPARE, kLegacy, kEofPrepareInsert));
  EXPECT_EQ(t.prepare_ok().num_params, 1);
  EXPECT_EQ(t.prepare_ok().num_columns, 0);
  ExpectEndsAtLast(Track(&t, COM_STMT_PREPARE, kDeprecateEof, kNoEofPrepareInsert));
  ExpectEndsAtLast(Track(&t, COM_STMT_PREPARE, kLegacy, kEofPrepareNoparam));
  EXPECT_EQ(t.prepare_ok().num_params, 0);
  EXPECT_EQ(t.prepare_ok().num_columns, 1);
  ExpectEndsAtLast(Track(&t, COM_STMT_PREPARE, kDeprecateEof, kNoEofPrepareNoparam));
}

TEST(MysqlResponse, ExecuteBinaryResultSet) {
  ResponseTracker t;
  ExpectEndsAtLast(Track(&t, COM_STMT_EXECUTE, kLegacy, kEofExecuteBinary));
  EXPECT_EQ(t.rows(), 3u);
  EXPECT_FALSE(t.cursor_opened());
  ExpectEndsAtLast(Track(&t, COM_STMT_EXECUTE, kDeprecateEof, kNoEofExecuteBinary));
  EXPECT_EQ(t.rows(), 6u);
  ExpectEndsAtLast(Track(&t, COM_STMT_EXECUTE, kLegacy, kEofExecuteInsert));
  EXPECT_EQ(t.affected_rows(), 1u);
  EXPECT_EQ(t.last_insert_id(), 5u);
}

TEST(MysqlResponse, CursorThenFetch) {
  for (auto [caps, exec, f2, rest, rest_rows] :
       {std::tuple{kLegacy, kEofExecuteCursor, kEofFetch2, kEofFetchRest, 1u},
        {kDeprecateEof, kNoEofExecuteCursor, kNoEofFetch2, kNoEofFetchRest, 4u}}) {
    ResponseTracker t;
    ExpectEndsAtLast(Track(&t, COM_STMT_EXECUTE, caps, exec));
    EXPECT_TRUE(t.cursor_opened());
    EXPECT_EQ(t.rows(), 0u);
    EXPECT_TRUE(t.status_flags() & SERVER_STATUS_CURSOR_EXISTS);

    ExpectEndsAtLast(Track(&t, COM_STMT_FETCH, caps, f2));
    EXPECT_EQ(t.rows(), 2u);
    EXPECT_FALSE(t.status_flags() & SERVER_STATUS_LAST_ROW_SENT);

    ExpectEndsAtLast(Track(&t, COM_STMT_FETCH, caps, rest));
    EXPECT_EQ(t.rows(), rest_rows);
    EXPECT_TRUE(t.status_flags() & SERVER_STATUS_LAST_ROW_SENT);
  }
}

TEST(MysqlResponse, LocalInfile) {
  for (auto [caps, req, fin] : {std::tuple{kLegacy, kEofInfileRequest, kEofInfileFinal},
                                {kDeprecateEof, kNoEofInfileRequest, kNoEofInfileFinal}}) {
    ResponseTracker t;
    Fed r = Track(&t, COM_QUERY, caps, req);
    ASSERT_EQ(r.statuses.size(), 1u);
    EXPECT_EQ(r.last(), TrackStatus::kLocalInfileRequest);
    EXPECT_EQ(t.local_infile_name(), "x.txt");
    EXPECT_FALSE(t.done());
    // The client's two packets (seq 2, 3) went by; the server's OK comes with seq 4.
    Fed f = FeedHex(&t, fin);
    ExpectEndsAtLast(f);
    EXPECT_EQ(t.affected_rows(), 2u);
  }
}

TEST(MysqlResponse, SimpleCommands) {
  ResponseTracker t;
  for (uint64_t caps : {kLegacy, kDeprecateEof}) {
    bool dep = caps == kDeprecateEof;
    ExpectEndsAtLast(Track(&t, COM_PING, caps, dep ? kNoEofPing : kEofPing));
    ExpectEndsAtLast(Track(&t, COM_STATISTICS, caps, dep ? kNoEofStatistics : kEofStatistics));
    Fed fl = Track(&t, COM_FIELD_LIST, caps, dep ? kNoEofFieldList : kEofFieldList);
    ExpectEndsAtLast(fl);
    EXPECT_EQ(fl.statuses.size(), 3u);
    ExpectEndsAtLast(Track(&t, COM_INIT_DB, caps, dep ? kNoEofInitDbBad : kEofInitDbBad));
    EXPECT_EQ(t.error().code, ER_BAD_DB_ERROR.code);
    ExpectEndsAtLast(Track(&t, COM_SET_OPTION, caps, dep ? kNoEofSetOptionOn : kEofSetOptionOn));
    EXPECT_EQ(t.status_flags(), SERVER_STATUS_AUTOCOMMIT);
    ExpectEndsAtLast(
        Track(&t, COM_RESET_CONNECTION, caps, dep ? kNoEofResetConnection : kEofResetConnection));
    ExpectEndsAtLast(Track(&t, 0x30, caps, dep ? kNoEofUnknownCom : kEofUnknownCom));
    EXPECT_EQ(t.error().code, ER_UNKNOWN_COM_ERROR.code);
  }
}

TEST(MysqlResponse, CommandsWithoutResponse) {
  EXPECT_FALSE(CommandExpectsResponse(COM_QUIT));
  EXPECT_FALSE(CommandExpectsResponse(COM_STMT_CLOSE));
  EXPECT_FALSE(CommandExpectsResponse(COM_STMT_SEND_LONG_DATA));
  EXPECT_TRUE(CommandExpectsResponse(COM_QUERY));
  EXPECT_TRUE(CommandExpectsResponse(COM_STMT_RESET));
  ResponseTracker t;
  t.Begin(COM_STMT_CLOSE, kLegacy);
  EXPECT_TRUE(t.done());
  std::string ok("\x00\x00\x00\x02\x00\x00\x00", 7);
  EXPECT_EQ(t.Feed(PacketView{1, AsBytes(ok)}), TrackStatus::kError);
}

TEST(MysqlResponse, SplitRowIsOneRowEvenIfItsTailLooksLikeEof) {
  ResponseTracker t;
  t.Begin(COM_QUERY, kDeprecateEof);
  std::string count("\x01"), coldef(
                                 "\x03"
                                 "def\x00\x00\x00\x01"
                                 "c\x00\x0c\x3f\x00",
                                 14);
  std::string head(kMaxPacketPayload, 'r');
  head[0] = '\xfd';  // a 3-byte length prefix, value below
  head[1] = '\xff';
  head[2] = '\xff';
  head[3] = '\xff';
  std::string tail("\xfe\x00\x00\x02\x00", 5);  // row bytes that happen to look like an EOF
  std::string end("\xfe\x00\x00\x02\x00\x00\x00", 7);
  uint8_t seq = 1;
  EXPECT_EQ(t.Feed({seq++, AsBytes(count)}), TrackStatus::kMore);
  EXPECT_EQ(t.Feed({seq++, AsBytes(coldef)}), TrackStatus::kMore);
  EXPECT_EQ(t.Feed({seq++, AsBytes(head)}), TrackStatus::kMore);
  EXPECT_EQ(t.Feed({seq++, AsBytes(tail)}), TrackStatus::kMore);
  EXPECT_EQ(t.Feed({seq++, AsBytes(end)}), TrackStatus::kDone);
  EXPECT_EQ(t.rows(), 1u);
}

TEST(MysqlResponse, MalformedInputsAreErrors) {
  ResponseTracker t;
  std::string zero_cols("\x00", 1);
  t.Begin(COM_QUERY, kLegacy);
  EXPECT_EQ(t.Feed({1, AsBytes(zero_cols)}), TrackStatus::kError);  // an OK this short

  std::string bad_count("\xfc\x01", 2);
  t.Begin(COM_QUERY, kLegacy);
  EXPECT_EQ(t.Feed({1, AsBytes(bad_count)}), TrackStatus::kError);

  std::string empty;
  t.Begin(COM_PING, kLegacy);
  EXPECT_EQ(t.Feed({1, AsBytes(empty)}), TrackStatus::kError);

  std::string truncated_err("\xff\x01", 2);
  t.Begin(COM_QUERY, kLegacy);
  EXPECT_EQ(t.Feed({1, AsBytes(truncated_err)}), TrackStatus::kError);

  // A row where the metadata EOF must be.
  std::string one("\x01"),
      coldef(
          "\x03"
          "def",
          4),
      row("\x01"
          "1",
          2);
  t.Begin(COM_QUERY, kLegacy);
  EXPECT_EQ(t.Feed({1, AsBytes(one)}), TrackStatus::kMore);
  EXPECT_EQ(t.Feed({2, AsBytes(coldef)}), TrackStatus::kMore);
  EXPECT_EQ(t.Feed({3, AsBytes(row)}), TrackStatus::kError);
  EXPECT_FALSE(t.error_reason().empty());

  // Sequence ids must follow each other.
  t.Begin(COM_QUERY, kLegacy);
  EXPECT_EQ(t.Feed({1, AsBytes(one)}), TrackStatus::kMore);
  EXPECT_EQ(t.Feed({3, AsBytes(coldef)}), TrackStatus::kError);

  // Nothing may follow the end.
  std::string ok("\x00\x00\x00\x02\x00\x00\x00", 7);
  t.Begin(COM_PING, kLegacy);
  EXPECT_EQ(t.Feed({1, AsBytes(ok)}), TrackStatus::kDone);
  EXPECT_EQ(t.Feed({2, AsBytes(ok)}), TrackStatus::kError);
}

TEST(MysqlResponse, MariaDbProgressReportsAreSkipped) {
  ResponseTracker t;
  t.Begin(COM_QUERY, kLegacy | MARIADB_CLIENT_PROGRESS);
  std::string progress("\xff\xff\xff\x01\x01\x01\x10\x27\x00\x00\x00", 11);
  std::string ok("\x00\x00\x00\x02\x00\x00\x00", 7);
  EXPECT_EQ(t.Feed({1, AsBytes(progress)}), TrackStatus::kMore);
  EXPECT_EQ(t.Feed({2, AsBytes(ok)}), TrackStatus::kDone);
  EXPECT_FALSE(t.ended_in_error());
}

}  // namespace
}  // namespace sluice::mysql
