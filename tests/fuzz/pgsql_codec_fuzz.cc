// libFuzzer entry for protocol/pgsql: feeds attacker bytes to the startup decoder, the
// framing loop, every message decoder and rewrite, and both SCRAM sides' parsers.
//
// Beyond "no crash, no sanitizer report", it checks round trips: what a decoder accepts,
// its encoder writes back so that decoding again gives the same fields.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/md5.h"
#include "protocol/pgsql/message.h"
#include "protocol/pgsql/scram.h"
#include "protocol/pgsql/startup.h"

namespace sluice::pgsql {
namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

MessageView Reframe(const std::string& wire) {
  MessageView m;
  size_t consumed = 0;
  Check(DecodeMessage(AsBytes(wire), &m, &consumed) == DecodeStatus::kMessage);
  Check(consumed == wire.size());
  return m;
}

void FuzzStartup(std::span<const uint8_t> in) {
  // Bounded: each pass consumes at least 8 bytes or stops.
  for (int i = 0; i < 64 && !in.empty(); ++i) {
    size_t consumed = 0;
    StartupResult r = DecodeStartup(in, &consumed);
    if (r.kind == StartupKind::kNeedMoreData || r.kind == StartupKind::kError) return;
    Check(consumed >= 8 && consumed <= in.size());
    if (r.kind == StartupKind::kStartup) {
      std::string wire;
      AppendStartupMessage(&wire, r.startup);
      size_t c2 = 0;
      StartupResult again = DecodeStartup(AsBytes(wire), &c2);
      Check(again.kind == StartupKind::kStartup && again.startup.params == r.startup.params);
      std::string nego;
      const auto options = r.startup.ProtocolOptions();
      AppendNegotiateProtocolVersion(&nego, 0, options);
      Check(DecodeNegotiateProtocolVersion(Reframe(nego).payload).ok());
    }
    in = in.subspan(consumed);
  }
}

void FuzzFrontend(const MessageView& m) {
  std::string out;
  if (auto q = DecodeQuery(m.payload); q.ok()) {
    AppendQuery(&out, q->sql);
    Check(DecodeQuery(Reframe(out).payload)->sql == q->sql);
  }
  out.clear();
  if (auto p = DecodeParse(m.payload); p.ok()) {
    AppendParse(&out, *p);
    auto again = DecodeParse(Reframe(out).payload);
    Check(again.ok() && again->query == p->query && again->param_types == p->param_types);
  }
  out.clear();
  if (RewriteParseStatementName(m.payload, "sluice_x", &out).ok()) Reframe(out);
  out.clear();
  if (auto b = DecodeBind(m.payload); b.ok()) {
    AppendBind(&out, *b);
    const std::string wire = out;
    auto again = DecodeBind(Reframe(wire).payload);
    Check(again.ok() && again->params.size() == b->params.size() &&
          again->param_formats == b->param_formats && again->result_formats == b->result_formats);
    out.clear();
    Check(RewriteBindStatementName(m.payload, "s", &out).ok());
    auto rewritten = DecodeBind(Reframe(out).payload);
    Check(rewritten.ok() && rewritten->statement == "s" && rewritten->portal == b->portal);
  }
  out.clear();
  (void)RewriteBindStatementName(m.payload, "", &out);
  out.clear();
  if (auto d = DecodeDescribe(m.payload); d.ok()) {
    Check(RewriteDescribeName(m.payload, "n", &out).ok());
    Check(DecodeDescribe(Reframe(out).payload)->kind == d->kind);
  }
  out.clear();
  if (DecodeClose(m.payload).ok()) {
    Check(RewriteCloseName(m.payload, "n", &out).ok());
    Check(DecodeClose(Reframe(out).payload).ok());
  }
  out.clear();
  if (auto e = DecodeExecute(m.payload); e.ok()) {
    AppendExecute(&out, e->portal, e->max_rows);
    Check(DecodeExecute(Reframe(out).payload)->max_rows == e->max_rows);
  }
  (void)DecodeCopyFail(m.payload);
  (void)DecodePasswordMessage(m.payload);
  (void)DecodeSaslInitialResponse(m.payload);
  (void)DecodeEmpty(m.payload);
}

void FuzzBackend(const MessageView& m) {
  std::string out;
  (void)DecodeReadyForQuery(m.payload);
  if (auto e = DecodeErrorFields(m.payload); e.ok()) {
    (void)e->severity();
    (void)e->sqlstate();
  }
  (void)DecodeParameterStatus(m.payload);
  (void)DecodeBackendKeyData(m.payload);
  if (auto a = DecodeAuthentication(m.payload); a.ok()) {
    (void)DecodeSaslMechanisms(a->data);
    (void)DecodeMd5Salt(a->data);
  }
  if (auto c = DecodeCommandComplete(m.payload); c.ok()) (void)CommandTagRows(c->tag);
  (void)DecodeRowDescriptionColumnCount(m.payload);
  if (auto d = DecodeRowDescription(m.payload); d.ok()) {
    AppendRowDescription(&out, d->fields);
    auto again = DecodeRowDescription(Reframe(out).payload);
    Check(again.ok() && again->fields.size() == d->fields.size());
  }
  out.clear();
  if (auto row = DecodeDataRow(m.payload); row.ok()) {
    std::vector<std::optional<std::string_view>> values;
    for (const auto& v : row->values) {
      values.push_back(v ? std::optional<std::string_view>(AsStringView(*v)) : std::nullopt);
    }
    AppendDataRow(&out, values);
    Check(AsStringView(Reframe(out).payload) == AsStringView(m.payload));
  }
  (void)DecodeNotificationResponse(m.payload);
  (void)DecodeCopyResponse(m.payload);
  (void)DecodeNegotiateProtocolVersion(m.payload);
}

void FuzzFraming(std::span<const uint8_t> in) {
  // Bounded: each pass consumes at least 5 bytes or stops.
  while (!in.empty()) {
    MessageView m;
    size_t consumed = 0;
    if (DecodeMessage(in, &m, &consumed, 1 << 16) != DecodeStatus::kMessage) return;
    Check(consumed == m.payload.size() + 5 && consumed <= in.size());
    FuzzFrontend(m);
    FuzzBackend(m);
    in = in.subspan(consumed);
  }
}

const ScramVerifier& Verifier() {
  static const ScramVerifier v = *MakeVerifier("pencil", "0123456789abcdef", 4096);
  return v;
}

// The text up to the first '\n' is the client-first message, the rest the client-final.
void FuzzScram(std::string_view text) {
  const size_t nl = text.find('\n');
  const std::string_view first = text.substr(0, nl);
  const std::string_view rest = nl == std::string_view::npos ? "" : text.substr(nl + 1);

  ScramServerSession server(Verifier());
  server.set_server_nonce("SRVNONCE");
  if (server.ServerFirst(first).ok()) (void)server.ServerFinal(rest);
  Check(!server.authenticated() || server.client_key().has_value());

  // The client side from keys (no PBKDF2, whose cost an attacker picks with i=).
  ScramClientSession client = ScramClientSession::FromKeys(ScramKey{}, ScramKey{});
  client.set_client_nonce("CLI");
  Check(client.ClientFirst().ok());
  if (client.ClientFinal(first).ok()) (void)client.VerifyServerFinal(rest);

  (void)ParseVerifier(text);
  // Decoding ignores unused trailing bits, so only encode-then-decode must round-trip.
  if (auto raw = Base64Decode(text); raw.ok()) {
    Check(*Base64Decode(Base64Encode(AsBytes(*raw))) == *raw);
  }
  (void)Md5PasswordFromHash(text, {1, 2, 3, 4});
}

}  // namespace
}  // namespace sluice::pgsql

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::pgsql;
  const std::span<const uint8_t> in(data, size);
  FuzzStartup(in);
  FuzzFraming(in);
  FuzzScram(AsStringView(in));
  return 0;
}
