#include "proxy/pgsql/shadow.h"

#include <arpa/inet.h>

#include <strings.h>

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

namespace {

// Calls F(type, payload) for each whole message of SEGMENT (the session queues whole ones).
template <class F>
void ForEachMessage(std::string_view segment, F&& f) {
  for (size_t i = 0; i + 5 <= segment.size();) {
    uint32_t len;
    memcpy(&len, segment.data() + i + 1, 4);
    len = ntohl(len);
    size_t total = size_t{len} + 1;
    if (len < 4 || i + total > segment.size()) return;
    f(segment[i], segment.substr(i, total));
    i += total;
  }
}

bool CarriesCopyData(std::string_view segment) {
  bool copy = false;
  ForEachMessage(segment, [&](char type, std::string_view) {
    copy = copy || type == fe::kCopyDone || type == fe::kCopyFail;
  });
  return copy;
}

}  // namespace

PgShadow::Sent PgShadow::Send(mirror::ShadowStatement& s, mirror::Outcome*) {
  if (!map_names_) {
    AppendTo(backend_->output(), s.bytes);
    return Sent::kAwaitsAnswer;
  }
  out_.clear();
  Status st;
  ForEachMessage(s.bytes, [&](char type, std::string_view whole) {
    if (!st.ok()) return;
    std::span<const uint8_t> payload(reinterpret_cast<const uint8_t*>(whole.data()) + 5,
                                     whole.size() - 5);
    st = names_.Map(type, payload, whole, &out_);
    if (!st.ok()) st = ProtocolError(fmt::format("a '{}' message: {}", type, st.message()));
  });
  if (!st.ok()) {
    Cut(mirror::CutReason::kOther, st.message());
    return Sent::kAwaitsAnswer;
  }
  AppendTo(backend_->output(), out_);
  // The statement keeps what the shadow got: its answer is read with the shadow's names.
  s.bytes.swap(out_);
  return Sent::kAwaitsAnswer;
}

bool PgShadow::EndsRun(const mirror::ShadowStatement& s) const {
  // A COPY FROM STDIN whose data the segment does not carry (the source's COPY failed before
  // it): the shadow asks for data, and would read the segments after it as that data.
  bool copy_query = false;
  ForEachMessage(s.bytes, [&](char type, std::string_view whole) {
    if (type != fe::kQuery) return;
    std::string_view q = whole.substr(5);
    while (!q.empty() && (q[0] == ' ' || q[0] == '\t' || q[0] == '\n' || q[0] == '\r'))
      q.remove_prefix(1);
    copy_query = copy_query || (q.size() >= 4 && strncasecmp(q.data(), "copy", 4) == 0);
  });
  return copy_query && !CarriesCopyData(s.bytes);
}

bool PgShadow::BeginAnswer() {
  const mirror::ShadowStatement* s = Awaited();
  if (!s) return false;
  tracker_.Begin();
  (void)parse_errors_.Begin(s->bytes);  // whole messages: checked when they were queued
  ordered_ = s->ordered;
  copy_data_ = CarriesCopyData(s->bytes);
  waiting_ = true;
  return true;
}

void PgShadow::OnBackendReadable(PgBackend* b) {
  if (b != backend_) return;
  evbuffer* in = b->input();
  for (;;) {
    if (skip_left_) {
      size_t n = std::min(skip_left_, evbuffer_get_length(in));
      evbuffer_drain(in, n);
      skip_left_ -= n;
      if (skip_left_) break;
      continue;
    }
    MsgHeader h;
    PeekResult r = PeekHeader(in, &h, pgsql::kMaxMessageLength);
    if (r == PeekResult::kNeedMore) break;
    if (r == PeekResult::kBad) {
      Failed(fmt::format("shadow server {}: malformed message", b->server()));
      return;
    }
    if (!waiting_) BeginAnswer();  // else a notice or a notification between segments
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
    if (r == PeekResult::kNeedMore) break;
    if (!waiting_) {
      evbuffer_drain(in, h.total());
      continue;
    }
    if (h.type == be::kReadyForQuery) {
      evbuffer_drain(in, h.total());
      waiting_ = false;
      mirror::Outcome o;
      tracker_.Fill(ordered_, &o);
      parse_errors_.End(&o);
      Answered(std::move(o));  // may cut
      if (!backend_) return;
      continue;
    }
    if (h.type == be::kCopyInResponse && !copy_data_) {
      if (in_flight() > 1) {
        // The segments written after it would be read as its data.
        Cut(mirror::CutReason::kOther, "the shadow asked for COPY data mid-pipeline");
        return;
      }
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
  Pump();  // the next run, once every answer read is recorded
}

}  // namespace sluice::pgproxy
