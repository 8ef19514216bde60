// ShadowSession: the mirror's half of one mirrored client session, on the client's worker:
// the client's statements, queued in its order once the source has answered them
// (mirror/shadow_queue.h, bounded), replayed on a connection of its own to the shadow
// cluster, pipelined: every statement that may go is written in one run (bounded in
// statements and bytes), the in-flight ones stay at the queue's front in order, and each
// answer is the front's. Each statement's shadow outcome is paired with the source's and
// recorded in the worker's mirror feed (mirror/partial.h). The client's path only ever
// pushes: it never waits for the shadow and takes no lock. Each protocol adds the wire
// (mysql/shadow.*, pgsql/shadow.*).
#pragma once

#include <event2/event.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "mirror/outcome.h"
#include "mirror/partial.h"
#include "mirror/shadow_queue.h"
#include "proxy/backend_conn.h"
#include "routing/runtime.h"

namespace sluice {

class Worker;

// Whether a session of SOURCE_CLUSTER is mirrored, decided once at login: the cluster is a
// mirror's source, the mirror is on, and the session's sample U (0 <= U < 1) falls under the
// exposure. The mirror, or nullptr.
const MirrorConfig* SampleMirror(const Runtime& rt, const std::string& source_cluster, double u);

// The server a shadow session connects to: the shadow cluster's primary (mode all), or in
// mode reads a replica (the primary when there is none); ONLINE or SHUNNED (a shadow that is
// really down fails the connect), never OFFLINE. -1 when there is none.
int ShadowServer(const Cluster& shadow, MirrorMode mode);

class ShadowSession {
 public:
  struct Params {
    std::string mirror;
    size_t shadow_cluster = 0;  // index in the snapshot's clusters
    MirrorMode mode = MirrorMode::kAll;
    uint64_t session_id = 0;
    size_t max_bytes = 4 << 20;
    size_t max_statements = 1000;
    int answer_timeout_ms = 30000;  // the shadow's bound on one statement
    // The pipeline's bounds: statements written and not yet answered, and their bytes (a
    // statement larger than that still goes, alone).
    size_t max_in_flight = 64;
    size_t max_in_flight_bytes = 256 << 10;
  };

  virtual ~ShadowSession();
  ShadowSession(const ShadowSession&) = delete;
  ShadowSession& operator=(const ShadowSession&) = delete;

  // Queues S behind the statements before it (the source answered S already; its outcome is
  // in S.source when S.record). Over a bound the session's mirroring is cut (queue_full).
  void Push(mirror::ShadowStatement s);
  // A statement the shadow is not given (the source refused a write): its source side
  // counts in the report, unpaired.
  void RecordUnpaired(mirror::Outcome source);
  // Cuts the session's mirroring as a whole: the shadow connection closes, the statements
  // still queued are reported unpaired, and the cut is counted under WHY.
  void Cut(mirror::CutReason why, const std::string& what);
  // The client session ended: the shadow still replays what is queued, then deletes itself
  // (at once when it is cut or idle). The caller forgets this object.
  void ClientGone();

  bool cut() const { return cut_; }
  const std::string& mirror() const { return p_.mirror; }
  uint64_t session_id() const { return p_.session_id; }
  MirrorMode mode() const { return p_.mode; }
  // The next statement's number in this session (from 1): the source outcome's seq.
  uint64_t NextSeq() { return ++seq_; }
  // A source outcome of the next statement, as far as this session knows it: its mirror,
  // side, session and seq (NextSeq); the protocol adds digest, times and result.
  mirror::Outcome NextSourceOutcome() {
    mirror::Outcome o;
    o.mirror = p_.mirror;
    o.side = mirror::Side::kSource;
    o.session_id = p_.session_id;
    o.seq = NextSeq();
    return o;
  }
  size_t queued_bytes() const { return queue_.bytes(); }
  size_t max_bytes() const { return p_.max_bytes; }
  size_t queued() const { return queue_.size(); }
  // Statements written to the shadow and not yet answered (the queue's first ones).
  size_t in_flight() const { return in_flight_; }

 protected:
  ShadowSession(Worker* w, Params p);
  // The protocol connects and logs in; Ready() or Failed() follows.
  virtual void Connect() = 0;
  enum class Sent {
    kAwaitsAnswer,  // written: its answer comes from the server, in order
    kLocal,         // answered here (no response, or the protocol's own *LOCAL outcome)
  };
  // Appends S to the connection's output (Flush sends a run); S may be rewritten (the
  // shadow's own statement ids or names: what the shadow got, for the answer's decoding).
  virtual Sent Send(mirror::ShadowStatement& s, mirror::Outcome* local) = 0;
  // Nothing after S is written until S is answered: what follows depends on S's answer (a
  // prepared statement's id), or the server may answer S with a request of its own.
  virtual bool EndsRun(const mirror::ShadowStatement& s) const = 0;
  // Sends what Send appended.
  virtual void Flush() = 0;
  // Closes the connection (no callback follows).
  virtual void Disconnect() = 0;

  // The protocol's half calls these.
  void Start();  // from the protocol's constructor's caller: Connect()
  // The shadow server to connect to (ShadowServer), its address and connect bound in *T;
  // nullptr, the session cut (shadow_down), when the shadow cluster has none.
  const Server* PickServer(BackendTarget* t);
  // Closes *B (a connection of the protocol's own) without a callback; *B becomes null.
  template <class B>
  static void DropBackend(B** b) {
    if (!*b) return;
    B* conn = *b;
    *b = nullptr;
    conn->SetOwner(nullptr);
    conn->Destroy();
  }
  void Ready();
  // The statement whose answer the server sends next (the in-flight front), or nullptr when
  // none is in flight (the server's bytes then answer nothing).
  mirror::ShadowStatement* Awaited() { return in_flight_ ? &queue_.front() : nullptr; }
  // The awaited statement's answer is complete: SHADOW's ok/error/rows/checksum are the
  // protocol's, the rest (digest, seq, times) is filled here. Nothing more is sent until
  // Pump(): the protocol reads every answer its input holds first.
  void Answered(mirror::Outcome shadow);
  // Writes every queued statement the pipeline's bounds let go, in one run, and sends it;
  // the session deletes itself here once its client is gone and all is answered.
  void Pump();
  // The shadow connection failed or broke: the session is cut (shadow_down).
  void Failed(const std::string& why);

  Worker* worker_;
  Params p_;

 private:
  // The front's answer is O: recorded (when the statement is), popped.
  void Complete(mirror::Outcome o);
  // Completes the statements answered here that have reached the front.
  void CompleteLocal();
  void DeleteLater();
  void ArmTimer();
  static void OnTimeout(evutil_socket_t, short, void* arg);
  mirror::MirrorPartial* partial();
  void Record(const mirror::OutcomePair& pair);
  void QueueBytes(int64_t delta);  // the mirror's queue-bytes gauge follows this queue

  mirror::ShadowQueue queue_;
  mirror::OutcomePairer pairer_;
  std::deque<mirror::OutcomePair> unpaired_;  // Answered()'s scratch, empty between calls
  std::deque<mirror::Outcome> local_;         // the outcomes of recorded statements answered here,
                                              // in flight behind others (rare: a refused prepare)
  event* timer_ = nullptr;
  bool timer_armed_ = false;  // armed at most once per timeout, not once per statement
  uint64_t seq_ = 0;
  size_t in_flight_ = 0;        // the queue's first statements, written, not yet answered
  size_t in_flight_bytes_ = 0;  // their bytes
  bool run_ended_ = false;      // an in-flight statement EndsRun: nothing more until it's answered
  int64_t last_done_us_ = 0;    // when the previous answer came (a pipelined statement's start)
  bool ready_ = false;
  bool cut_ = false;
  bool client_gone_ = false;
  bool deleting_ = false;
};

}  // namespace sluice
