// Framing, Reader and every frontend/backend message decoder and encoder of protocol/pgsql.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/message.h"

namespace sluice::pgsql {
namespace {

std::span<const uint8_t> B(const std::string& s) {
  return AsBytes(s);
}

// Decodes exactly one message from `wire` and returns it (test helper).
MessageView One(const std::string& wire) {
  MessageView m;
  size_t consumed = 0;
  EXPECT_EQ(DecodeMessage(B(wire), &m, &consumed), DecodeStatus::kMessage);
  EXPECT_EQ(consumed, wire.size());
  return m;
}

TEST(PgsqlFramingTest, DecodesMessageWhenFedByteAtATime) {
  std::string wire;
  AppendQuery(&wire, "SELECT 1");
  AppendSync(&wire);
  std::string buf;
  std::vector<char> types;
  for (char c : wire) {
    buf.push_back(c);
    // Bounded: each pass either consumes a message or returns.
    while (true) {
      MessageView m;
      size_t consumed = 0;
      const DecodeStatus s = DecodeMessage(B(buf), &m, &consumed);
      ASSERT_NE(s, DecodeStatus::kError);
      if (s == DecodeStatus::kNeedMoreData) break;
      types.push_back(m.type);
      if (m.type == 'Q') {
        EXPECT_EQ(DecodeQuery(m.payload)->sql, "SELECT 1");
      }
      buf.erase(0, consumed);
    }
  }
  EXPECT_EQ(types, (std::vector<char>{'Q', 'S'}));
  EXPECT_TRUE(buf.empty());
}

TEST(PgsqlFramingTest, PayloadIsAViewIntoTheInput) {
  std::string wire;
  AppendQuery(&wire, "x");
  MessageView m = One(wire);
  EXPECT_EQ(reinterpret_cast<const char*>(m.payload.data()), wire.data() + 5);
  EXPECT_EQ(m.payload.size(), 2u);
}

TEST(PgsqlFramingTest, RejectsLengthBelowFour) {
  for (uint8_t len = 0; len < 4; ++len) {
    const std::string wire = {'Q', 0, 0, 0, static_cast<char>(len)};
    MessageView m;
    size_t consumed = 0;
    EXPECT_EQ(DecodeMessage(B(wire), &m, &consumed), DecodeStatus::kError) << int(len);
  }
}

TEST(PgsqlFramingTest, RejectsLengthAboveMaxAsSoonAsHeaderArrives) {
  const std::string wire = {'D', 0, 0, 0x27, 0x11};  // 10001
  MessageView m;
  size_t consumed = 0;
  EXPECT_EQ(DecodeMessage(B(wire), &m, &consumed, 10000), DecodeStatus::kError);
  EXPECT_EQ(DecodeMessage(B(wire), &m, &consumed, 10001), DecodeStatus::kNeedMoreData);
  const std::string huge = {'D', char(0xff), char(0xff), char(0xff), char(0xff)};
  EXPECT_EQ(DecodeMessage(B(huge), &m, &consumed), DecodeStatus::kError);
}

TEST(PgsqlFramingTest, EmptyPayloadAndShortHeader) {
  std::string wire;
  AppendSync(&wire);
  ASSERT_EQ(wire.size(), 5u);
  MessageView m;
  size_t consumed = 0;
  EXPECT_EQ(DecodeMessage(B(wire).first(4), &m, &consumed), DecodeStatus::kNeedMoreData);
  m = One(wire);
  EXPECT_EQ(m.type, 'S');
  EXPECT_TRUE(m.payload.empty());
  EXPECT_TRUE(DecodeEmpty(m.payload).ok());
  EXPECT_FALSE(DecodeEmpty(B(std::string("x"))).ok());
}

TEST(PgsqlReaderTest, BoundsCheckedAndPositionUnchangedOnFailure) {
  const std::string data = {0x01, 0x02, 'a', 'b', 0, char(0xff), char(0xff), char(0xff)};
  Reader r(B(data));
  int16_t i16;
  ASSERT_TRUE(r.Int16(&i16));
  EXPECT_EQ(i16, 0x0102);
  std::string_view s;
  ASSERT_TRUE(r.String(&s));
  EXPECT_EQ(s, "ab");
  int32_t i32;
  EXPECT_FALSE(r.Int32(&i32));  // only 3 bytes left
  EXPECT_EQ(r.remaining(), 3u);
  EXPECT_FALSE(r.String(&s));  // no NUL
  std::span<const uint8_t> bytes;
  EXPECT_FALSE(r.Bytes(4, &bytes));
  ASSERT_TRUE(r.Bytes(3, &bytes));
  EXPECT_EQ(bytes[0], 0xff);
  EXPECT_TRUE(r.done());
  uint8_t b;
  EXPECT_FALSE(r.Byte(&b));
}

TEST(PgsqlReaderTest, BigEndianIntegers) {
  std::string out;
  AppendInt32(&out, -2);
  AppendInt16(&out, -3);
  AppendUInt32(&out, 0x01020304);
  EXPECT_EQ(out, std::string("\xff\xff\xff\xfe\xff\xfd\x01\x02\x03\x04", 10));
  Reader r(B(out));
  int32_t a;
  int16_t b;
  uint32_t c;
  ASSERT_TRUE(r.Int32(&a) && r.Int16(&b) && r.UInt32(&c));
  EXPECT_EQ(a, -2);
  EXPECT_EQ(b, -3);
  EXPECT_EQ(c, 0x01020304u);
}

TEST(PgsqlWriterTest, CStringStopsAtEmbeddedNul) {
  std::string out;
  AppendCString(&out, std::string_view("ab\0cd", 5));
  EXPECT_EQ(out, std::string("ab\0", 3));
}

TEST(PgsqlWriterTest, AppendMessageWritesLengthIncludingItself) {
  std::string out;
  AppendMessage(&out, 'd', std::string_view("abc"));
  EXPECT_EQ(out, std::string("d\0\0\0\x07"
                             "abc",
                             8));
}

// --- frontend -----------------------------------------------------------------------------

TEST(PgsqlFrontendTest, ParseRoundTrip) {
  std::string wire;
  AppendParse(&wire, Parse{"s1", "SELECT $1::int, $2", {23, 0}});
  MessageView m = One(wire);
  ASSERT_EQ(m.type, frontend::kParse);
  auto p = DecodeParse(m.payload);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->statement, "s1");
  EXPECT_EQ(p->query, "SELECT $1::int, $2");
  EXPECT_EQ(p->param_types, (std::vector<uint32_t>{23, 0}));
}

TEST(PgsqlFrontendTest, ParseRejectsBadParamCount) {
  std::string payload("s\0q\0", 4);
  AppendInt16(&payload, 2);
  AppendUInt32(&payload, 23);  // one OID short
  EXPECT_FALSE(DecodeParse(B(payload)).ok());
  std::string negative("s\0q\0", 4);
  AppendInt16(&negative, -1);
  EXPECT_FALSE(DecodeParse(B(negative)).ok());
}

TEST(PgsqlFrontendTest, BindRoundTripWithNullAndBinary) {
  const std::string v1 = "42";
  const std::string v3 = std::string("\x00\x01", 2);
  Bind in;
  in.portal = "p1";
  in.statement = "s1";
  in.param_formats = {0, 0, 1};
  in.params = {AsBytes(v1), std::nullopt, AsBytes(v3)};
  in.result_formats = {1};
  std::string wire;
  AppendBind(&wire, in);
  MessageView m = One(wire);
  ASSERT_EQ(m.type, frontend::kBind);
  auto b = DecodeBind(m.payload);
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->portal, "p1");
  EXPECT_EQ(b->statement, "s1");
  EXPECT_EQ(b->param_formats, (std::vector<int16_t>{0, 0, 1}));
  ASSERT_EQ(b->params.size(), 3u);
  EXPECT_EQ(AsStringView(*b->params[0]), "42");
  EXPECT_FALSE(b->params[1].has_value());
  EXPECT_EQ(AsStringView(*b->params[2]), v3);
  EXPECT_EQ(b->result_formats, (std::vector<int16_t>{1}));
  auto names = DecodeBindNames(m.payload);
  ASSERT_TRUE(names.ok()) << names.status().message();
  EXPECT_EQ(names->portal, "p1");
  EXPECT_EQ(names->statement, "s1");
}

TEST(PgsqlFrontendTest, BindRejectsTruncatedValueAndTrailingBytes) {
  std::string payload("\0s\0", 3);
  AppendInt16(&payload, 0);
  AppendInt16(&payload, 1);
  AppendInt32(&payload, 10);  // says 10 bytes, has 2
  payload += "ab";
  AppendInt16(&payload, 0);
  EXPECT_FALSE(DecodeBind(B(payload)).ok());
  EXPECT_FALSE(DecodeBindNames(B(payload)).ok());

  std::string wire;
  AppendBind(&wire, Bind{});
  wire.push_back('x');
  EXPECT_FALSE(DecodeBind(B(wire).subspan(5)).ok());
  EXPECT_FALSE(DecodeBindNames(B(wire).subspan(5)).ok());
  // A format-code count beyond the bytes there, and a negative value length.
  std::string short_formats(2, '\0');
  AppendInt16(&short_formats, 3);
  AppendInt16(&short_formats, 0);
  EXPECT_FALSE(DecodeBindNames(B(short_formats)).ok());
  std::string negative(2, '\0');
  AppendInt16(&negative, 0);
  AppendInt16(&negative, 1);
  AppendInt32(&negative, -2);
  AppendInt16(&negative, 0);
  EXPECT_FALSE(DecodeBind(B(negative)).ok());
  EXPECT_FALSE(DecodeBindNames(B(negative)).ok());
}

TEST(PgsqlFrontendTest, RewriteParseKeepsQueryAndTypes) {
  std::string wire;
  AppendParse(&wire, Parse{"client_stmt", "SELECT $1", {25}});
  std::string out;
  ASSERT_TRUE(RewriteParseStatementName(One(wire).payload, "sluice_7f3a", &out).ok());
  auto p = DecodeParse(One(out).payload);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->statement, "sluice_7f3a");
  EXPECT_EQ(p->query, "SELECT $1");
  EXPECT_EQ(p->param_types, (std::vector<uint32_t>{25}));
}

TEST(PgsqlFrontendTest, RewriteBindKeepsPortalAndParams) {
  const std::string v = "hello";
  Bind in;
  in.portal = "portal";
  in.statement = "old";
  in.params = {AsBytes(v)};
  std::string wire;
  AppendBind(&wire, in);
  std::string out = "prefix";  // rewrite appends
  ASSERT_TRUE(RewriteBindStatementName(One(wire).payload, "", &out).ok());
  ASSERT_EQ(out.substr(0, 6), "prefix");
  const std::string rewritten = out.substr(6);  // views below point into it
  auto b = DecodeBind(One(rewritten).payload);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->portal, "portal");
  EXPECT_EQ(b->statement, "");
  ASSERT_EQ(b->params.size(), 1u);
  EXPECT_EQ(AsStringView(*b->params[0]), "hello");
}

TEST(PgsqlFrontendTest, DescribeAndCloseRoundTripAndRewrite) {
  std::string wire;
  AppendDescribe(&wire, kTargetStatement, "s1");
  MessageView m = One(wire);
  EXPECT_EQ(m.type, 'D');
  auto d = DecodeDescribe(m.payload);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, 'S');
  EXPECT_EQ(d->name, "s1");
  std::string out;
  ASSERT_TRUE(RewriteDescribeName(m.payload, "s2", &out).ok());
  MessageView m2 = One(out);
  EXPECT_EQ(m2.type, 'D');
  EXPECT_EQ(DecodeDescribe(m2.payload)->name, "s2");

  std::string cwire;
  AppendClose(&cwire, kTargetPortal, "p9");
  MessageView c = One(cwire);
  EXPECT_EQ(c.type, 'C');
  auto cl = DecodeClose(c.payload);
  ASSERT_TRUE(cl.ok());
  EXPECT_EQ(cl->kind, 'P');
  EXPECT_EQ(cl->name, "p9");
  std::string cout;
  ASSERT_TRUE(RewriteCloseName(c.payload, "p10", &cout).ok());
  MessageView c2 = One(cout);
  EXPECT_EQ(c2.type, 'C');
  EXPECT_EQ(DecodeClose(c2.payload)->kind, 'P');
  EXPECT_EQ(DecodeClose(c2.payload)->name, "p10");
}

TEST(PgsqlFrontendTest, DescribeRejectsUnknownKind) {
  const std::string payload("X\0", 2);
  EXPECT_FALSE(DecodeDescribe(B(payload)).ok());
  EXPECT_FALSE(DecodeClose(B(payload)).ok());
  std::string out;
  EXPECT_FALSE(RewriteDescribeName(B(payload), "n", &out).ok());
}

TEST(PgsqlFrontendTest, ExecuteQueryCopyFailPasswordRoundTrip) {
  std::string wire;
  AppendExecute(&wire, "p", 100);
  auto e = DecodeExecute(One(wire).payload);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->portal, "p");
  EXPECT_EQ(e->max_rows, 100);

  wire.clear();
  AppendCopyFail(&wire, "client gave up");
  EXPECT_EQ(One(wire).type, 'f');
  EXPECT_EQ(DecodeCopyFail(One(wire).payload)->message, "client gave up");

  wire.clear();
  AppendPasswordMessage(&wire, "md5abc");
  EXPECT_EQ(One(wire).type, 'p');
  EXPECT_EQ(DecodePasswordMessage(One(wire).payload)->password, "md5abc");

  const std::string unterminated = "SELECT";
  EXPECT_FALSE(DecodeQuery(B(unterminated)).ok());
}

TEST(PgsqlFrontendTest, SimpleMessagesHaveTheirTypes) {
  std::string wire;
  AppendSync(&wire);
  AppendFlush(&wire);
  AppendTerminate(&wire);
  AppendCopyDone(&wire);
  const std::string data = "1\t2\n";
  AppendCopyData(&wire, AsBytes(data));
  std::string types;
  std::span<const uint8_t> rest = B(wire);
  for (int i = 0; i < 5; ++i) {
    MessageView m;
    size_t consumed = 0;
    ASSERT_EQ(DecodeMessage(rest, &m, &consumed), DecodeStatus::kMessage);
    types.push_back(m.type);
    if (m.type == 'd') {
      EXPECT_EQ(AsStringView(m.payload), data);
    } else {
      EXPECT_TRUE(DecodeEmpty(m.payload).ok());
    }
    rest = rest.subspan(consumed);
  }
  EXPECT_EQ(types, "SHXcd");
  EXPECT_TRUE(rest.empty());
}

TEST(PgsqlFrontendTest, SaslInitialResponseRoundTripAndNoData) {
  std::string wire;
  AppendSaslInitialResponse(&wire, "SCRAM-SHA-256", "n,,n=,r=abc");
  auto s = DecodeSaslInitialResponse(One(wire).payload);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->mechanism, "SCRAM-SHA-256");
  ASSERT_TRUE(s->data.has_value());
  EXPECT_EQ(AsStringView(*s->data), "n,,n=,r=abc");

  std::string payload("M\0", 2);
  AppendInt32(&payload, -1);
  auto none = DecodeSaslInitialResponse(B(payload));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->data.has_value());

  std::string bad("M\0", 2);
  AppendInt32(&bad, 5);
  bad += "ab";
  EXPECT_FALSE(DecodeSaslInitialResponse(B(bad)).ok());

  wire.clear();
  AppendSaslResponse(&wire, "c=biws");
  EXPECT_EQ(One(wire).type, 'p');
  EXPECT_EQ(AsStringView(One(wire).payload), "c=biws");
}

// --- backend ------------------------------------------------------------------------------

TEST(PgsqlBackendTest, ReadyForQueryStatuses) {
  for (char s : {'I', 'T', 'E'}) {
    std::string wire;
    AppendReadyForQuery(&wire, s);
    MessageView m = One(wire);
    EXPECT_EQ(m.type, 'Z');
    auto z = DecodeReadyForQuery(m.payload);
    ASSERT_TRUE(z.ok());
    EXPECT_EQ(z->status, s);
  }
  EXPECT_FALSE(DecodeReadyForQuery(B(std::string("X"))).ok());
  EXPECT_FALSE(DecodeReadyForQuery(B(std::string("II"))).ok());
}

TEST(PgsqlBackendTest, ErrorResponseRoundTrip) {
  std::string wire;
  AppendErrorResponse(&wire, ErrorSpec{"FATAL", sqlstate::kTooManyConnections, "too many clients",
                                       "limit is 10", "raise max"});
  MessageView m = One(wire);
  EXPECT_EQ(m.type, 'E');
  auto e = DecodeErrorFields(m.payload);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->Get('S'), "FATAL");
  EXPECT_EQ(e->severity(), "FATAL");
  EXPECT_EQ(e->sqlstate(), "53300");
  EXPECT_EQ(e->message(), "too many clients");
  EXPECT_EQ(e->Get('D'), "limit is 10");
  EXPECT_EQ(e->Get('H'), "raise max");
  EXPECT_EQ(e->Get('P'), "");
  ASSERT_EQ(e->fields.size(), 6u);
  EXPECT_EQ(e->fields[0].first, 'S');
}

TEST(PgsqlBackendTest, NoticeLeavesOutEmptyDetailAndHint) {
  std::string wire;
  AppendNoticeResponse(&wire, ErrorSpec{"NOTICE", "00000", "hello", "", ""});
  MessageView m = One(wire);
  EXPECT_EQ(m.type, 'N');
  auto n = DecodeErrorFields(m.payload);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->fields.size(), 4u);
  EXPECT_EQ(n->Get('D'), "");
}

TEST(PgsqlBackendTest, ErrorFieldsRejectMissingTerminator) {
  const std::string no_final_nul("SERROR\0", 7);
  EXPECT_FALSE(DecodeErrorFields(B(no_final_nul)).ok());
  const std::string unterminated_value("SERR", 4);
  EXPECT_FALSE(DecodeErrorFields(B(unterminated_value)).ok());
  const std::string trailing("SERROR\0\0x", 9);
  EXPECT_FALSE(DecodeErrorFields(B(trailing)).ok());
}

TEST(PgsqlBackendTest, ParameterStatusAndBackendKeyData) {
  std::string wire;
  AppendParameterStatus(&wire, "server_version", "15.5");
  auto p = DecodeParameterStatus(One(wire).payload);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->name, "server_version");
  EXPECT_EQ(p->value, "15.5");

  wire.clear();
  AppendBackendKeyData(&wire, BackendKeyData{1234, 0xdeadbeef});
  MessageView m = One(wire);
  EXPECT_EQ(m.type, 'K');
  auto k = DecodeBackendKeyData(m.payload);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->pid, 1234);
  EXPECT_EQ(k->secret, 0xdeadbeefu);
  EXPECT_FALSE(DecodeBackendKeyData(m.payload.first(7)).ok());
}

TEST(PgsqlBackendTest, AuthenticationRequests) {
  std::string wire;
  AppendAuthenticationOk(&wire);
  auto a = DecodeAuthentication(One(wire).payload);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->code, kAuthOk);
  EXPECT_TRUE(a->data.empty());

  wire.clear();
  AppendAuthenticationCleartextPassword(&wire);
  EXPECT_EQ(DecodeAuthentication(One(wire).payload)->code, kAuthCleartextPassword);

  wire.clear();
  AppendAuthenticationMd5Password(&wire, {1, 2, 3, 4});
  a = DecodeAuthentication(One(wire).payload);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->code, kAuthMd5Password);
  auto salt = DecodeMd5Salt(a->data);
  ASSERT_TRUE(salt.ok());
  EXPECT_EQ(*salt, (std::array<uint8_t, 4>{1, 2, 3, 4}));

  wire.clear();
  const std::string_view mechs[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
  AppendAuthenticationSasl(&wire, mechs);
  a = DecodeAuthentication(One(wire).payload);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->code, kAuthSasl);
  auto list = DecodeSaslMechanisms(a->data);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, (std::vector<std::string_view>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}));
  EXPECT_FALSE(DecodeSaslMechanisms(a->data.first(a->data.size() - 1)).ok());

  wire.clear();
  AppendAuthenticationSaslContinue(&wire, "r=abc,s=xyz,i=4096");
  a = DecodeAuthentication(One(wire).payload);
  EXPECT_EQ(a->code, kAuthSaslContinue);
  EXPECT_EQ(AsStringView(a->data), "r=abc,s=xyz,i=4096");

  wire.clear();
  AppendAuthenticationSaslFinal(&wire, "v=sig");
  a = DecodeAuthentication(One(wire).payload);
  EXPECT_EQ(a->code, kAuthSaslFinal);
  EXPECT_EQ(AsStringView(a->data), "v=sig");
  EXPECT_FALSE(DecodeAuthentication(a->data.first(3)).ok());
}

TEST(PgsqlBackendTest, CommandCompleteAndRowCounts) {
  std::string wire;
  AppendCommandComplete(&wire, "INSERT 0 5");
  auto c = DecodeCommandComplete(One(wire).payload);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->tag, "INSERT 0 5");
  EXPECT_EQ(CommandTagRows("INSERT 0 5"), 5u);
  EXPECT_EQ(CommandTagRows("SELECT 1000"), 1000u);
  EXPECT_EQ(CommandTagRows("UPDATE 0"), 0u);
  EXPECT_EQ(CommandTagRows("DELETE 7"), 7u);
  EXPECT_EQ(CommandTagRows("MERGE 2"), 2u);
  EXPECT_EQ(CommandTagRows("FETCH 3"), 3u);
  EXPECT_EQ(CommandTagRows("MOVE 4"), 4u);
  EXPECT_EQ(CommandTagRows("COPY 18446744073709551615"), 18446744073709551615u);
  EXPECT_EQ(CommandTagRows("BEGIN"), std::nullopt);
  EXPECT_EQ(CommandTagRows("CREATE TABLE"), std::nullopt);
  EXPECT_EQ(CommandTagRows("INSERT 5"), std::nullopt);
  EXPECT_EQ(CommandTagRows("SELECT x"), std::nullopt);
  EXPECT_EQ(CommandTagRows("SELECT 1 2"), std::nullopt);
  EXPECT_EQ(CommandTagRows("COPY 18446744073709551616"), std::nullopt);  // overflows
}

TEST(PgsqlBackendTest, RowDescriptionAndDataRowRoundTrip) {
  const FieldDescription fields[] = {
      {"id", 16384, 1, 23, 4, -1, 0},
      {"name", 16384, 2, 25, -1, -1, 0},
  };
  std::string wire;
  AppendRowDescription(&wire, fields);
  MessageView m = One(wire);
  EXPECT_EQ(m.type, 'T');
  EXPECT_EQ(*DecodeRowDescriptionColumnCount(m.payload), 2);
  auto d = DecodeRowDescription(m.payload);
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_EQ(d->fields.size(), 2u);
  EXPECT_EQ(d->fields[1].name, "name");
  EXPECT_EQ(d->fields[1].type_oid, 25u);
  EXPECT_EQ(d->fields[1].type_size, -1);
  EXPECT_EQ(d->fields[0].table_oid, 16384u);
  EXPECT_EQ(d->fields[0].column, 1);
  EXPECT_FALSE(DecodeRowDescription(m.payload.first(m.payload.size() - 1)).ok());

  wire.clear();
  const std::optional<std::string_view> values[] = {"1", std::nullopt, ""};
  AppendDataRow(&wire, values);
  m = One(wire);
  EXPECT_EQ(m.type, 'D');
  auto row = DecodeDataRow(m.payload);
  ASSERT_TRUE(row.ok());
  ASSERT_EQ(row->values.size(), 3u);
  EXPECT_EQ(AsStringView(*row->values[0]), "1");
  EXPECT_FALSE(row->values[1].has_value());
  ASSERT_TRUE(row->values[2].has_value());
  EXPECT_TRUE(row->values[2]->empty());
  EXPECT_FALSE(DecodeDataRow(m.payload.first(m.payload.size() - 1)).ok());
}

TEST(PgsqlBackendTest, NotificationResponse) {
  std::string payload;
  AppendInt32(&payload, 77);
  AppendCString(&payload, "chan");
  AppendCString(&payload, "hello");
  auto n = DecodeNotificationResponse(B(payload));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->pid, 77);
  EXPECT_EQ(n->channel, "chan");
  EXPECT_EQ(n->payload, "hello");
  EXPECT_FALSE(DecodeNotificationResponse(B(payload.substr(0, payload.size() - 1))).ok());
}

TEST(PgsqlBackendTest, CopyResponse) {
  std::string payload;
  AppendByte(&payload, 0);
  AppendInt16(&payload, 2);
  AppendInt16(&payload, 0);
  AppendInt16(&payload, 1);
  auto c = DecodeCopyResponse(B(payload));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->format, 0);
  EXPECT_EQ(c->column_formats, (std::vector<int16_t>{0, 1}));
  EXPECT_FALSE(DecodeCopyResponse(B(payload.substr(0, 5))).ok());
  payload[0] = 2;  // neither text nor binary
  EXPECT_FALSE(DecodeCopyResponse(B(payload)).ok());
}

}  // namespace
}  // namespace sluice::pgsql
