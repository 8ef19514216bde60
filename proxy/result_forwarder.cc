// ResultForwarder: the loop both sessions forward results with (see result_forwarder.h).
#include "proxy/result_forwarder.h"

#include <sys/uio.h>

#include <algorithm>

namespace sluice {

void ResultForwarder::Begin() {
  started_ = false;
  frames_ = 0;
  bytes_ = 0;
  rows_ = 0;
  rows_taken_ = 0;
}

uint64_t ResultForwarder::TakeRows() {
  uint64_t n = rows_ - rows_taken_;
  rows_taken_ = rows_;
  return n;
}

void ResultForwarder::Move(evbuffer* in, size_t n) {
  evbuffer_remove_buffer(in, client_->output(), n);
  bytes_ += n;
}

// The frame of total bytes `*batch` bytes into in, contiguous. When it spans two of the
// buffer's chains the run before it goes out first and the frame is pulled up at the front,
// so a run is never copied to make one frame contiguous.
std::span<const uint8_t> ResultForwarder::Contiguous(evbuffer* in, size_t* batch, size_t total) {
  evbuffer_ptr pos;
  evbuffer_ptr_set(in, &pos, *batch, EVBUFFER_PTR_SET);
  iovec v{};
  evbuffer_peek(in, static_cast<ev_ssize_t>(total), &pos, &v, 1);
  if (v.iov_len >= total) return {static_cast<const uint8_t*>(v.iov_base), total};
  if (*batch) Move(in, *batch);
  *batch = 0;
  return {evbuffer_pullup(in, static_cast<ev_ssize_t>(total)), total};
}

// The framing's run of frames in the chain at `batch` bytes into in (none when the next frame
// is not all in that chain: the usual way makes it contiguous).
size_t ResultForwarder::PassRun(evbuffer* in, size_t batch, size_t limit) {
  evbuffer_ptr pos;
  evbuffer_ptr_set(in, &pos, batch, EVBUFFER_PTR_SET);
  iovec v{};
  if (evbuffer_peek(in, -1, &pos, &v, 1) < 1) return 0;
  uint64_t frames = 0;
  uint64_t rows = 0;
  size_t n = framing_->PassRun({static_cast<const uint8_t*>(v.iov_base), v.iov_len}, limit, &frames,
                               &rows);
  if (n == 0) return 0;
  started_ = true;
  frames_ += frames;
  rows_ += rows;
  if (widened_) {
    cb_->AllowFrame(0);
    widened_ = false;
  }
  return n;
}

ResultForwarder::Outcome ResultForwarder::Backpressure() {
  if (!client_->Backlogged()) return Outcome::kWaiting;
  cb_->PauseBackendRead();
  client_->WaitForDrain();
  return Outcome::kBackpressure;
}

ResultForwarder::Outcome ResultForwarder::Forward(evbuffer* in) {
  evbuffer* out = client_->output();
  const size_t hb = framing_->header_bytes();
  const bool runs = framing_->Runs();
  size_t batch = 0;  // whole frames at the front of in that pass unchanged, not moved yet
  auto flush = [&] {
    if (batch) Move(in, batch);
    batch = 0;
  };
  for (;;) {
    if (evbuffer_get_length(out) + batch >= kClientOutHighWater) {
      // The run reached the client-side bound: out it goes. Behind a filter that takes
      // bytes as they come (the MySQL compressed protocol) the output may be empty again,
      // and frames already read from the backend would wait for bytes that never come.
      flush();
      if (evbuffer_get_length(out) >= kClientOutHighWater) break;
    }
    size_t avail = evbuffer_get_length(in);
    if (streaming_left_) {
      size_t n = std::min(streaming_left_, avail);
      if (n == 0) break;
      Move(in, n);
      streaming_left_ -= n;
      continue;
    }
    if (avail < batch + hb) break;
    if (runs) {
      // Below the bound (checked above): the run stops at the packet that reaches it.
      size_t n = PassRun(in, batch, kClientOutHighWater - evbuffer_get_length(out) - batch);
      if (n) {
        batch += n;
        continue;
      }
    }
    uint8_t hdr[ResultFraming::kMaxHeader];
    evbuffer_ptr pos;
    evbuffer_ptr_set(in, &pos, batch, EVBUFFER_PTR_SET);
    evbuffer_copyout_from(in, &pos, hdr, hb);
    Frame f;
    if (!framing_->ReadHeader(hdr, &f)) {
      flush();
      return Outcome::kMalformed;
    }
    if (!framing_->Reads(f)) {
      if (!cb_->OnPassing(f, batch)) break;
      started_ = true;
      rows_ += f.row;
      ++frames_;
      size_t here = avail - batch;
      if (here >= f.total) {
        batch += f.total;
        continue;
      }
      // Not all here yet (a large row, COPY data): streamed as it comes, never held whole.
      flush();
      Move(in, here);
      streaming_left_ = f.total - here;
      continue;
    }
    if (avail < batch + f.total) {
      // Make room for the whole frame: one over the read-ahead bound would never complete
      // otherwise. The client-side bound still limits what sluice holds.
      cb_->AllowFrame(f.total);
      widened_ = true;
      break;
    }
    if (widened_) {
      cb_->AllowFrame(0);
      widened_ = false;
    }
    std::span<const uint8_t> bytes = Contiguous(in, &batch, f.total);
    ResultFraming::Step step = framing_->Follow(&f, bytes);
    rows_ += f.row;
    Verdict verdict = cb_->OnFrame(f, step, bytes);
    if (verdict == Verdict::kDrop) {
      flush();
      evbuffer_drain(in, f.total);
      ++frames_;
      continue;
    }
    started_ = true;
    if (verdict == Verdict::kPass) {
      ++frames_;
      batch += f.total;
      if (step == ResultFraming::Step::kEnd) {
        flush();
        return Outcome::kEnded;
      }
      if (step == ResultFraming::Step::kHandOver) break;
      continue;
    }
    flush();
    bytes = {evbuffer_pullup(in, static_cast<ev_ssize_t>(f.total)), f.total};
    ++frames_;
    Next next = cb_->TakeFrame(f, step, bytes);
    if (next == Next::kGone) return Outcome::kStopped;
    if (next == Next::kEnd) return Outcome::kEnded;
    if (next == Next::kPause) break;
  }
  flush();
  return Backpressure();
}

}  // namespace sluice
