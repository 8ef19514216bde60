#include "protocol/pgsql/backend.h"

#include <charconv>

#include <fmt/format.h>

#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/message.h"

namespace sluice::pgsql {
namespace {

Status Malformed(std::string_view what) {
  return ProtocolError(fmt::format("malformed {} message", what));
}

Status Trailing(std::string_view what) {
  return ProtocolError(fmt::format("{} message has trailing bytes", what));
}

bool ParseUInt64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

void AppendFields(std::string* out, char type, const ErrorSpec& e) {
  const size_t start = BeginMessage(out, type);
  const std::pair<char, std::string_view> fields[] = {
      {field::kSeverity, e.severity}, {field::kSeverityNonLocalized, e.severity},
      {field::kSqlState, e.sqlstate}, {field::kMessage, e.message},
      {field::kDetail, e.detail},     {field::kHint, e.hint},
  };
  for (const auto& [code, value] : fields) {
    if (value.empty() && (code == field::kDetail || code == field::kHint)) continue;
    out->push_back(code);
    AppendCString(out, value);
  }
  out->push_back('\0');
  EndMessage(out, start);
}

void AppendAuth(std::string* out, int32_t code, std::string_view data) {
  const size_t start = BeginMessage(out, backend::kAuthenticationRequest);
  AppendInt32(out, code);
  out->append(data);
  EndMessage(out, start);
}

}  // namespace

std::string_view ErrorFields::Get(char code) const {
  for (const auto& [c, v] : fields) {
    if (c == code) return v;
  }
  return {};
}

std::string_view ErrorFields::severity() const {
  std::string_view v = Get(field::kSeverityNonLocalized);
  return v.empty() ? Get(field::kSeverity) : v;
}

Result<ReadyForQuery> DecodeReadyForQuery(std::span<const uint8_t> payload) {
  if (payload.size() != 1) return Malformed("ReadyForQuery");
  const char s = static_cast<char>(payload[0]);
  if (s != kTxIdle && s != kTxInBlock && s != kTxFailed) {
    return ProtocolError(fmt::format("ReadyForQuery with unknown status 0x{:02x}", payload[0]));
  }
  return ReadyForQuery{s};
}

Result<ErrorFields> DecodeErrorFields(std::span<const uint8_t> payload) {
  Reader r(payload);
  ErrorFields e;
  // Bounded: each pass consumes at least two bytes.
  while (true) {
    uint8_t code;
    if (!r.Byte(&code)) return Malformed("ErrorResponse/NoticeResponse");
    if (code == 0) break;
    std::string_view value;
    if (!r.String(&value)) return Malformed("ErrorResponse/NoticeResponse");
    e.fields.emplace_back(static_cast<char>(code), value);
  }
  if (!r.done()) return Trailing("ErrorResponse/NoticeResponse");
  return e;
}

Result<ParameterStatus> DecodeParameterStatus(std::span<const uint8_t> payload) {
  Reader r(payload);
  ParameterStatus p;
  if (!r.String(&p.name) || !r.String(&p.value)) return Malformed("ParameterStatus");
  if (!r.done()) return Trailing("ParameterStatus");
  return p;
}

Result<BackendKeyData> DecodeBackendKeyData(std::span<const uint8_t> payload) {
  Reader r(payload);
  BackendKeyData k;
  if (!r.Int32(&k.pid) || !r.UInt32(&k.secret)) return Malformed("BackendKeyData");
  if (!r.done()) return Trailing("BackendKeyData");
  return k;
}

Result<Authentication> DecodeAuthentication(std::span<const uint8_t> payload) {
  Reader r(payload);
  Authentication a;
  if (!r.Int32(&a.code)) return Malformed("Authentication");
  a.data = r.Rest();
  return a;
}

Result<std::vector<std::string_view>> DecodeSaslMechanisms(std::span<const uint8_t> data) {
  Reader r(data);
  std::vector<std::string_view> mechanisms;
  // Bounded: each pass consumes at least one byte.
  while (true) {
    std::string_view m;
    if (!r.String(&m)) return Malformed("AuthenticationSASL");
    if (m.empty()) break;
    mechanisms.push_back(m);
  }
  if (!r.done()) return Trailing("AuthenticationSASL");
  return mechanisms;
}

Result<std::array<uint8_t, 4>> DecodeMd5Salt(std::span<const uint8_t> data) {
  if (data.size() != 4) return Malformed("AuthenticationMD5Password");
  return std::array<uint8_t, 4>{data[0], data[1], data[2], data[3]};
}

Result<CommandComplete> DecodeCommandComplete(std::span<const uint8_t> payload) {
  Reader r(payload);
  CommandComplete c;
  if (!r.String(&c.tag)) return Malformed("CommandComplete");
  if (!r.done()) return Trailing("CommandComplete");
  return c;
}

std::optional<uint64_t> CommandTagRows(std::string_view tag) {
  const size_t sp = tag.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  const std::string_view command = tag.substr(0, sp);
  std::string_view rest = tag.substr(sp + 1);
  if (command == "INSERT") {
    const size_t sp2 = rest.find(' ');  // "INSERT <oid> <rows>"
    uint64_t oid;
    if (sp2 == std::string_view::npos || !ParseUInt64(rest.substr(0, sp2), &oid)) {
      return std::nullopt;
    }
    rest = rest.substr(sp2 + 1);
  } else if (command != "SELECT" && command != "UPDATE" && command != "DELETE" &&
             command != "MERGE" && command != "FETCH" && command != "MOVE" && command != "COPY") {
    return std::nullopt;
  }
  uint64_t rows;
  if (!ParseUInt64(rest, &rows)) return std::nullopt;
  return rows;
}

Result<int16_t> DecodeRowDescriptionColumnCount(std::span<const uint8_t> payload) {
  Reader r(payload);
  int16_t n;
  if (!r.Int16(&n) || n < 0) return Malformed("RowDescription");
  return n;
}

Result<RowDescription> DecodeRowDescription(std::span<const uint8_t> payload) {
  Reader r(payload);
  int16_t n;
  // Each field takes at least 19 bytes (empty name + 18 bytes of numbers).
  if (!r.Int16(&n) || n < 0 || r.remaining() < size_t(n) * 19) return Malformed("RowDescription");
  RowDescription d;
  d.fields.resize(n);
  for (auto& f : d.fields) {
    if (!r.String(&f.name) || !r.UInt32(&f.table_oid) || !r.Int16(&f.column) ||
        !r.UInt32(&f.type_oid) || !r.Int16(&f.type_size) || !r.Int32(&f.type_modifier) ||
        !r.Int16(&f.format)) {
      return Malformed("RowDescription");
    }
  }
  if (!r.done()) return Trailing("RowDescription");
  return d;
}

Result<DataRow> DecodeDataRow(std::span<const uint8_t> payload) {
  Reader r(payload);
  int16_t n;
  if (!r.Int16(&n) || n < 0 || r.remaining() < size_t(n) * 4) return Malformed("DataRow");
  DataRow row;
  row.values.resize(n);
  for (auto& v : row.values) {
    int32_t len;
    if (!r.Int32(&len) || len < -1) return Malformed("DataRow");
    if (len == -1) continue;
    std::span<const uint8_t> bytes;
    if (!r.Bytes(size_t(len), &bytes)) return Malformed("DataRow");
    v = bytes;
  }
  if (!r.done()) return Trailing("DataRow");
  return row;
}

Result<NotificationResponse> DecodeNotificationResponse(std::span<const uint8_t> payload) {
  Reader r(payload);
  NotificationResponse n;
  if (!r.Int32(&n.pid) || !r.String(&n.channel) || !r.String(&n.payload)) {
    return Malformed("NotificationResponse");
  }
  if (!r.done()) return Trailing("NotificationResponse");
  return n;
}

Result<CopyResponse> DecodeCopyResponse(std::span<const uint8_t> payload) {
  Reader r(payload);
  CopyResponse c;
  int16_t n;
  if (!r.Byte(&c.format) || c.format > 1 || !r.Int16(&n) || n < 0 ||
      r.remaining() != size_t(n) * 2) {
    return Malformed("Copy*Response");
  }
  c.column_formats.resize(n);
  for (auto& f : c.column_formats) (void)r.Int16(&f);
  return c;
}

Result<NegotiateProtocolVersion> DecodeNegotiateProtocolVersion(std::span<const uint8_t> payload) {
  Reader r(payload);
  NegotiateProtocolVersion v;
  int32_t n;
  // Each option name takes at least its NUL.
  if (!r.Int32(&v.newest_version) || !r.Int32(&n) || n < 0 || r.remaining() < size_t(n)) {
    return Malformed("NegotiateProtocolVersion");
  }
  v.unrecognized_options.resize(n);
  for (auto& o : v.unrecognized_options) {
    if (!r.String(&o)) return Malformed("NegotiateProtocolVersion");
  }
  if (!r.done()) return Trailing("NegotiateProtocolVersion");
  return v;
}

void AppendErrorResponse(std::string* out, const ErrorSpec& error) {
  AppendFields(out, backend::kErrorResponse, error);
}

void AppendNoticeResponse(std::string* out, const ErrorSpec& notice) {
  AppendFields(out, backend::kNoticeResponse, notice);
}

void AppendAuthenticationOk(std::string* out) {
  AppendAuth(out, kAuthOk, {});
}

void AppendAuthenticationCleartextPassword(std::string* out) {
  AppendAuth(out, kAuthCleartextPassword, {});
}

void AppendAuthenticationMd5Password(std::string* out, std::array<uint8_t, 4> salt) {
  AppendAuth(out, kAuthMd5Password, AsStringView(salt));
}

void AppendAuthenticationSasl(std::string* out, std::span<const std::string_view> mechanisms) {
  const size_t start = BeginMessage(out, backend::kAuthenticationRequest);
  AppendInt32(out, kAuthSasl);
  for (std::string_view m : mechanisms) AppendCString(out, m);
  out->push_back('\0');
  EndMessage(out, start);
}

void AppendAuthenticationSaslContinue(std::string* out, std::string_view data) {
  AppendAuth(out, kAuthSaslContinue, data);
}

void AppendAuthenticationSaslFinal(std::string* out, std::string_view data) {
  AppendAuth(out, kAuthSaslFinal, data);
}

void AppendParameterStatus(std::string* out, std::string_view name, std::string_view value) {
  const size_t start = BeginMessage(out, backend::kParameterStatus);
  AppendCString(out, name);
  AppendCString(out, value);
  EndMessage(out, start);
}

void AppendBackendKeyData(std::string* out, const BackendKeyData& key) {
  const size_t start = BeginMessage(out, backend::kBackendKeyData);
  AppendInt32(out, key.pid);
  AppendUInt32(out, key.secret);
  EndMessage(out, start);
}

void AppendReadyForQuery(std::string* out, char status) {
  AppendMessage(out, backend::kReadyForQuery, std::string_view(&status, 1));
}

void AppendCommandComplete(std::string* out, std::string_view tag) {
  const size_t start = BeginMessage(out, backend::kCommandComplete);
  AppendCString(out, tag);
  EndMessage(out, start);
}

void AppendEmptyQueryResponse(std::string* out) {
  AppendMessage(out, backend::kEmptyQueryResponse, std::string_view());
}

void AppendRowDescription(std::string* out, std::span<const FieldDescription> fields) {
  const size_t start = BeginMessage(out, backend::kRowDescription);
  AppendInt16(out, static_cast<int16_t>(fields.size()));
  for (const auto& f : fields) {
    AppendCString(out, f.name);
    AppendUInt32(out, f.table_oid);
    AppendInt16(out, f.column);
    AppendUInt32(out, f.type_oid);
    AppendInt16(out, f.type_size);
    AppendInt32(out, f.type_modifier);
    AppendInt16(out, f.format);
  }
  EndMessage(out, start);
}

void AppendDataRow(std::string* out, std::span<const std::optional<std::string_view>> values) {
  const size_t start = BeginMessage(out, backend::kDataRow);
  AppendInt16(out, static_cast<int16_t>(values.size()));
  for (const auto& v : values) {
    if (!v) {
      AppendInt32(out, -1);
      continue;
    }
    AppendInt32(out, static_cast<int32_t>(v->size()));
    out->append(*v);
  }
  EndMessage(out, start);
}

}  // namespace sluice::pgsql
