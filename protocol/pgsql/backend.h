// Messages a PostgreSQL server sends: decoders for what the proxy reads to follow a
// session (auth, errors, transaction state, result ends) and encoders for what it makes.
//
// Layout: docs "Frontend/Backend Protocol" > "Message Formats" and "Error and Notice
// Message Fields". Decoders take a MessageView payload and return views into it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::pgsql {

struct ReadyForQuery {
  char status = 'I';  // kTxIdle, kTxInBlock or kTxFailed
};

// ErrorResponse / NoticeResponse: field code → value, in wire order.
struct ErrorFields {
  std::vector<std::pair<char, std::string_view>> fields;

  // The value of field `code` (see constants.h field::), or "" when absent.
  std::string_view Get(char code) const;
  std::string_view severity() const;  // 'V' when present (not localised), else 'S'
  std::string_view sqlstate() const { return Get('C'); }
  std::string_view message() const { return Get('M'); }
};

struct ParameterStatus {
  std::string_view name;
  std::string_view value;
};

struct BackendKeyData {
  int32_t pid = 0;
  uint32_t secret = 0;
};

// 'R': the request code (kAuth*) and what follows it (MD5 salt, SASL mechanisms or data).
struct Authentication {
  int32_t code = 0;
  std::span<const uint8_t> data;
};

struct CommandComplete {
  std::string_view tag;  // "SELECT 3", "INSERT 0 1", "BEGIN", …
};

struct FieldDescription {
  std::string_view name;
  uint32_t table_oid = 0;
  int16_t column = 0;
  uint32_t type_oid = 0;
  int16_t type_size = 0;
  int32_t type_modifier = -1;
  int16_t format = 0;
};

struct RowDescription {
  std::vector<FieldDescription> fields;
};

struct DataRow {
  std::vector<std::optional<std::span<const uint8_t>>> values;  // nullopt = SQL NULL
};

struct NotificationResponse {
  int32_t pid = 0;
  std::string_view channel;
  std::string_view payload;
};

// CopyInResponse 'G', CopyOutResponse 'H', CopyBothResponse 'W'.
struct CopyResponse {
  uint8_t format = 0;  // 0 text, 1 binary
  std::vector<int16_t> column_formats;
};

struct NegotiateProtocolVersion {
  int32_t newest_version = 0;  // major << 16 | minor
  std::vector<std::string_view> unrecognized_options;
};

Result<ReadyForQuery> DecodeReadyForQuery(std::span<const uint8_t> payload);
// Both ErrorResponse and NoticeResponse.
Result<ErrorFields> DecodeErrorFields(std::span<const uint8_t> payload);
Result<ParameterStatus> DecodeParameterStatus(std::span<const uint8_t> payload);
Result<BackendKeyData> DecodeBackendKeyData(std::span<const uint8_t> payload);
Result<Authentication> DecodeAuthentication(std::span<const uint8_t> payload);
// The mechanism list of an AuthenticationSASL's data.
Result<std::vector<std::string_view>> DecodeSaslMechanisms(std::span<const uint8_t> data);
// The 4-byte salt of an AuthenticationMD5Password's data.
Result<std::array<uint8_t, 4>> DecodeMd5Salt(std::span<const uint8_t> data);
Result<CommandComplete> DecodeCommandComplete(std::span<const uint8_t> payload);
// Rows a command tag reports: "SELECT n", "INSERT oid n", "UPDATE n", "DELETE n",
// "MERGE n", "FETCH n", "MOVE n", "COPY n"; nullopt for any other tag.
std::optional<uint64_t> CommandTagRows(std::string_view tag);
Result<int16_t> DecodeRowDescriptionColumnCount(std::span<const uint8_t> payload);
Result<RowDescription> DecodeRowDescription(std::span<const uint8_t> payload);
Result<DataRow> DecodeDataRow(std::span<const uint8_t> payload);
Result<NotificationResponse> DecodeNotificationResponse(std::span<const uint8_t> payload);
Result<CopyResponse> DecodeCopyResponse(std::span<const uint8_t> payload);
Result<NegotiateProtocolVersion> DecodeNegotiateProtocolVersion(std::span<const uint8_t> payload);

// What a proxy-made error or notice says. S and V both get `severity` (ERROR, FATAL,
// PANIC, WARNING, NOTICE, …); empty detail/hint are left out.
struct ErrorSpec {
  std::string_view severity = "ERROR";
  std::string_view sqlstate;
  std::string_view message;
  std::string_view detail;
  std::string_view hint;
};

void AppendErrorResponse(std::string* out, const ErrorSpec& error);
void AppendNoticeResponse(std::string* out, const ErrorSpec& notice);
void AppendAuthenticationOk(std::string* out);
void AppendAuthenticationCleartextPassword(std::string* out);
void AppendAuthenticationMd5Password(std::string* out, std::array<uint8_t, 4> salt);
void AppendAuthenticationSasl(std::string* out, std::span<const std::string_view> mechanisms);
void AppendAuthenticationSaslContinue(std::string* out, std::string_view data);
void AppendAuthenticationSaslFinal(std::string* out, std::string_view data);
void AppendParameterStatus(std::string* out, std::string_view name, std::string_view value);
void AppendBackendKeyData(std::string* out, const BackendKeyData& key);
void AppendReadyForQuery(std::string* out, char status);
void AppendCommandComplete(std::string* out, std::string_view tag);
void AppendEmptyQueryResponse(std::string* out);
void AppendRowDescription(std::string* out, std::span<const FieldDescription> fields);
// Values in text format; nullopt = SQL NULL.
void AppendDataRow(std::string* out, std::span<const std::optional<std::string_view>> values);

}  // namespace sluice::pgsql
