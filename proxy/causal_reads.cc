#include "proxy/causal_reads.h"

namespace sluice {
using routing::Covers;

void CausalReads::NoteWrite(const routing::CausalPosition& pos, routing::CausalBoard* board) {
  if (pos.empty()) return;
  written_.Merge(pos);
  unknown_ = false;
  board->Note(pos);
}

void CausalReads::NoteUnknownWrite(routing::CausalBoard* board) {
  unknown_ = true;
  board->NoteUnknown();
}

void CausalReads::Prepare(Consistency mode, const routing::CausalBoard& board, bool failed,
                          RouteRequest* req, const routing::CausalPosition& primary_seen) {
  req->causal_failed = failed;
  switch (mode) {
    case Consistency::kEventual:
      req->causal_needed = false;
      return;
    case Consistency::kSession:
      req->causal_needed = unknown_ || !written_.empty();
      req->causal_known = !unknown_;
      target_ = written_;
      return;
    case Consistency::kGlobal: {
      bool complete = board.Snapshot(&target_);
      target_.Merge(written_);
      target_.Merge(primary_seen);
      req->causal_needed = !complete || !target_.empty();
      req->causal_known = complete && !unknown_;
      return;
    }
  }
}

bool CausalReads::Confirmed(int server, uint64_t version) const {
  return server >= 0 && server < 64 && version == confirmed_version_ &&
         ((confirmed_mask_ >> server) & 1) && Covers(confirmed_for_, target_);
}

void CausalReads::Confirm(int server, uint64_t version) {
  if (server < 0 || server >= 64) return;
  if (version != confirmed_version_ || !Covers(confirmed_for_, target_)) {
    confirmed_for_ = target_;
    confirmed_mask_ = 0;
    confirmed_version_ = version;
  }
  confirmed_mask_ |= uint64_t{1} << server;
}

}  // namespace sluice
