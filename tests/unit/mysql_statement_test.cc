// Prepared-statement messages: PREPARE_OK, COM_STMT_EXECUTE parsing, statement id rewriting and
// re-sending saved parameter types.
#include <gtest/gtest.h>

#include <string>

#include "protocol/mysql/constants.h"
#include "protocol/mysql/statement.h"
#include "protocol/mysql/wire.h"

namespace sluice::mysql {
namespace {

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Payloads from a session with mariadbd 10.11.19 (see mysql_response_test.cc): the PREPARE_OK of
// "SELECT id, v FROM t.a WHERE id > ?" and the COM_STMT_EXECUTE the test client sent for it
// (one LONGLONG parameter 0, types bound), which the server answered with rows.
constexpr char kPrepareOk[] = "000100000002000100000000";
constexpr char kExecute[] = "17010000000001000000000108000000000000000000";

TEST(MysqlStatement, PrepareOkFromMariaDb) {
  std::string p = FromHex(kPrepareOk);
  Result<PrepareOk> ok = DecodePrepareOk(AsBytes(p));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->statement_id, 1u);
  EXPECT_EQ(ok->num_columns, 2);
  EXPECT_EQ(ok->num_params, 1);
  EXPECT_EQ(ok->warnings, 0);
  EXPECT_EQ(EncodePrepareOk(*ok), p);
  EXPECT_FALSE(DecodePrepareOk(AsBytes(p).first(8)).ok());
  std::string err("\xff\x01\x02", 3);
  EXPECT_FALSE(DecodePrepareOk(AsBytes(err)).ok());
}

TEST(MysqlStatement, ParsesExecuteWithTypes) {
  std::string p = FromHex(kExecute);
  Result<StmtExecute> ex = ParseStmtExecute(AsBytes(p), 1);
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(ex->statement_id, 1u);
  EXPECT_EQ(ex->flags, CURSOR_TYPE_NO_CURSOR);
  EXPECT_EQ(ex->iteration_count, 1u);
  ASSERT_EQ(ex->null_bitmap.size(), 1u);
  EXPECT_EQ(ex->null_bitmap[0], 0);
  EXPECT_TRUE(ex->new_params_bound);
  EXPECT_EQ(AsStringView(ex->param_types), std::string("\x08\x00", 2));
  EXPECT_EQ(ex->values.size(), 8u);
  auto types = ExtractParamTypes(AsBytes(p), 1);
  ASSERT_TRUE(types.has_value());
  EXPECT_EQ(*types, std::string("\x08\x00", 2));
}

TEST(MysqlStatement, ExecuteLayoutDependsOnParamCount) {
  // No parameters: no bitmap, no flag; whatever follows is not parsed as types.
  std::string none("\x17\x05\x00\x00\x00\x00\x01\x00\x00\x00", 10);
  Result<StmtExecute> ex = ParseStmtExecute(AsBytes(none), 0);
  ASSERT_TRUE(ex.ok());
  EXPECT_TRUE(ex->null_bitmap.empty());
  EXPECT_FALSE(ex->new_params_bound);
  EXPECT_FALSE(ExtractParamTypes(AsBytes(none), 0).has_value());

  // Nine parameters need a 2-byte NULL bitmap and 18 type bytes.
  std::string nine("\x17\x05\x00\x00\x00\x00\x01\x00\x00\x00", 10);
  nine += std::string("\xff\x01", 2) + "\x01" + std::string(18, '\x06');  // all NULL
  ex = ParseStmtExecute(AsBytes(nine), 9);
  ASSERT_TRUE(ex.ok());
  EXPECT_EQ(ex->null_bitmap.size(), 2u);
  EXPECT_EQ(ex->param_types.size(), 18u);
  EXPECT_TRUE(ex->values.empty());
  EXPECT_FALSE(ParseStmtExecute(AsBytes(nine).first(nine.size() - 1), 9).ok());
  EXPECT_FALSE(ParseStmtExecute(AsBytes(nine).first(11), 9).ok());
  std::string wrong_cmd = nine;
  wrong_cmd[0] = COM_STMT_FETCH;
  EXPECT_FALSE(ParseStmtExecute(AsBytes(wrong_cmd), 9).ok());
}

TEST(MysqlStatement, RewriteStatementId) {
  for (uint8_t cmd : {COM_STMT_EXECUTE, COM_STMT_CLOSE, COM_STMT_RESET, COM_STMT_SEND_LONG_DATA,
                      COM_STMT_FETCH}) {
    std::string p = std::string(1, static_cast<char>(cmd)) + std::string("\x01\x00\x00\x00zz", 6);
    EXPECT_EQ(StatementIdOf(AsBytes(p)), 1u);
    ASSERT_TRUE(RewriteStatementId(&p, 0x11223344));
    EXPECT_EQ(p, std::string(1, static_cast<char>(cmd)) + "\x44\x33\x22\x11zz");
    EXPECT_EQ(StatementIdOf(AsBytes(p)), 0x11223344u);
  }
  std::string tiny("\x19\x01\x00", 3);
  EXPECT_FALSE(RewriteStatementId(&tiny, 7));
  EXPECT_FALSE(StatementIdOf(AsBytes(tiny)).has_value());
}

TEST(MysqlStatement, BuildExecuteWithTypesInsertsSavedTypes) {
  std::string with_types = FromHex(kExecute);
  // The same execute as a driver sends it the second time: flag 0, no types.
  std::string without = with_types.substr(0, 11) + std::string(1, '\0') + with_types.substr(14);
  Result<StmtExecute> ex = ParseStmtExecute(AsBytes(without), 1);
  ASSERT_TRUE(ex.ok());
  EXPECT_FALSE(ex->new_params_bound);

  Result<std::string> rebuilt =
      BuildExecuteWithTypes(AsBytes(without), 1, std::string("\x08\x00", 2));
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(*rebuilt, with_types);
  // Already bound: unchanged.
  Result<std::string> same = BuildExecuteWithTypes(AsBytes(with_types), 1, std::string(2, '\x03'));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, with_types);
  // Saved types of the wrong size are refused.
  EXPECT_FALSE(BuildExecuteWithTypes(AsBytes(without), 1, std::string(3, '\x08')).ok());
  EXPECT_FALSE(BuildExecuteWithTypes(AsBytes(without).first(9), 1, std::string(2, '\x08')).ok());
}

}  // namespace
}  // namespace sluice::mysql
