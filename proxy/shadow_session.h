// ShadowSession: the mirror's half of one mirrored client session, on the client's worker:
// the client's statements, queued in its order once the source has answered them
// (mirror/shadow_queue.h, bounded), replayed one at a time on a connection of its own to the
// shadow cluster; each statement's shadow outcome is paired with the source's and recorded
// in the worker's mirror feed (mirror/partial.h). The client's path only ever pushes: it
// never waits for the shadow and takes no lock. Each protocol adds the wire (mysql/shadow.*).
#pragma once

#include <event2/event.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "mirror/outcome.h"
#include "mirror/partial.h"
#include "mirror/shadow_queue.h"
#include "mirror/write_order.h"
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
    // Mode all: the mirror's write order (a write waits for every write the source answered
    // before it to be done on the shadow); nullptr: each session in its own order only.
    mirror::WriteOrder* order = nullptr;
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
  // ShadowWaiters: its turn in the write order may have come.
  void Resume();
  size_t queued_bytes() const { return queue_.bytes(); }
  size_t max_bytes() const { return p_.max_bytes; }
  size_t queued() const { return queue_.size(); }

 protected:
  ShadowSession(Worker* w, Params p);
  // The protocol connects and logs in; Ready() or Failed() follows.
  virtual void Connect() = 0;
  // Sends the front statement; its response ends in Answered() (or Failed()). A statement
  // without a response calls Answered() at once.
  virtual void Send(mirror::ShadowStatement& s) = 0;
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
  // The front statement's response is complete: SHADOW's ok/error/rows/checksum are the
  // protocol's, the rest (digest, seq, times) is filled here.
  void Answered(mirror::Outcome shadow);
  // The shadow connection failed or broke: the session is cut (shadow_down).
  void Failed(const std::string& why);

  Worker* worker_;
  Params p_;
  int64_t sent_us_ = 0;  // when the front statement was sent

 private:
  void SendNext();
  void DeleteLater();
  static void OnTimeout(evutil_socket_t, short, void* arg);
  mirror::MirrorPartial* partial();
  void Record(const mirror::OutcomePair& pair);
  void QueueBytes(int64_t delta);  // the mirror's queue-bytes gauge follows this queue
  // Out of the worker's ShadowWaiters, if in it.
  void StopWaiting();
  // Ticket T is done on the shadow (or never to be sent); wakes the worker of the next one.
  void FinishTicket(uint64_t t);

  mirror::ShadowQueue queue_;
  mirror::OutcomePairer pairer_;
  std::deque<mirror::OutcomePair> unpaired_;  // Answered()'s scratch, empty between calls
  event* timer_ = nullptr;
  uint64_t seq_ = 0;
  bool ready_ = false;
  bool busy_ = false;          // the front statement is on the shadow
  bool waiting_ = false;       // the front write waits for its turn (in the worker's ShadowWaiters)
  bool order_waited_ = false;  // ... and waited kOrderWaitMs: it goes without its turn
  static constexpr int kOrderWaitMs = 1000;
  bool cut_ = false;
  bool client_gone_ = false;
  bool deleting_ = false;
};

// The shadow sessions of one worker whose front write waits for its turn in a write order,
// and the event that gives them the turn: the worker that finished the ticket before (this
// one, or another through Worker::Post) calls Wake(), which runs from this worker's loop.
class ShadowWaiters {
 public:
  explicit ShadowWaiters(event_base* base);
  ~ShadowWaiters();
  ShadowWaiters(const ShadowWaiters&) = delete;
  ShadowWaiters& operator=(const ShadowWaiters&) = delete;
  void Add(ShadowSession* s) { waiting_.push_back(s); }
  void Remove(ShadowSession* s);
  // Soon, from this worker's loop (never inside the caller's stack): every waiter tries again.
  void Wake() { event_active(ev_, EV_TIMEOUT, 0); }
  size_t size() const { return waiting_.size(); }

 private:
  static void OnWake(evutil_socket_t, short, void* arg);
  std::vector<ShadowSession*> waiting_;
  std::vector<ShadowSession*> scratch_;
  event* ev_;
};

}  // namespace sluice
