// The shared result forwarder (proxy/result_forwarder.h) driven from bytes with each
// protocol's framing: a pipelined batch, an error mid-stream, a result larger than the
// client's watermark, and a backend that stops mid-result. The session is a scripted
// Callbacks; the client is one end of an in-memory pair that the test reads (or not).
#include "proxy/result_forwarder.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/mysql/constants.h"
#include "protocol/mysql/messages.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/response.h"
#include "protocol/pgsql/backend.h"
#include "proxy/mysql/result_framing.h"
#include "proxy/pgsql/result_framing.h"

namespace sluice {
namespace {

using Outcome = ResultForwarder::Outcome;
using Step = ResultFraming::Step;

constexpr uint64_t kCaps = mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_TRANSACTIONS |
                           mysql::CLIENT_MULTI_RESULTS | mysql::CLIENT_DEPRECATE_EOF;

std::string Packet(uint8_t seq, std::string_view payload) {
  std::string out;
  mysql::AppendPacket(&out, &seq, payload);
  return out;
}

// The column count and definition of a one-column (BLOB `b`) text result.
std::string MysqlHead(uint8_t* seq) {
  std::string def = std::string("\x03") + "def" + std::string(4, '\0') + '\x01' + "b" +
                    std::string(1, '\0') + "\x0c" + std::string("\x21\x00", 2) +
                    std::string("\xff\xff\xff\x00", 4) + "\xfc" + std::string(2, '\0') + '\0' +
                    std::string(2, '\0');
  std::string out = Packet((*seq)++, std::string("\x01", 1));
  out += Packet((*seq)++, def);
  return out;
}

// A text result of one column and `rows` rows of `row_bytes` each, DEPRECATE_EOF's end.
std::string MysqlResult(int rows, size_t row_bytes, uint8_t* seq) {
  std::string out = MysqlHead(seq);
  std::string row = "\xfc" + std::string(1, static_cast<char>(row_bytes & 0xff)) +
                    std::string(1, static_cast<char>(row_bytes >> 8)) + std::string(row_bytes, 'r');
  for (int i = 0; i < rows; ++i) out += Packet((*seq)++, row);
  out += Packet((*seq)++, std::string("\xfe\x00\x00\x02\x00\x00\x00", 7));
  return out;
}

std::string PgMsg(char type, std::string_view body) {
  std::string out(1, type);
  uint32_t len = static_cast<uint32_t>(body.size() + 4);
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((len >> shift) & 0xff);
  out += body;
  return out;
}

std::string PgRow(size_t bytes) {
  std::string body("\x00\x01", 2);
  uint32_t n = static_cast<uint32_t>(bytes);
  for (int shift = 24; shift >= 0; shift -= 8) body += static_cast<char>((n >> shift) & 0xff);
  return PgMsg('D', body + std::string(bytes, 'v'));
}

// T, n DataRows, CommandComplete, ReadyForQuery.
std::string PgSegment(int rows, char status = 'I') {
  std::string out = PgMsg('T', std::string("\x00\x01", 2) + "v" + std::string(19, '\0'));
  for (int i = 0; i < rows; ++i) out += PgRow(8);
  out += PgMsg('C', std::string("SELECT ") + std::to_string(rows) + '\0');
  out += PgMsg('Z', std::string(1, status));
  return out;
}

// The client's end and the backend's input; the session is the test.
class ForwarderTest : public ::testing::Test, public ClientConn::Callbacks {
 protected:
  ForwarderTest() : base_(event_base_new()), in_(evbuffer_new()) {
    bufferevent* pair[2];
    bufferevent_pair_new(base_, 0, pair);
    peer_ = pair[1];
    client_ = std::make_unique<ClientConn>(pair[0], this, 0);
  }
  ~ForwarderTest() override {
    client_.reset();
    bufferevent_free(peer_);
    evbuffer_free(in_);
    event_base_free(base_);
  }
  void OnClientReadable() override {}
  void OnClientDrained() override {}
  void OnClientGone() override {}

  // The backend sends bytes; each call lands in a chain of its own, as separate reads do.
  void ServerSends(const std::string& bytes) {
    evbuffer* b = evbuffer_new();
    evbuffer_add(b, bytes.data(), bytes.size());
    evbuffer_add_buffer(in_, b);
    evbuffer_free(b);
  }
  // What the forwarder queued to the client so far, taken off (the client read it). A
  // bufferevent's output is frozen at the front for its users: thawed for the read.
  std::string ClientTakes() {
    evbuffer* out = client_->output();
    std::string s(evbuffer_get_length(out), '\0');
    evbuffer_unfreeze(out, 1);
    int n = evbuffer_remove(out, s.data(), s.size());
    evbuffer_freeze(out, 1);
    s.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return s;
  }
  size_t Queued() const { return evbuffer_get_length(client_->output()); }
  size_t Left() const { return evbuffer_get_length(in_); }

  event_base* base_;
  evbuffer* in_;
  bufferevent* peer_;
  std::unique_ptr<ClientConn> client_;
};

// What both scripted sessions record of the forwarder's requests.
class Script : public ResultForwarder::Callbacks {
 public:
  void AllowFrame(size_t total) override { allowed.push_back(total); }
  void PauseBackendRead() override { ++paused; }
  std::vector<size_t> allowed;
  int paused = 0;
};

// A MySQL session as the forwarder sees it: every packet passes; a malformed one is taken
// (the session fails the backend); PREPARE_OK-style rewriting is the session's own test.
class MysqlScript final : public Script {
 public:
  ResultForwarder::Verdict OnFrame(const Frame& f, Step step, std::span<const uint8_t>) override {
    seqs.push_back(f.seq);
    return step == Step::kBad ? ResultForwarder::Verdict::kTake : ResultForwarder::Verdict::kPass;
  }
  ResultForwarder::Next TakeFrame(const Frame&, Step, std::span<const uint8_t>) override {
    ++failed;
    return ResultForwarder::Next::kGone;
  }
  std::vector<uint8_t> seqs;
  int failed = 0;
};

class MysqlForwarderTest : public ForwarderTest {
 protected:
  void Command(uint8_t code = mysql::COM_QUERY, uint64_t caps = kCaps) {
    tracker_.Begin(code, caps);
    framing_.Begin();
    fwd_.Begin();
  }
  // The backend's input emptied (between two deliveries of the same response).
  void Reset() { evbuffer_drain(in_, Left()); }
  mysql::ResponseTracker tracker_;
  mysqlproxy::MysqlFraming framing_{&tracker_};
  MysqlScript script_;
  ResultForwarder fwd_{&framing_, &script_, client_.get()};
};

TEST_F(MysqlForwarderTest, PipelinedResultsEndOneAtATime) {
  uint8_t seq = 1;
  std::string first = MysqlResult(3, 10, &seq);
  std::string second = Packet(1, mysql::MakeOk(1, 0, mysql::SERVER_STATUS_AUTOCOMMIT, 0, kCaps));
  ServerSends(first + second);
  Command();
  EXPECT_FALSE(fwd_.started());
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kEnded);
  EXPECT_EQ(ClientTakes(), first);  // the next command's answer stays at the backend
  EXPECT_EQ(Left(), second.size());
  EXPECT_TRUE(fwd_.started());
  EXPECT_EQ(fwd_.rows(), 3u);
  EXPECT_EQ(fwd_.bytes(), first.size());
  EXPECT_EQ(framing_.last_seq(), seq - 1);
  Command();
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kEnded);
  EXPECT_EQ(ClientTakes(), second);
  EXPECT_EQ(tracker_.affected_rows(), 1u);
  EXPECT_EQ(fwd_.rows(), 0u);
}

TEST_F(MysqlForwarderTest, ServerErrorMidResultEndsIt) {
  uint8_t seq = 1;
  std::string rows = MysqlResult(2, 10, &seq);
  rows.resize(rows.size() - 11);  // without its final EOF-OK packet (4 + 7 bytes)
  --seq;
  std::string err = Packet(seq, mysql::MakeErr(1317, "70100", "Query execution was interrupted"));
  ServerSends(rows + err);
  Command();
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kEnded);
  EXPECT_EQ(ClientTakes(), rows + err);
  EXPECT_TRUE(tracker_.ended_in_error());
  EXPECT_EQ(fwd_.rows(), 2u);
}

TEST_F(MysqlForwarderTest, AMalformedPacketStopsAfterTheWholeOnes) {
  // An OK that says more results follow, then a result whose column count is 0: the packets
  // before it go, then the session fails the backend.
  std::string head = Packet(
      1, mysql::MakeOk(0, 0, mysql::SERVER_STATUS_AUTOCOMMIT | mysql::SERVER_MORE_RESULTS_EXISTS, 0,
                       kCaps));
  std::string bad = Packet(2, std::string("\xfc\x00\x00", 3));
  ServerSends(head + bad);
  Command();
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kStopped);
  EXPECT_EQ(script_.failed, 1);
  EXPECT_EQ(ClientTakes(), head);
  EXPECT_EQ(framing_.last_seq(), 1);  // an ERR in place of the rest gets 2
  EXPECT_TRUE(fwd_.started());
}

TEST_F(MysqlForwarderTest, AResultOverTheWatermarkWaitsForTheClient) {
  uint8_t seq = 1;
  std::string rows = MysqlResult(64, 0xff00, &seq);  // about 4 MiB
  ServerSends(rows);
  Command();
  std::string got;
  int rounds = 0;
  Outcome o;
  while ((o = fwd_.Forward(in_)) == Outcome::kBackpressure && rounds < 100) {
    // Never more than a run past the bound is queued for a client that reads nothing.
    EXPECT_GE(Queued(), kClientOutHighWater);
    EXPECT_LT(Queued(), kClientOutHighWater + 0x10000);
    EXPECT_EQ(script_.paused, ++rounds);
    got += ClientTakes();
  }
  EXPECT_EQ(o, Outcome::kEnded);
  EXPECT_GE(rounds, 3);
  got += ClientTakes();
  EXPECT_EQ(got.size(), rows.size());
  EXPECT_TRUE(got == rows);  // (not EXPECT_EQ: no 4 MiB diff)
  EXPECT_EQ(fwd_.rows(), 64u);
}

// Behind a filter that takes the output as it comes (the MySQL compressed protocol's
// deflate), the output is empty again after every run: the frames already read must go on
// at once, not wait for backend bytes that will never come (a 6 MB row through
// mariadb --compress hung so).
TEST_F(MysqlForwarderTest, BehindAFilterThatTakesEverythingTheResultGoesOnAtOnce) {
  evbuffer* filtered = evbuffer_new();
  struct Taker {
    evbuffer* to;
    static void Cb(evbuffer* buf, const evbuffer_cb_info* info, void* arg) {
      if (info->n_added == 0) return;
      evbuffer_unfreeze(buf, 1);
      evbuffer_add_buffer(static_cast<Taker*>(arg)->to, buf);
      evbuffer_freeze(buf, 1);
    }
  } taker{filtered};
  evbuffer_cb_entry* cb = evbuffer_add_cb(client_->output(), &Taker::Cb, &taker);
  uint8_t seq = 1;
  std::string rows = MysqlResult(64, 0xff00, &seq);  // about 4 MiB, all here
  ServerSends(rows);
  Command();
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kEnded);
  EXPECT_EQ(Left(), 0u);
  EXPECT_EQ(script_.paused, 0);
  EXPECT_EQ(evbuffer_get_length(filtered), rows.size());
  evbuffer_remove_cb_entry(client_->output(), cb);
  evbuffer_free(filtered);
}

TEST_F(MysqlForwarderTest, APacketNotAllHereIsWaitedForWhole) {
  uint8_t seq = 1;
  std::string rows = MysqlResult(1, 0xff00, &seq);
  size_t row_at = rows.size() - 11 - (4 + 3 + 0xff00);  // before the row and the EOF-OK
  ServerSends(rows.substr(0, row_at + 100));            // the connection stops in the row
  Command();
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kWaiting);
  EXPECT_EQ(ClientTakes(), rows.substr(0, row_at));  // whole packets only
  ASSERT_EQ(script_.allowed.size(), 1u);
  EXPECT_EQ(script_.allowed[0], 4u + 3 + 0xff00);  // room for the whole row
  EXPECT_FALSE(fwd_.mid_frame());
  EXPECT_TRUE(fwd_.started());  // too late to run the command elsewhere
  ServerSends(rows.substr(row_at + 100));
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kEnded);
  EXPECT_EQ(ClientTakes(), rows.substr(row_at));
  ASSERT_EQ(script_.allowed.size(), 2u);
  EXPECT_EQ(script_.allowed[1], 0u);  // back to the usual read bound
}

// Row runs (ResponseTracker::PassRun): the rows reach the client in runs and are counted
// without a callback per packet; only the packets that decide where the result stands (the
// column count, the end, an ERR) reach the session.
TEST_F(MysqlForwarderTest, RowsPassInRunsWithoutACallbackEach) {
  uint8_t seq = 1;
  std::string result = MysqlResult(100, 20, &seq);
  ServerSends(result);
  Command();
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kEnded);
  EXPECT_EQ(ClientTakes(), result);
  EXPECT_EQ(fwd_.rows(), 100u);
  EXPECT_EQ(tracker_.rows(), 100u);
  EXPECT_EQ(fwd_.frames(), 103u);
  EXPECT_EQ(script_.seqs, (std::vector<uint8_t>{1, 103}));
  EXPECT_EQ(framing_.last_seq(), 103);
  // A mirrored command's rows are checksummed one by one: the session reads each.
  seq = 1;
  ServerSends(result);
  script_.seqs.clear();
  framing_.set_runs(false);
  Command();
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kEnded);
  EXPECT_EQ(ClientTakes(), result);
  EXPECT_EQ(fwd_.rows(), 100u);
  EXPECT_EQ(script_.seqs.size(), 103u);
}

// Every split of a response across two reads, and one read per byte, with runs and without:
// the same bytes reach the client, the same counts, the same end (a result set; one that
// ends in an ERR after two rows).
TEST_F(MysqlForwarderTest, AResponseSplitAtEveryByteEndsTheSame) {
  uint8_t seq = 1;
  std::string ok_end = MysqlResult(5, 10, &seq);
  const uint8_t ok_last = static_cast<uint8_t>(seq - 1);
  seq = 1;
  std::string err_end = MysqlResult(2, 10, &seq);
  err_end.resize(err_end.size() - 11);
  std::string err =
      Packet(seq - 1, mysql::MakeErr(1317, "70100", "Query execution was interrupted"));
  err_end += err;
  struct Case {
    std::string wire;
    uint64_t rows;
    uint64_t frames;
    uint8_t last_seq;
    bool error;
  };
  for (const Case& c : {Case{ok_end, 5, 8, ok_last, false},
                        Case{err_end, 2, 5, static_cast<uint8_t>(seq - 1), true}}) {
    for (bool runs : {true, false}) {
      framing_.set_runs(runs);
      for (size_t k = 1; k < c.wire.size(); ++k) {
        Reset();
        Command();
        ServerSends(c.wire.substr(0, k));
        ASSERT_EQ(fwd_.Forward(in_), Outcome::kWaiting) << k;
        ServerSends(c.wire.substr(k));
        ASSERT_EQ(fwd_.Forward(in_), Outcome::kEnded) << k;
        ASSERT_EQ(ClientTakes(), c.wire) << k;
        EXPECT_EQ(fwd_.rows(), c.rows) << k;
        EXPECT_EQ(fwd_.frames(), c.frames) << k;
        EXPECT_EQ(framing_.last_seq(), c.last_seq) << k;
        EXPECT_EQ(tracker_.ended_in_error(), c.error) << k;
      }
      Reset();
      Command();
      std::string got;
      for (size_t i = 0; i < c.wire.size(); ++i) {
        ServerSends(c.wire.substr(i, 1));
        ASSERT_EQ(fwd_.Forward(in_), i + 1 < c.wire.size() ? Outcome::kWaiting : Outcome::kEnded)
            << i;
        got += ClientTakes();
      }
      EXPECT_EQ(got, c.wire);
      EXPECT_EQ(fwd_.rows(), c.rows);
      EXPECT_EQ(framing_.last_seq(), c.last_seq);
    }
  }
}

// CLIENT_DEPRECATE_EOF off: EOFs after the definitions and at each set's end; the first
// set's end says more results follow.
TEST_F(MysqlForwarderTest, MultipleResultSetsWithClassicEofsPassWhole) {
  constexpr uint64_t caps = kCaps & ~uint64_t{mysql::CLIENT_DEPRECATE_EOF};
  // An EOF packet: 0xFE, warnings, status flags.
  auto eof = [](uint16_t status) {
    return std::string("\xfe\x00\x00", 3) + static_cast<char>(status & 0xff) +
           static_cast<char>(status >> 8);
  };
  auto set = [&eof](uint8_t* seq, int rows, uint16_t status) {
    std::string out = MysqlHead(seq);
    out += Packet((*seq)++, eof(status & ~mysql::SERVER_MORE_RESULTS_EXISTS));
    for (int i = 0; i < rows; ++i)
      out += Packet((*seq)++,
                    "\x03"
                    "abc");
    out += Packet((*seq)++, eof(status));
    return out;
  };
  uint8_t seq = 1;
  std::string wire =
      set(&seq, 3, mysql::SERVER_STATUS_AUTOCOMMIT | mysql::SERVER_MORE_RESULTS_EXISTS);
  wire += set(&seq, 2, mysql::SERVER_STATUS_AUTOCOMMIT);
  std::string next = Packet(1, mysql::MakeOk(0, 0, mysql::SERVER_STATUS_AUTOCOMMIT, 0, caps));
  ServerSends(wire + next);
  Command(mysql::COM_QUERY, caps);
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kEnded);
  EXPECT_EQ(ClientTakes(), wire);
  EXPECT_EQ(Left(), next.size());
  EXPECT_EQ(fwd_.rows(), 5u);
  EXPECT_EQ(tracker_.result_sets(), 2u);
  EXPECT_EQ(framing_.last_seq(), seq - 1);
  EXPECT_FALSE(tracker_.ended_in_error());
}

// A row of more than 16 MiB comes as a 0xFFFFFF-byte packet and its continuation: both
// reach the client whole and in order, one row, and the rows after it run again.
TEST_F(MysqlForwarderTest, ARowContinuedPast16MiBPassesWhole) {
  std::string big(mysql::kMaxPacketPayload + 1000, 'x');
  size_t n = big.size() - 4;
  big[0] = '\xfd';
  big[1] = static_cast<char>(n & 0xff);
  big[2] = static_cast<char>((n >> 8) & 0xff);
  big[3] = static_cast<char>(n >> 16);
  uint8_t seq = 1;
  std::string full = MysqlResult(2, 10, &seq);   // count, def, row, row, end: split around
  size_t first_row = full.size() - 11 - 2 * 17;  // the rows are 4 + 13 bytes, the end 11
  std::string row = full.substr(first_row, 17);
  std::string wire = full.substr(0, first_row) + row;
  seq = 4;
  mysql::AppendPacket(&wire, &seq, big);  // seq 4 and 5
  std::string tail = row;
  tail[3] = static_cast<char>(seq++);
  wire += tail + Packet(seq, std::string("\xfe\x00\x00\x02\x00\x00\x00", 7));
  Command();
  std::string got;
  Outcome o = Outcome::kWaiting;
  // 64 KiB reads; the client reads everything after each (it waits past its bound).
  size_t at = 0;
  for (int i = 0; i < 1000 && o != Outcome::kEnded; ++i) {
    if (at < wire.size()) ServerSends(wire.substr(at, 1 << 16));
    at += 1 << 16;
    o = fwd_.Forward(in_);
    got += ClientTakes();
  }
  EXPECT_EQ(o, Outcome::kEnded);
  EXPECT_EQ(got.size(), wire.size());
  EXPECT_TRUE(got == wire);
  EXPECT_EQ(fwd_.rows(), 3u);
  EXPECT_EQ(tracker_.rows(), 3u);
  EXPECT_EQ(framing_.last_seq(), seq);
  ASSERT_FALSE(script_.allowed.empty());
  EXPECT_EQ(script_.allowed.front(), 4 + mysql::kMaxPacketPayload);  // room for the head
}

TEST_F(MysqlForwarderTest, ASequenceGapInTheRowsStopsAfterTheRowsBeforeIt) {
  uint8_t seq = 1;
  std::string wire = MysqlResult(6, 10, &seq);
  size_t row_bytes = 4 + 13;
  size_t rows_at = wire.size() - 11 - 6 * row_bytes;
  std::string before = wire.substr(0, rows_at + 3 * row_bytes);
  wire[rows_at + 3 * row_bytes + 3] = 42;  // the fourth row's sequence id
  ServerSends(wire);
  Command();
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kStopped);
  EXPECT_EQ(script_.failed, 1);
  EXPECT_EQ(ClientTakes(), before);
  // count 1, def 2, rows 3-5: the ERR in place of the rest gets 6, what the client expects
  // next (not one below the bad packet's 42).
  EXPECT_EQ(framing_.last_seq(), 5);
  EXPECT_EQ(fwd_.rows(), 3u);
}

// A PostgreSQL session as the forwarder sees it: ReadyForQuery is taken (the segment's end,
// its rows counted), ErrorResponse passes and marks the segment failed.
class PgScript final : public Script {
 public:
  ResultForwarder::Verdict OnFrame(const Frame& f, Step step, std::span<const uint8_t>) override {
    if (f.kind == 'E') ++errors;
    return step == Step::kEnd ? ResultForwarder::Verdict::kTake : ResultForwarder::Verdict::kPass;
  }
  ResultForwarder::Next TakeFrame(const Frame& f, Step, std::span<const uint8_t> bytes) override {
    statuses.push_back(static_cast<char>(bytes[f.header]));
    segment_rows.push_back(fwd->TakeRows());
    evbuffer_remove_buffer(in, client->output(), bytes.size());
    fwd->Begin();
    return --outstanding > 0 ? ResultForwarder::Next::kGoOn : ResultForwarder::Next::kPause;
  }
  ResultForwarder* fwd = nullptr;
  evbuffer* in = nullptr;
  ClientConn* client = nullptr;
  int outstanding = 1;
  std::vector<char> statuses;
  std::vector<uint64_t> segment_rows;
  int errors = 0;
};

class PgForwarderTest : public ForwarderTest {
 protected:
  PgForwarderTest() {
    script_.fwd = &fwd_;
    script_.in = in_;
    script_.client = client_.get();
  }
  pgproxy::PgFraming framing_;
  PgScript script_;
  ResultForwarder fwd_{&framing_, &script_, client_.get()};
};

TEST_F(PgForwarderTest, APipelinedBatchPassesWithEachSegmentsRows) {
  std::string batch = PgSegment(2) + PgSegment(1, 'T') + PgSegment(0, 'T');
  ServerSends(batch);
  script_.outstanding = 3;
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kWaiting);
  EXPECT_EQ(ClientTakes(), batch);
  EXPECT_EQ(Left(), 0u);
  EXPECT_EQ(script_.statuses, (std::vector<char>{'I', 'T', 'T'}));
  EXPECT_EQ(script_.segment_rows, (std::vector<uint64_t>{2, 1, 0}));
  EXPECT_FALSE(fwd_.started());  // begun again at the last ReadyForQuery
}

TEST_F(PgForwarderTest, AnErrorMidStreamPassesAndTheSegmentEnds) {
  std::string seg =
      PgMsg('T', std::string("\x00\x01", 2) + "v" + std::string(19, '\0')) + PgRow(8) +
      PgMsg('E', std::string("SERROR\0C22012\0Mdivision by zero\0\0", 34)) + PgMsg('Z', "I");
  ServerSends(seg);
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kWaiting);
  EXPECT_EQ(ClientTakes(), seg);
  EXPECT_EQ(script_.errors, 1);
  EXPECT_EQ(script_.statuses, (std::vector<char>{'I'}));
}

TEST_F(PgForwarderTest, AMalformedHeaderStopsAfterTheWholeMessages) {
  std::string head = PgMsg('T', std::string("\x00\x01", 2) + "v" + std::string(19, '\0'));
  std::string bad("D\x00\x00\x00\x02", 5);  // a length word below 4
  ServerSends(head + bad);
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kMalformed);
  EXPECT_EQ(ClientTakes(), head);
  EXPECT_EQ(Left(), bad.size());
}

TEST_F(PgForwarderTest, ARunOverTheWatermarkWaitsForTheClient) {
  std::string rows;
  for (int i = 0; i < 40; ++i) rows += PgRow(64 << 10);  // 2.5 MiB
  std::string seg = rows + PgMsg('C', std::string("SELECT 40\0", 10)) + PgMsg('Z', "I");
  ServerSends(seg);
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kBackpressure);
  EXPECT_EQ(script_.paused, 1);
  EXPECT_GE(Queued(), kClientOutHighWater);
  EXPECT_LT(Queued(), kClientOutHighWater + (65u << 10));
  std::string got = ClientTakes();
  int rounds = 0;
  while (fwd_.Forward(in_) == Outcome::kBackpressure && ++rounds < 100) got += ClientTakes();
  got += ClientTakes();
  EXPECT_EQ(got.size(), seg.size());
  EXPECT_TRUE(got == seg);
  EXPECT_EQ(script_.segment_rows, (std::vector<uint64_t>{40}));
}

TEST_F(PgForwarderTest, ALargeRowStreamsAndTheBackendMayStopMidway) {
  std::string head = PgMsg('T', std::string("\x00\x01", 2) + "v" + std::string(19, '\0'));
  std::string row = PgRow(3 << 20);  // larger than the client's bound, never held whole
  ServerSends(head + row.substr(0, 1000));
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kWaiting);
  EXPECT_EQ(ClientTakes(), head + row.substr(0, 1000));
  EXPECT_TRUE(fwd_.mid_frame());
  EXPECT_TRUE(fwd_.started());
  ServerSends(row.substr(1000, 5000));
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kWaiting);
  EXPECT_EQ(ClientTakes(), row.substr(1000, 5000));
  // The backend's connection ends here: the session abandons the rest of the row (and ends
  // the client's session: half a message went out).
  fwd_.Abandon();
  EXPECT_FALSE(fwd_.mid_frame());
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kWaiting);
  EXPECT_EQ(Queued(), 0u);
}

TEST_F(PgForwarderTest, AMessageSplitAcrossReadsReachesTheSessionWhole) {
  std::string err = PgMsg('E', std::string("SERROR\0C42P01\0Mno such table\0\0", 31));
  std::string seg = PgMsg('1', "") + err + PgMsg('Z', "I");
  ServerSends(seg.substr(0, 9));  // ParseComplete and part of the error
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kWaiting);
  EXPECT_EQ(script_.errors, 0);
  EXPECT_EQ(ClientTakes(), seg.substr(0, 5));
  ServerSends(seg.substr(9, 10));
  ServerSends(seg.substr(19));
  EXPECT_EQ(fwd_.Forward(in_), Outcome::kWaiting);
  EXPECT_EQ(script_.errors, 1);
  EXPECT_EQ(ClientTakes(), seg.substr(5));
}

}  // namespace
}  // namespace sluice
