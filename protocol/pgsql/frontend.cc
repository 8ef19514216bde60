#include "protocol/pgsql/frontend.h"

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

// Reads an Int16 count then that many Int16 (format codes). Bounded by the payload: a
// count the remaining bytes cannot hold is refused before anything is reserved.
bool ReadInt16Array(Reader* r, std::vector<int16_t>* out) {
  int16_t n;
  if (!r->Int16(&n) || n < 0 || r->remaining() < size_t(n) * 2) return false;
  out->resize(n);
  for (auto& v : *out) (void)r->Int16(&v);
  return true;
}

bool SkipInt16Array(Reader* r) {
  int16_t n;
  std::span<const uint8_t> v;
  return r->Int16(&n) && n >= 0 && r->Bytes(size_t(n) * 2, &v);
}

void AppendTarget(std::string* out, char type, char kind, std::string_view name) {
  const size_t start = BeginMessage(out, type);
  out->push_back(kind);
  AppendCString(out, name);
  EndMessage(out, start);
}

bool ValidKind(uint8_t kind) {
  return kind == kTargetStatement || kind == kTargetPortal;
}

template <typename T>
Result<T> DecodeTarget(std::span<const uint8_t> payload, std::string_view what) {
  Reader r(payload);
  uint8_t kind;
  T t;
  if (!r.Byte(&kind) || !ValidKind(kind) || !r.String(&t.name)) return Malformed(what);
  if (!r.done()) return Trailing(what);
  t.kind = static_cast<char>(kind);
  return t;
}

Status RewriteTarget(std::span<const uint8_t> payload, std::string_view name, char type,
                     std::string_view what, std::string* out) {
  Reader r(payload);
  uint8_t kind;
  std::string_view old_name;
  if (!r.Byte(&kind) || !ValidKind(kind) || !r.String(&old_name)) return Malformed(what);
  if (!r.done()) return Trailing(what);
  AppendTarget(out, type, static_cast<char>(kind), name);
  return Status::Ok();
}

}  // namespace

Result<Query> DecodeQuery(std::span<const uint8_t> payload) {
  Reader r(payload);
  Query q;
  if (!r.String(&q.sql)) return Malformed("Query");
  if (!r.done()) return Trailing("Query");
  return q;
}

Result<Parse> DecodeParse(std::span<const uint8_t> payload) {
  Reader r(payload);
  Parse p;
  int16_t n;
  if (!r.String(&p.statement) || !r.String(&p.query) || !r.Int16(&n) || n < 0 ||
      r.remaining() != size_t(n) * 4) {
    return Malformed("Parse");
  }
  p.param_types.resize(n);
  for (auto& oid : p.param_types) (void)r.UInt32(&oid);
  return p;
}

Result<Bind> DecodeBind(std::span<const uint8_t> payload) {
  Reader r(payload);
  Bind b;
  if (!r.String(&b.portal) || !r.String(&b.statement) || !ReadInt16Array(&r, &b.param_formats)) {
    return Malformed("Bind");
  }
  int16_t n;
  // Each parameter takes at least its 4-byte length word.
  if (!r.Int16(&n) || n < 0 || r.remaining() < size_t(n) * 4) return Malformed("Bind");
  b.params.resize(n);
  for (auto& p : b.params) {
    int32_t len;
    if (!r.Int32(&len) || len < -1) return Malformed("Bind");
    if (len == -1) continue;
    std::span<const uint8_t> v;
    if (!r.Bytes(size_t(len), &v)) return Malformed("Bind");
    p = v;
  }
  if (!ReadInt16Array(&r, &b.result_formats)) return Malformed("Bind");
  if (!r.done()) return Trailing("Bind");
  return b;
}

Result<BindNames> DecodeBindNames(std::span<const uint8_t> payload) {
  Reader r(payload);
  BindNames b;
  if (!r.String(&b.portal) || !r.String(&b.statement) || !SkipInt16Array(&r))
    return Malformed("Bind");
  int16_t n;
  if (!r.Int16(&n) || n < 0 || r.remaining() < size_t(n) * 4) return Malformed("Bind");
  for (int16_t i = 0; i < n; ++i) {
    int32_t len;
    std::span<const uint8_t> v;
    if (!r.Int32(&len) || len < -1) return Malformed("Bind");
    if (len > 0 && !r.Bytes(size_t(len), &v)) return Malformed("Bind");
  }
  if (!SkipInt16Array(&r)) return Malformed("Bind");
  if (!r.done()) return Trailing("Bind");
  return b;
}

Result<Describe> DecodeDescribe(std::span<const uint8_t> payload) {
  return DecodeTarget<Describe>(payload, "Describe");
}

Result<Close> DecodeClose(std::span<const uint8_t> payload) {
  return DecodeTarget<Close>(payload, "Close");
}

Result<Execute> DecodeExecute(std::span<const uint8_t> payload) {
  Reader r(payload);
  Execute e;
  if (!r.String(&e.portal) || !r.Int32(&e.max_rows)) return Malformed("Execute");
  if (!r.done()) return Trailing("Execute");
  return e;
}

Result<CopyFail> DecodeCopyFail(std::span<const uint8_t> payload) {
  Reader r(payload);
  CopyFail f;
  if (!r.String(&f.message)) return Malformed("CopyFail");
  if (!r.done()) return Trailing("CopyFail");
  return f;
}

Result<PasswordMessage> DecodePasswordMessage(std::span<const uint8_t> payload) {
  Reader r(payload);
  PasswordMessage m;
  if (!r.String(&m.password)) return Malformed("PasswordMessage");
  if (!r.done()) return Trailing("PasswordMessage");
  return m;
}

Result<SaslInitialResponse> DecodeSaslInitialResponse(std::span<const uint8_t> payload) {
  Reader r(payload);
  SaslInitialResponse m;
  int32_t len;
  if (!r.String(&m.mechanism) || !r.Int32(&len) || len < -1) {
    return Malformed("SASLInitialResponse");
  }
  if (len >= 0) {
    std::span<const uint8_t> data;
    if (!r.Bytes(size_t(len), &data)) return Malformed("SASLInitialResponse");
    m.data = data;
  }
  if (!r.done()) return Trailing("SASLInitialResponse");
  return m;
}

Status DecodeEmpty(std::span<const uint8_t> payload) {
  if (!payload.empty()) return ProtocolError("message should be empty but has a payload");
  return Status::Ok();
}

Status RewriteParseStatementName(std::span<const uint8_t> payload, std::string_view name,
                                 std::string* out) {
  Reader r(payload);
  std::string_view old_name;
  if (!r.String(&old_name)) return Malformed("Parse");
  const size_t start = BeginMessage(out, frontend::kParse);
  AppendCString(out, name);
  AppendBytes(out, r.Rest());
  EndMessage(out, start);
  return Status::Ok();
}

Status RewriteBindStatementName(std::span<const uint8_t> payload, std::string_view name,
                                std::string* out) {
  Reader r(payload);
  std::string_view portal, old_name;
  if (!r.String(&portal) || !r.String(&old_name)) return Malformed("Bind");
  const size_t start = BeginMessage(out, frontend::kBind);
  AppendCString(out, portal);
  AppendCString(out, name);
  AppendBytes(out, r.Rest());
  EndMessage(out, start);
  return Status::Ok();
}

Status RewriteDescribeName(std::span<const uint8_t> payload, std::string_view name,
                           std::string* out) {
  return RewriteTarget(payload, name, frontend::kDescribe, "Describe", out);
}

Status RewriteCloseName(std::span<const uint8_t> payload, std::string_view name, std::string* out) {
  return RewriteTarget(payload, name, frontend::kClose, "Close", out);
}

void AppendQuery(std::string* out, std::string_view sql) {
  const size_t start = BeginMessage(out, frontend::kQuery);
  AppendCString(out, sql);
  EndMessage(out, start);
}

void AppendParse(std::string* out, const Parse& parse) {
  const size_t start = BeginMessage(out, frontend::kParse);
  AppendCString(out, parse.statement);
  AppendCString(out, parse.query);
  AppendInt16(out, static_cast<int16_t>(parse.param_types.size()));
  for (uint32_t oid : parse.param_types) AppendUInt32(out, oid);
  EndMessage(out, start);
}

void AppendBind(std::string* out, const Bind& bind) {
  const size_t start = BeginMessage(out, frontend::kBind);
  AppendCString(out, bind.portal);
  AppendCString(out, bind.statement);
  AppendInt16(out, static_cast<int16_t>(bind.param_formats.size()));
  for (int16_t f : bind.param_formats) AppendInt16(out, f);
  AppendInt16(out, static_cast<int16_t>(bind.params.size()));
  for (const auto& p : bind.params) {
    if (!p) {
      AppendInt32(out, -1);
      continue;
    }
    AppendInt32(out, static_cast<int32_t>(p->size()));
    AppendBytes(out, *p);
  }
  AppendInt16(out, static_cast<int16_t>(bind.result_formats.size()));
  for (int16_t f : bind.result_formats) AppendInt16(out, f);
  EndMessage(out, start);
}

void AppendDescribe(std::string* out, char kind, std::string_view name) {
  AppendTarget(out, frontend::kDescribe, kind, name);
}

void AppendClose(std::string* out, char kind, std::string_view name) {
  AppendTarget(out, frontend::kClose, kind, name);
}

void AppendExecute(std::string* out, std::string_view portal, int32_t max_rows) {
  const size_t start = BeginMessage(out, frontend::kExecute);
  AppendCString(out, portal);
  AppendInt32(out, max_rows);
  EndMessage(out, start);
}

void AppendSync(std::string* out) {
  AppendMessage(out, frontend::kSync, std::string_view());
}
void AppendFlush(std::string* out) {
  AppendMessage(out, frontend::kFlush, std::string_view());
}
void AppendTerminate(std::string* out) {
  AppendMessage(out, frontend::kTerminate, std::string_view());
}

void AppendCopyData(std::string* out, std::span<const uint8_t> data) {
  AppendMessage(out, frontend::kCopyData, data);
}

void AppendCopyDone(std::string* out) {
  AppendMessage(out, frontend::kCopyDone, std::string_view());
}

void AppendCopyFail(std::string* out, std::string_view message) {
  const size_t start = BeginMessage(out, frontend::kCopyFail);
  AppendCString(out, message);
  EndMessage(out, start);
}

void AppendPasswordMessage(std::string* out, std::string_view password) {
  const size_t start = BeginMessage(out, frontend::kPasswordMessage);
  AppendCString(out, password);
  EndMessage(out, start);
}

void AppendSaslInitialResponse(std::string* out, std::string_view mechanism,
                               std::string_view data) {
  const size_t start = BeginMessage(out, frontend::kSaslInitialResponse);
  AppendCString(out, mechanism);
  AppendInt32(out, static_cast<int32_t>(data.size()));
  out->append(data);
  EndMessage(out, start);
}

void AppendSaslResponse(std::string* out, std::string_view data) {
  AppendMessage(out, frontend::kSaslResponse, data);
}

}  // namespace sluice::pgsql
