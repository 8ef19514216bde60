// ResultForwarder: a result's way back from a backend connection to the client, for both
// protocols, with the protocol's framing as a parameter (ResultFraming).
#pragma once

#include <event2/buffer.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "proxy/client_conn.h"

namespace sluice {

// One frame of a result as its header says: a MySQL packet, a PostgreSQL message.
struct Frame {
  uint8_t kind = 0;   // PostgreSQL: the message type; MySQL: 0 (the kind is in the payload)
  uint8_t seq = 0;    // MySQL: the sequence id
  bool row = false;   // a row of a result set, counted in rows()
  size_t total = 0;   // header and payload
  size_t header = 0;  // the header's bytes
};

// How a protocol frames a result: how a frame's length and kind are read, which frames the
// session must read (the others pass unread, and stream when they are large), and where a
// read frame leaves the result.
class ResultFraming {
 public:
  enum class Step {
    kMore,      // the result goes on
    kEnd,       // this frame ends the result (MySQL's last OK/ERR/EOF, ReadyForQuery)
    kHandOver,  // forwarding stops after this frame: the client speaks next (LOCAL INFILE)
    kBad,       // the frame does not fit the protocol
  };
  static constexpr size_t kMaxHeader = 8;

  virtual ~ResultFraming() = default;
  virtual size_t header_bytes() const = 0;
  // Reads the header_bytes() at header into *f; false when the protocol forbids it (a
  // length out of bounds).
  virtual bool ReadHeader(const uint8_t* header, Frame* f) = 0;
  // Whether the session reads f: it is then made whole and contiguous first.
  virtual bool Reads(const Frame& f) const = 0;
  // A frame that Reads(), whole at bytes (header included): where the result stands.
  virtual Step Follow(Frame* f, std::span<const uint8_t> bytes) = 0;

  // Whether PassRun may pass frames now (asked once per Forward).
  virtual bool Runs() const { return false; }
  // The whole frames at the front of `bytes` (contiguous) that the framing follows itself in
  // one pass and that go to the client without the session seeing them (MySQL: column
  // definitions and rows): their bytes, stopping after `limit` bytes or before a frame the
  // usual way must take; *frames and *rows count them. Also 0 for none.
  virtual size_t PassRun(std::span<const uint8_t> /*bytes*/, size_t /*limit*/, uint64_t* /*frames*/,
                         uint64_t* /*rows*/) {
    return 0;
  }
};

class ResultForwarder {
 public:
  enum class Verdict {
    kPass,  // the frame goes to the client unchanged, with the run it is part of
    kTake,  // the session takes it (TakeFrame) once the frames before it went out
    kDrop,  // dropped once the frames before it went out: nothing of it reaches the client,
            // so it does not start the result (a FATAL before a close, a swallowed reply)
  };
  enum class Next {
    kGoOn,   // forwarding goes on
    kEnd,    // the result ended: Forward returns kEnded
    kPause,  // forwarding stops for now; the session still forwards (backpressure applies)
    kGone,   // the session let go of the connection (failed, released, closed): hands off
  };
  enum class Outcome {
    kWaiting,       // for more bytes from the backend
    kBackpressure,  // the client is behind: the backend is paused until it drains
    kEnded,         // a frame ended the result (Step::kEnd passed, or Next::kEnd)
    kMalformed,     // a header the framing refused; the frames before it went out
    kStopped,       // Next::kGone
  };

  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    // A frame that passes unread is next, `offset` bytes into the backend's input (the
    // frames before it not yet moved). False: not yet, wait for more bytes.
    virtual bool OnPassing(const Frame&, size_t /*offset*/) { return true; }
    // A frame the framing reads, whole at bytes (valid during the call), after Follow.
    virtual Verdict OnFrame(const Frame& f, ResultFraming::Step step,
                            std::span<const uint8_t> bytes) = 0;
    // A frame the session takes, now at the front of the backend's input and whole at bytes:
    // the session drains it (dropped, rewritten, or moved with its effects).
    virtual Next TakeFrame(const Frame& f, ResultFraming::Step step,
                           std::span<const uint8_t> bytes) = 0;
    // A frame to read is not all here: let total bytes in (0: back to the usual bound).
    virtual void AllowFrame(size_t /*total*/) {}
    // Backpressure: stop reading the backend; it resumes at ClientConn's OnClientDrained.
    virtual void PauseBackendRead() = 0;
  };

  ResultForwarder(ResultFraming* framing, Callbacks* cb, ClientConn* client)
      : framing_(framing), cb_(cb), client_(client) {}

  // A new result (a command, a batch): the counters and the first byte start again.
  void Begin();
  // Moves what the backend's input `in` holds of the result to the client: runs of whole
  // frames in one evbuffer_remove_buffer each, a frame that passes unread streamed as it
  // comes, never held whole; bounded by the client's output watermark.
  Outcome Forward(evbuffer* in);
  // The connection is gone mid-result: a streamed frame's rest is not coming.
  void Abandon() { streaming_left_ = 0; }

  // A frame of this result reached the forwarder (a read frame whole, or an unread one
  // passing): a retry elsewhere is too late once this is true.
  bool started() const { return started_; }
  // A frame is half out to the client (the rest still to stream).
  bool mid_frame() const { return streaming_left_ > 0; }
  uint64_t frames() const { return frames_; }  // passed or taken since Begin()
  uint64_t bytes() const { return bytes_; }    // moved to the client since Begin()
  uint64_t rows() const { return rows_; }      // Frame::row frames since Begin()
  // The rows counted since the last TakeRows() (a segment's, in a pipelined batch).
  uint64_t TakeRows();

 private:
  std::span<const uint8_t> Contiguous(evbuffer* in, size_t* batch, size_t total);
  size_t PassRun(evbuffer* in, size_t batch, size_t limit);
  void Move(evbuffer* in, size_t n);
  Outcome Backpressure();

  ResultFraming* framing_;
  Callbacks* cb_;
  ClientConn* client_;
  size_t streaming_left_ = 0;  // bytes of a streamed frame still to move
  bool widened_ = false;       // AllowFrame(n) is in force
  bool started_ = false;
  uint64_t frames_ = 0;
  uint64_t bytes_ = 0;
  uint64_t rows_ = 0;
  uint64_t rows_taken_ = 0;
};

}  // namespace sluice
