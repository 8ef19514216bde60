// Messages a PostgreSQL client sends after startup: decoders for the ones the proxy acts
// on, encoders to replay them on a backend, and statement-name rewrites for pooling.
//
// Layout: docs "Frontend/Backend Protocol" > "Message Formats". Decoders take the payload
// of a MessageView (see message.h) and return views into it; they reject trailing bytes,
// as the server's pq_getmsgend() does. Encoders append a whole message to *out.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::pgsql {

struct Query {
  std::string_view sql;
};

struct Parse {
  std::string_view statement;  // "" = the unnamed statement
  std::string_view query;
  std::vector<uint32_t> param_types;  // OIDs; 0 = let the server infer
};

struct Bind {
  std::string_view portal;
  std::string_view statement;
  std::vector<int16_t> param_formats;  // 0 text, 1 binary; none = all text, one = all
  std::vector<std::optional<std::span<const uint8_t>>> params;  // nullopt = SQL NULL
  std::vector<int16_t> result_formats;
};

struct Describe {
  char kind = 'S';  // kTargetStatement or kTargetPortal
  std::string_view name;
};

struct Close {
  char kind = 'S';  // kTargetStatement or kTargetPortal
  std::string_view name;
};

struct Execute {
  std::string_view portal;
  int32_t max_rows = 0;  // 0 = no limit
};

struct CopyFail {
  std::string_view message;
};

struct PasswordMessage {
  std::string_view password;  // cleartext, or "md5" + 32 hex digits
};

struct SaslInitialResponse {
  std::string_view mechanism;
  std::optional<std::span<const uint8_t>> data;  // nullopt when the length is -1
};

Result<Query> DecodeQuery(std::span<const uint8_t> payload);
Result<Parse> DecodeParse(std::span<const uint8_t> payload);
Result<Bind> DecodeBind(std::span<const uint8_t> payload);
// A Bind's portal and statement names, the rest checked as DecodeBind checks it but not
// kept: what a proxy reads of a Bind it passes on (no allocation).
struct BindNames {
  std::string_view portal;
  std::string_view statement;
};
Result<BindNames> DecodeBindNames(std::span<const uint8_t> payload);
Result<Describe> DecodeDescribe(std::span<const uint8_t> payload);
Result<Close> DecodeClose(std::span<const uint8_t> payload);
Result<Execute> DecodeExecute(std::span<const uint8_t> payload);
Result<CopyFail> DecodeCopyFail(std::span<const uint8_t> payload);
Result<PasswordMessage> DecodePasswordMessage(std::span<const uint8_t> payload);
Result<SaslInitialResponse> DecodeSaslInitialResponse(std::span<const uint8_t> payload);
// Sync, Flush, Terminate and CopyDone carry nothing; CopyData and SASLResponse carry raw
// bytes, the payload itself.
Status DecodeEmpty(std::span<const uint8_t> payload);

// Copy the message with another statement name (Parse, Bind) or target name (Describe,
// Close, keeping its 'S'/'P'), appending the whole new message to *out. The rest of the
// payload is copied verbatim, so nothing the proxy does not look at is re-encoded.
Status RewriteParseStatementName(std::span<const uint8_t> payload, std::string_view name,
                                 std::string* out);
Status RewriteBindStatementName(std::span<const uint8_t> payload, std::string_view name,
                                std::string* out);
Status RewriteDescribeName(std::span<const uint8_t> payload, std::string_view name,
                           std::string* out);
Status RewriteCloseName(std::span<const uint8_t> payload, std::string_view name, std::string* out);

void AppendQuery(std::string* out, std::string_view sql);
void AppendParse(std::string* out, const Parse& parse);
void AppendBind(std::string* out, const Bind& bind);
void AppendDescribe(std::string* out, char kind, std::string_view name);
void AppendClose(std::string* out, char kind, std::string_view name);
void AppendExecute(std::string* out, std::string_view portal, int32_t max_rows);
void AppendSync(std::string* out);
void AppendFlush(std::string* out);
void AppendTerminate(std::string* out);
void AppendCopyData(std::string* out, std::span<const uint8_t> data);
void AppendCopyDone(std::string* out);
void AppendCopyFail(std::string* out, std::string_view message);
void AppendPasswordMessage(std::string* out, std::string_view password);
void AppendSaslInitialResponse(std::string* out, std::string_view mechanism, std::string_view data);
void AppendSaslResponse(std::string* out, std::string_view data);

}  // namespace sluice::pgsql
