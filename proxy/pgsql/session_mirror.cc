// PgSession, part five: the mirror. A mirrored session keeps a copy of each client message it
// forwards (the bytes it already holds, not re-encoded) with the segment they belong to; at
// the segment's ReadyForQuery it hands the segment, with the source's outcome, to its shadow
// session (proxy/pgsql/shadow.h). Nothing here waits or locks.
#include <fmt/format.h>

#include "common/clock.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "proxy/pgsql/session.h"
#include "proxy/pgsql/shadow.h"
#include "proxy/worker.h"

namespace sluice::pgproxy {
namespace {

namespace fe = pgsql::frontend;
namespace be = pgsql::backend;

// What the shadow runs after a source segment failed inside a transaction the shadow's copy
// of which may still be fine: the shadow's transaction must end as the source's will
// (aborted), or the client's COMMIT would commit it there.
constexpr std::string_view kAbortShadowTxn =
    "DO $$BEGIN RAISE EXCEPTION 'sluice mirror: the source aborted this transaction'; END$$";

}  // namespace

ShadowSession* PgSession::NewShadow(ShadowSession::Params p) {
  PgBackendLogin login;
  if (!ShadowCredentials(user_, &login)) return nullptr;
  login.database = database_;
  if (auto it = settings_.startup().find("application_name"); it != settings_.startup().end())
    login.application_name = it->second;
  // What the login gives the shadow's connection already is not set again.
  std::string setup =
      settings_.SyncSql(SessionVars{}, {{"application_name", login.application_name}});
  return PgShadow::Start(worker_, std::move(p), std::move(login), transaction_mode_,
                         std::move(setup));
}

void PgSession::MirrorClientMessage(char type, size_t total) {
  ShadowSession* sh = shadow();
  if (!sh) return;
  if (type == fe::kFunctionCall) {
    sh->Cut(mirror::CutReason::kOther, "a FunctionCall message is not mirrored");
    return;
  }
  // COPY data after a simple Query belongs to that Query's segment, already sent.
  bool copy = type == fe::kCopyData || type == fe::kCopyDone || type == fe::kCopyFail;
  std::string* to = &open_segment_.mirrored;
  if (copy && to->empty() && !sent_segments_.empty()) to = &sent_segments_.back().mirrored;
  mirror_held_ += total;
  if (mirror_held_ + sh->queued_bytes() > sh->max_bytes()) {
    sh->Cut(mirror::CutReason::kQueueFull,
            fmt::format("a segment of more than {} bytes waits for its answer", sh->max_bytes()));
    return;
  }
  size_t at = to->size();
  to->resize(at + total);
  evbuffer_copyout(client_.input(), to->data() + at, total);
}

bool PgSession::NoteSourceMessage(const Frame& f, size_t offset) {
  char type = static_cast<char>(f.kind);
  if (type != be::kDataRow && type != be::kCommandComplete) return true;
  evbuffer* in = backend_->input();
  size_t payload = f.total - f.header;
  if (type == be::kDataRow && payload > kMaxHashedRow) {
    cur().src_outcome.Row({}, payload);  // streamed, never held whole: its length only
    return true;
  }
  if (evbuffer_get_length(in) < offset + f.total) return false;  // at most 64 KiB more
  std::string& buf = mirror_scratch_;
  buf.resize(payload);
  evbuffer_ptr pos;
  evbuffer_ptr_set(in, &pos, offset + 5, EVBUFFER_PTR_SET);
  evbuffer_copyout_from(in, &pos, buf.data(), payload);
  cur().src_outcome.Note(type, {reinterpret_cast<const uint8_t*>(buf.data()), payload});
  return true;
}

void PgSession::MirrorSegment(char status) {
  ShadowSession* sh = shadow();
  if (!sh || sent_segments_.empty()) {
    cur().src_outcome.Begin();
    return;
  }
  SegmentStat& seg = sent_segments_.front();
  mirror_held_ -= std::min(mirror_held_, seg.mirrored.size());
  mirror::ShadowStatement s;
  s.bytes = std::move(seg.mirrored);
  s.record = seg.named;
  s.ends_txn = seg.ends_txn;
  bool error = segment_error_ || cur().src_outcome.failed();
  if (s.record) {
    s.source = sh->NextSourceOutcome();
    mirror::Outcome& o = s.source;
    o.digest_hash = seg.digest_hash;
    o.digest_text = seg.digest;
    o.start_us = seg.start_us;
    o.end_us = MonotonicUs();
    o.read = !seg.writes;
    cur().src_outcome.Fill(mirror::HasOrderBy(seg.digest), &o);
    o.ok = !error;
  }
  cur().src_outcome.Begin();
  bool replay = !(sh->mode() == MirrorMode::kReads && seg.writes);
  if (error && seg.writes) {
    // A write the source refused is not replayed: the shadow would apply what production
    // did not. Its source side counts, unpaired.
    replay = false;
    if (s.record) sh->RecordUnpaired(std::move(s.source));
  }
  if (replay) sh->Push(std::move(s));
  if (error && status == pgsql::kTxFailed && sh->mode() == MirrorMode::kAll && !sh->cut()) {
    mirror::ShadowStatement abort;
    pgsql::AppendQuery(&abort.bytes, kAbortShadowTxn);
    sh->Push(std::move(abort));
  }
}

void PgSession::MirrorLost() {
  ShadowSession* sh = shadow();
  if (!sh) return;
  mirror_held_ = 0;
  if (sent_segments_.empty() && open_segment_.mirrored.empty()) return;
  sh->Cut(mirror::CutReason::kOther,
          "the source's answer to a segment was lost: the shadow cannot know whether it ran");
}

}  // namespace sluice::pgproxy
