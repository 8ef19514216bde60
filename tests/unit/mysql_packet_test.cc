// Framing (DecodePacket, AppendPacket, LogicalPacketAssembler), the wire Reader/Writer, and the
// OK/ERR/EOF messages.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/mysql/constants.h"
#include "protocol/mysql/messages.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/wire.h"

namespace sluice::mysql {
namespace {

std::span<const uint8_t> B(const std::string& s) {
  return AsBytes(s);
}

// Decodes every wire packet of `wire`, asserting that nothing is left over.
std::vector<std::pair<uint8_t, std::string>> DecodeAll(const std::string& wire) {
  std::vector<std::pair<uint8_t, std::string>> out;
  std::span<const uint8_t> in = B(wire);
  PacketView p;
  size_t used = 0;
  while (DecodePacket(in, &p, &used) == DecodeStatus::kPacket) {
    out.emplace_back(p.seq, std::string(AsStringView(p.payload)));
    in = in.subspan(used);
  }
  EXPECT_TRUE(in.empty());
  return out;
}

TEST(MysqlPacket, DecodesOnePacketZeroCopy) {
  std::string wire(
      "\x03\x00\x00\x07"
      "abc"
      "\x01\x00\x00\x08",
      11);
  PacketView p;
  size_t used = 0;
  ASSERT_EQ(DecodePacket(B(wire), &p, &used), DecodeStatus::kPacket);
  EXPECT_EQ(p.seq, 7);
  EXPECT_EQ(used, 7u);
  EXPECT_EQ(AsStringView(p.payload), "abc");
  EXPECT_EQ(p.payload.data(), reinterpret_cast<const uint8_t*>(wire.data()) + 4);
  // The second packet lacks its payload byte.
  EXPECT_EQ(DecodePacket(B(wire).subspan(used), &p, &used), DecodeStatus::kNeedMoreData);
}

TEST(MysqlPacket, ByteAtATimeFeedingYieldsSamePackets) {
  std::string wire;
  uint8_t seq = 0;
  AppendPacket(&wire, &seq, std::string_view("\x03SELECT 1"));
  AppendPacket(&wire, &seq, std::string_view(""));
  AppendPacket(&wire, &seq, std::string(300, 'z'));
  std::string buf;
  std::vector<std::string> got;
  for (char c : wire) {
    buf.push_back(c);
    PacketView p;
    size_t used = 0;
    DecodeStatus st = DecodePacket(B(buf), &p, &used);
    ASSERT_NE(st, DecodeStatus::kError);
    if (st == DecodeStatus::kPacket) {
      got.emplace_back(AsStringView(p.payload));
      buf.erase(0, used);
    }
  }
  EXPECT_TRUE(buf.empty());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "\x03SELECT 1");
  EXPECT_EQ(got[1], "");
  EXPECT_EQ(got[2], std::string(300, 'z'));
}

TEST(MysqlPacket, RejectsPacketOverCallerBound) {
  std::string wire("\x10\x00\x00\x00", 4);
  PacketView p;
  size_t used = 0;
  EXPECT_EQ(DecodePacket(B(wire), &p, &used, 15), DecodeStatus::kError);
  EXPECT_EQ(DecodePacket(B(wire), &p, &used, 16), DecodeStatus::kNeedMoreData);
}

TEST(MysqlPacket, SplitsLargePayloadAndReassembles) {
  std::string payload(kMaxPacketPayload + 10, 'q');
  payload[0] = 0x03;
  payload.back() = 'E';
  std::string wire;
  uint8_t seq = 0;
  AppendPacket(&wire, &seq, payload);
  EXPECT_EQ(seq, 2);
  auto packets = DecodeAll(wire);
  ASSERT_EQ(packets.size(), 2u);
  EXPECT_EQ(packets[0].second.size(), kMaxPacketPayload);
  EXPECT_EQ(packets[1].first, 1);
  EXPECT_EQ(packets[1].second.size(), 10u);

  LogicalPacketAssembler asm_(32u << 20);
  std::span<const uint8_t> in = B(wire);
  PacketView p;
  size_t used = 0;
  ASSERT_EQ(DecodePacket(in, &p, &used), DecodeStatus::kPacket);
  EXPECT_EQ(asm_.Add(p), LogicalPacketAssembler::Status::kNeedMore);
  ASSERT_EQ(DecodePacket(in.subspan(used), &p, &used), DecodeStatus::kPacket);
  ASSERT_EQ(asm_.Add(p), LogicalPacketAssembler::Status::kComplete);
  EXPECT_EQ(AsStringView(asm_.payload()), payload);
  EXPECT_EQ(asm_.first_seq(), 0);
  EXPECT_EQ(asm_.last_seq(), 1);
}

TEST(MysqlPacket, ExactMultipleEndsWithEmptyPacket) {
  std::string payload(2 * kMaxPacketPayload, 'm');
  std::string wire;
  uint8_t seq = 5;
  AppendPacket(&wire, &seq, payload);
  EXPECT_EQ(seq, 8);
  auto packets = DecodeAll(wire);
  ASSERT_EQ(packets.size(), 3u);
  EXPECT_EQ(packets[0].first, 5);
  EXPECT_EQ(packets[2].first, 7);
  EXPECT_TRUE(packets[2].second.empty());
  EXPECT_EQ(wire.size(), 2 * kMaxPacketPayload + 3 * kPacketHeaderSize);

  LogicalPacketAssembler asm_(64u << 20);
  LogicalPacketAssembler::Status st{};
  for (auto& [s, body] : packets) st = asm_.Add(PacketView{s, B(body)});
  ASSERT_EQ(st, LogicalPacketAssembler::Status::kComplete);
  EXPECT_EQ(asm_.payload().size(), payload.size());
}

TEST(MysqlPacket, AssemblerRefusesAboveBoundAndRecovers) {
  std::string big(kMaxPacketPayload, 'a');
  std::string tail(100, 'b');
  LogicalPacketAssembler asm_(kMaxPacketPayload + 50);
  EXPECT_EQ(asm_.Add(PacketView{0, B(big)}), LogicalPacketAssembler::Status::kNeedMore);
  EXPECT_EQ(asm_.Add(PacketView{1, B(tail)}), LogicalPacketAssembler::Status::kTooLarge);
  // The next logical packet is accepted again.
  std::string small("\x0e");
  ASSERT_EQ(asm_.Add(PacketView{0, B(small)}), LogicalPacketAssembler::Status::kComplete);
  EXPECT_EQ(AsStringView(asm_.payload()), small);

  LogicalPacketAssembler tiny(4);
  std::string five("12345");
  EXPECT_EQ(tiny.Add(PacketView{0, B(five)}), LogicalPacketAssembler::Status::kTooLarge);
}

TEST(MysqlWire, FixedAndLengthEncodedIntegersRoundTrip) {
  std::string out;
  Writer w(&out);
  const uint64_t values[] = {0, 250, 251, 0xffff, 0x10000, 0xffffff, 0x1000000, ~0ULL};
  for (uint64_t v : values) w.LenEnc(v);
  w.U16(0xbeef).U24(0xabcdef).U32(0xdeadbeef).U64(0x0102030405060708ULL);
  Reader r(B(out));
  for (uint64_t v : values) {
    uint64_t got = 0;
    ASSERT_TRUE(r.ReadLenEnc(&got));
    EXPECT_EQ(got, v);
  }
  uint16_t a;
  uint32_t b, c;
  uint64_t d;
  ASSERT_TRUE(r.ReadU16(&a) && r.ReadU24(&b) && r.ReadU32(&c) && r.ReadU64(&d));
  EXPECT_EQ(a, 0xbeef);
  EXPECT_EQ(b, 0xabcdefu);
  EXPECT_EQ(c, 0xdeadbeefu);
  EXPECT_EQ(d, 0x0102030405060708ULL);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(out.substr(1, 1), "\xfa");
  EXPECT_EQ(out.substr(2, 3), std::string("\xfc\xfb\x00", 3));
}

TEST(MysqlWire, NullAndErrMarkersAndUnderflow) {
  std::string nul("\xfb");
  Reader r1(B(nul));
  uint64_t v;
  EXPECT_FALSE(r1.ReadLenEnc(&v));  // NULL is refused where a number is required
  bool is_null = false;
  EXPECT_TRUE(r1.ReadLenEnc(&v, &is_null));
  EXPECT_TRUE(is_null);

  std::string ff("\xff\x01\x02");
  Reader r2(B(ff));
  EXPECT_FALSE(r2.ReadLenEnc(&v, &is_null));
  EXPECT_EQ(r2.position(), 0u);

  std::string shortint("\xfd\x01\x02");  // 3-byte int with only 2 bytes
  Reader r3(B(shortint));
  EXPECT_FALSE(r3.ReadLenEnc(&v));
  EXPECT_EQ(r3.position(), 0u);

  std::string shortstr(
      "\x05"
      "abc");
  Reader r4(B(shortstr));
  std::string_view s;
  EXPECT_FALSE(r4.ReadLenEncString(&s));
  EXPECT_EQ(r4.position(), 0u);

  std::string nonul("abc");
  Reader r5(B(nonul));
  EXPECT_FALSE(r5.ReadNulString(&s));
  uint32_t u32;
  EXPECT_FALSE(r5.ReadU32(&u32));
  EXPECT_EQ(r5.ReadRest(), "abc");
  uint8_t u8;
  EXPECT_FALSE(r5.ReadU8(&u8));
  EXPECT_FALSE(r5.Skip(1));
}

TEST(MysqlWire, StringsRoundTrip) {
  std::string out;
  Writer(&out).LenEncString("hello").NulString("db").LenEncString(std::string(300, 'x'));
  Reader r(B(out));
  std::string_view a, b, c;
  ASSERT_TRUE(r.ReadLenEncString(&a) && r.ReadNulString(&b) && r.ReadLenEncString(&c));
  EXPECT_EQ(a, "hello");
  EXPECT_EQ(b, "db");
  EXPECT_EQ(c, std::string(300, 'x'));
  EXPECT_EQ(LenEncSize(300), 3u);
}

TEST(MysqlMessages, OkWithSessionTrackFromMariaDb) {
  // "SET autocommit=1" answered by MariaDB 10.11 with CLIENT_SESSION_TRACK (captured).
  std::string p(
      "\x00\x00\x00\x02\x40\x00\x00\x00\x10\x00\x0e\x0a"
      "autocommit\x02ON",
      25);
  uint64_t caps = CLIENT_PROTOCOL_41 | CLIENT_SESSION_TRACK;
  ASSERT_TRUE(IsOk(B(p)));
  Result<OkPacket> ok = DecodeOk(B(p), caps);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->status_flags, SERVER_STATUS_AUTOCOMMIT | SERVER_SESSION_STATE_CHANGED);
  EXPECT_EQ(ok->info, "");
  EXPECT_EQ(ok->session_state_changes, std::string("\x00\x0e\x0a"
                                                   "autocommit\x02ON",
                                                   16));
  EXPECT_EQ(EncodeOk(*ok, caps), p);
}

TEST(MysqlMessages, OkRoundTripAndTruncation) {
  OkPacket ok;
  ok.affected_rows = 70000;
  ok.last_insert_id = 42;
  ok.status_flags = SERVER_STATUS_IN_TRANS;
  ok.warnings = 3;
  ok.info = "Rows matched: 1";
  for (uint64_t caps : {uint64_t{CLIENT_PROTOCOL_41}, CLIENT_PROTOCOL_41 | CLIENT_SESSION_TRACK}) {
    std::string enc = EncodeOk(ok, caps);
    Result<OkPacket> dec = DecodeOk(B(enc), caps);
    ASSERT_TRUE(dec.ok());
    EXPECT_EQ(dec->affected_rows, 70000u);
    EXPECT_EQ(dec->last_insert_id, 42u);
    EXPECT_EQ(dec->status_flags, SERVER_STATUS_IN_TRANS);
    EXPECT_EQ(dec->warnings, 3);
    EXPECT_EQ(dec->info, "Rows matched: 1");
    for (size_t n = 0; n < 7; ++n) {
      EXPECT_FALSE(DecodeOk(B(enc).first(n), caps).ok()) << n;
    }
  }
  std::string made = MakeOk(1, 2, SERVER_STATUS_AUTOCOMMIT, 0, CLIENT_PROTOCOL_41);
  EXPECT_EQ(made, std::string("\x00\x01\x02\x02\x00\x00\x00", 7));
}

TEST(MysqlMessages, ErrWithAndWithoutSqlState) {
  std::string p = MakeErr(ER_ACCESS_DENIED_ERROR.code, ER_ACCESS_DENIED_ERROR.sql_state,
                          "Access denied for user 'u'@'h' (using password: YES)");
  EXPECT_EQ(p.substr(0, 9), std::string("\xff\x15\x04#28000", 9));
  ASSERT_TRUE(IsErr(B(p)));
  Result<ErrPacket> e = DecodeErr(B(p), CLIENT_PROTOCOL_41);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->code, 1045);
  EXPECT_EQ(e->sql_state, "28000");
  EXPECT_EQ(e->message, "Access denied for user 'u'@'h' (using password: YES)");

  std::string old("\xff\x10\x04Too many connections", 23);  // pre-4.1: no '#'
  Result<ErrPacket> o = DecodeErr(B(old), 0);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->code, 1040);
  EXPECT_EQ(o->sql_state, "HY000");
  EXPECT_EQ(o->message, "Too many connections");

  EXPECT_FALSE(DecodeErr(B(std::string("\xff\x10")), 0).ok());
  EXPECT_EQ(MakeErr(ER_CON_COUNT_ERROR), std::string("\xff\x10\x04#08004Too many connections"));
}

TEST(MysqlMessages, EofVersusRowStartingWithFe) {
  std::string eof = EncodeEof(EofPacket{1, SERVER_MORE_RESULTS_EXISTS});
  EXPECT_EQ(eof, std::string("\xfe\x01\x00\x08\x00", 5));
  EXPECT_TRUE(IsEof(B(eof)));
  Result<EofPacket> d = DecodeEof(B(eof));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->warnings, 1);
  EXPECT_EQ(d->status_flags, SERVER_MORE_RESULTS_EXISTS);
  // A row whose first column has an 8-byte length prefix also starts with 0xFE.
  std::string row("\xfe\x00\x00\x00\x01\x00\x00\x00\x00", 9);
  EXPECT_FALSE(IsEof(B(row)));
  EXPECT_FALSE(IsResultSetEnd(B(row), 0));
  // Under DEPRECATE_EOF, an OK-with-0xFE of any length below 0xFFFFFF ends the result set.
  std::string long_ok("\xfe\x00\x00\x02\x00\x00\x00\x05hello", 13);
  EXPECT_TRUE(IsResultSetEnd(B(long_ok), CLIENT_DEPRECATE_EOF));
  EXPECT_FALSE(IsResultSetEnd(B(long_ok), 0));
  Result<uint16_t> flags = DecodeStatusFlags(B(eof), 0);
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(*flags, SERVER_MORE_RESULTS_EXISTS);
}

// The commands a client may have forwarded through a pool. COM_PROCESS_KILL names a server
// thread id another session may hold; the others act on the whole server or replication.
TEST(CommandPolicy, OnlySessionScopedCommandsAreForwarded) {
  for (uint8_t c :
       {COM_QUIT, COM_INIT_DB, COM_QUERY, COM_FIELD_LIST, COM_STATISTICS, COM_PING, COM_CHANGE_USER,
        COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE, COM_STMT_RESET,
        COM_SET_OPTION, COM_STMT_FETCH, COM_RESET_CONNECTION, COM_STMT_BULK_EXECUTE}) {
    EXPECT_EQ(PolicyOf(c), CommandPolicy::kForward) << int{c};
  }
  EXPECT_EQ(PolicyOf(COM_PROCESS_KILL), CommandPolicy::kKill);
  for (uint8_t c : {COM_SLEEP, COM_CREATE_DB, COM_DROP_DB, COM_REFRESH, COM_SHUTDOWN, COM_CONNECT,
                    COM_DEBUG, COM_TIME, COM_DELAYED_INSERT, COM_BINLOG_DUMP, COM_TABLE_DUMP,
                    COM_CONNECT_OUT, COM_REGISTER_SLAVE, COM_DAEMON, COM_BINLOG_DUMP_GTID,
                    uint8_t{0x20}, uint8_t{0xee}, uint8_t{0xff}}) {
    EXPECT_EQ(PolicyOf(c), CommandPolicy::kRefuse) << int{c};
  }
}

}  // namespace
}  // namespace sluice::mysql
