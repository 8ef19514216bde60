// Text result sets as a server sends them for COM_QUERY: column count, ColumnDefinition41 per
// column, EOF, rows of length-encoded strings (NULL as 0xFB), and the closing EOF / OK.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::mysql {

// enum_field_types (MariaDB include/mysql_com.h): MYSQL_TYPE_VAR_STRING.
inline constexpr uint8_t MYSQL_TYPE_VAR_STRING = 0xfd;
// utf8mb3_general_ci (MariaDB include/my_global.h / mysys/charset-def.c: id 33).
inline constexpr uint16_t kCharsetUtf8GeneralCi = 33;

struct ColumnDefinition {
  std::string schema;
  std::string table;
  std::string name;
  uint16_t charset = kCharsetUtf8GeneralCi;
  uint32_t length = 1024;
  uint8_t type = MYSQL_TYPE_VAR_STRING;
  uint16_t flags = 0;
  uint8_t decimals = 0;
};

using TextRow = std::vector<std::optional<std::string>>;

// Protocol::ColumnDefinition41.
std::string EncodeColumnDefinition41(const ColumnDefinition& col);
// ProtocolText::ResultsetRow: each value a length-encoded string, NULL as 0xFB.
std::string EncodeTextRow(const TextRow& row);

// Appends a whole text result set starting at sequence *SEQ. Under CLIENT_DEPRECATE_EOF in
// CAPS the EOF after the columns is left out and an OK with the 0xFE header ends the rows.
void AppendTextResultSet(std::string* out, uint8_t* seq, const std::vector<ColumnDefinition>& cols,
                         const std::vector<TextRow>& rows, uint64_t caps, uint16_t status_flags);

}  // namespace sluice::mysql
