#include "proxy/pgsql/shadow.h"

#include <arpa/inet.h>

#include <cstring>

#include "common/log.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/message.h"
#include "proxy/pgsql/wire.h"
#include "proxy/worker.h"

namespace sluice::pgproxy {
namespace {

namespace be = pgsql::backend;
namespace fe = pgsql::frontend;

}  // namespace

PgShadow* PgShadow::Start(Worker* w, Params p, PgBackendLogin login, bool map_names,
                          std::string setup_sql) {
  auto* s = new PgShadow(w, std::move(p), std::move(login), map_names);
  s->ShadowSession::Start();
  if (!setup_sql.empty()) {
    // The client's startup settings, before its first statement (not in the report).
    mirror::ShadowStatement st;
    pgsql::AppendQuery(&st.bytes, setup_sql);
    s->Push(std::move(st));
  }
  return s;
}

void PgShadow::Send(mirror::ShadowStatement& s) {
  out_.clear();
  copy_data_ = false;
  const std::string& in = s.bytes;
  for (size_t i = 0; i + 5 <= in.size();) {
    uint32_t len;
    memcpy(&len, in.data() + i + 1, 4);
    len = ntohl(len);
    size_t total = size_t{len} + 1;
    if (len < 4 || i + total > in.size()) break;  // the session queued whole messages only
    char type = in[i];
    std::string_view whole(in.data() + i, total);
    std::span<const uint8_t> payload(reinterpret_cast<const uint8_t*>(in.data()) + i + 5, len - 4);
    if (type == fe::kCopyDone || type == fe::kCopyFail) copy_data_ = true;
    Status st = map_names_ ? names_.Map(type, payload, whole, &out_) : Status::Ok();
    if (!map_names_) out_.append(whole);
    if (!st.ok()) {
      Cut(mirror::CutReason::kOther, fmt::format("a '{}' message: {}", type, st.message()));
      return;
    }
    i += total;
  }
  tracker_.Begin();
  (void)parse_errors_.Begin(out_);  // whole messages: checked above
  ordered_ = s.ordered;
  waiting_ = true;
  AppendTo(backend_->output(), out_);
  backend_->WriteNow();
}

void PgShadow::OnBackendReadable(PgBackend* b) {
  if (b != backend_) return;
  evbuffer* in = b->input();
  for (;;) {
    if (skip_left_) {
      size_t n = std::min(skip_left_, evbuffer_get_length(in));
      evbuffer_drain(in, n);
      skip_left_ -= n;
      if (skip_left_) return;
      continue;
    }
    MsgHeader h;
    PeekResult r = PeekHeader(in, &h, pgsql::kMaxMessageLength);
    if (r == PeekResult::kNeedMore) return;
    if (r == PeekResult::kBad) {
      Failed(fmt::format("shadow server {}: malformed message", b->server()));
      return;
    }
    if (h.total() > kMaxHashedRow + 5) {
      // Not held whole (the connection's read-ahead is bounded): counted by its length.
      if (waiting_ && h.type == be::kDataRow) tracker_.Row({}, h.length - 4);
      if (waiting_ && h.type == be::kErrorResponse) tracker_.Error({});
      size_t n = std::min(h.total(), evbuffer_get_length(in));
      evbuffer_drain(in, n);
      skip_left_ = h.total() - n;
      continue;
    }
    std::span<const uint8_t> p;
    r = PeekMessage(in, &h, &p, pgsql::kMaxMessageLength);
    if (r == PeekResult::kNeedMore) return;
    if (!waiting_) {  // a notice or a notification between segments
      evbuffer_drain(in, h.total());
      continue;
    }
    if (h.type == be::kReadyForQuery) {
      evbuffer_drain(in, h.total());
      waiting_ = false;
      mirror::Outcome o;
      tracker_.Fill(ordered_, &o);
      parse_errors_.End(&o);
      Answered(std::move(o));  // may send the next segment, or cut, or delete later
      if (!backend_) return;
      backend_->WriteNow();
      continue;
    }
    if (h.type == be::kCopyInResponse && !copy_data_) {
      // The source's COPY failed before its data: the client sent none, so the shadow's
      // COPY ends here.
      std::string fail;
      pgsql::AppendCopyFail(&fail, "sluice mirror: the client sent no COPY data");
      AppendTo(b->output(), fail);
      copy_data_ = true;
      b->WriteNow();
    }
    tracker_.Note(h.type, p);
    parse_errors_.Note(h.type);
    evbuffer_drain(in, h.total());
  }
}

}  // namespace sluice::pgproxy
