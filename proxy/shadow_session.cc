#include "proxy/shadow_session.h"

#include <algorithm>

#include "common/clock.h"
#include "common/log.h"
#include "proxy/shared.h"
#include "proxy/worker.h"

namespace sluice {

const MirrorConfig* SampleMirror(const Runtime& rt, const std::string& source_cluster, double u) {
  const MirrorConfig* m = rt.MirrorOfSource(source_cluster);
  if (!m || !m->enabled || !(u < m->exposure)) return nullptr;
  if (!rt.FindCluster(m->shadow)) return nullptr;
  return m;
}

int ShadowServer(const Cluster& shadow, MirrorMode mode) {
  int primary = -1, replica = -1;
  for (size_t i = 0; i < shadow.servers.size(); ++i) {
    const Server& s = shadow.servers[i];
    // The monitor's SHUNNED is not a reason to skip the shadow: a shadow that really is down
    // fails the connect, and the session is cut (shadow_down). An operator's OFFLINE is one.
    if (s.state != ServerState::kOnline && s.state != ServerState::kShunned) continue;
    if (s.role == ServerRole::kPrimary && primary < 0) primary = static_cast<int>(i);
    if (s.role == ServerRole::kReplica && replica < 0) replica = static_cast<int>(i);
  }
  if (mode == MirrorMode::kReads && replica >= 0) return replica;
  return primary;
}

ShadowSession::ShadowSession(Worker* w, Params p)
    : worker_(w),
      p_(std::move(p)),
      queue_(p_.max_bytes, p_.max_statements),
      pairer_(p_.max_statements) {
  timer_ = evtimer_new(w->base(), &ShadowSession::OnTimeout, this);
  partial()->SessionStarted(p_.mirror);
}

ShadowSession::~ShadowSession() {
  StopWaiting();
  if (timer_) event_free(timer_);
}

mirror::MirrorPartial* ShadowSession::partial() {
  return worker_->mirror_feed().partial();
}

void ShadowSession::Record(const mirror::OutcomePair& pair) {
  partial()->Add(pair);
}

void ShadowSession::QueueBytes(int64_t delta) {
  if (delta) partial()->QueueBytes(p_.mirror, delta);
}

const Server* ShadowSession::PickServer(BackendTarget* t) {
  const RuntimePtr& rt = worker_->runtime().Current();
  const Cluster* shadow =
      p_.shadow_cluster < rt->clusters.size() ? &rt->clusters[p_.shadow_cluster] : nullptr;
  int i = shadow ? ShadowServer(*shadow, p_.mode) : -1;
  if (i < 0) {
    Failed("the shadow cluster has no ONLINE server");
    return nullptr;
  }
  const Server& srv = shadow->servers[i];
  SetServer(t, srv, shadow->connect_timeout_ms);
  SetTargetTls(t, *worker_, *shadow, p_.shadow_cluster);
  return &srv;
}

void ShadowSession::Start() {
  Connect();
}

void ShadowSession::Push(mirror::ShadowStatement s) {
  if (cut_) return;
  bool record = s.record;
  const bool ordered_write = p_.order && record && !s.source.read && !s.ends_txn;
  // The source's outcome waits in the pairer; the queued statement keeps its numbers (seq,
  // digest hash, read), whether it is ordered, and no second copy of its strings.
  if (record) s.ordered = mirror::HasOrderBy(s.source.digest_text);
  mirror::Outcome source = record ? std::move(s.source) : mirror::Outcome{};
  const size_t n = s.bytes.size();
  if (!queue_.Push(std::move(s))) {
    if (record) {
      // Its source side still counts (unpaired), as every statement the shadow never ran.
      if (auto old = pairer_.AddSource(std::move(source))) Record(*old);
    }
    Cut(mirror::CutReason::kQueueFull, fmt::format("the shadow is {} statements ({} bytes) behind",
                                                   queue_.size(), queue_.bytes()));
    return;
  }
  QueueBytes(static_cast<int64_t>(n));
  if (record) {
    if (auto old = pairer_.AddSource(std::move(source))) Record(*old);
  }
  if (ordered_write) {
    // Its place among the mirror's writes is when the source answered it: now.
    uint64_t t = p_.order->Take(worker_->index());
    if (!t) {
      Cut(mirror::CutReason::kQueueFull,
          fmt::format("the mirror's shadow has {} writes of its sessions still to run",
                      p_.order->taken() - p_.order->done_through()));
      return;
    }
    queue_.back().ticket = t;
  }
  if (ready_ && !busy_) SendNext();
}

void ShadowSession::RecordUnpaired(mirror::Outcome source) {
  if (cut_) return;
  Record(mirror::OutcomePair{std::move(source), std::nullopt});
}

void ShadowSession::SendNext() {
  while (ready_ && !busy_ && !cut_ && !queue_.empty()) {
    if (uint64_t t = queue_.front().ticket; t && !order_waited_ && !p_.order->MayRun(t)) {
      // A write the source answered before this one has not run on the shadow yet. The wait
      // is bounded: where the shadow takes locks the source did not (a schema change that
      // makes an UPDATE scan), a write can wait on the shadow for a transaction whose next
      // write waits for it here; after kOrderWaitMs it goes out of order instead.
      if (!waiting_) {
        waiting_ = true;
        worker_->shadow_waiters().Add(this);
      }
      // Armed once per wait (a wake-up that was not yet its turn keeps the first bound).
      if (!evtimer_pending(timer_, nullptr)) {
        timeval tv{kOrderWaitMs / 1000, (kOrderWaitMs % 1000) * 1000};
        evtimer_add(timer_, &tv);
      }
      return;
    }
    order_waited_ = false;
    busy_ = true;
    sent_us_ = MonotonicUs();
    timeval tv{p_.answer_timeout_ms / 1000, (p_.answer_timeout_ms % 1000) * 1000};
    evtimer_add(timer_, &tv);
    Send(queue_.front());  // may call Answered() at once (no response expected)
  }
  if (!busy_ && queue_.empty() && client_gone_) DeleteLater();
}

void ShadowSession::StopWaiting() {
  if (!waiting_) return;
  worker_->shadow_waiters().Remove(this);
  waiting_ = false;
}

void ShadowSession::Resume() {
  waiting_ = false;
  SendNext();
}

void ShadowSession::FinishTicket(uint64_t t) {
  int w = p_.order->Done(t);
  if (w < 0) return;
  if (w == worker_->index()) {
    worker_->shadow_waiters().Wake();
  } else if (static_cast<size_t>(w) < worker_->shared()->workers.size()) {
    worker_->shared()->workers[w]->Post([](Worker* other) { other->shadow_waiters().Wake(); });
  }
}

void ShadowSession::Ready() {
  ready_ = true;
  SendNext();
}

void ShadowSession::Answered(mirror::Outcome shadow) {
  if (cut_ || !busy_) return;
  evtimer_del(timer_);
  mirror::ShadowStatement& s = queue_.front();
  if (s.record) {
    shadow.mirror = p_.mirror;
    shadow.side = mirror::Side::kShadow;
    shadow.session_id = p_.session_id;
    shadow.seq = s.source.seq;
    shadow.digest_hash = s.source.digest_hash;  // the pair's source carries the digest text
    shadow.read = s.source.read;
    shadow.start_us = sent_us_;
    shadow.end_us = MonotonicUs();
    // unpaired_ is a member: a deque allocates its map and a node when constructed, and this
    // runs once per statement.
    auto pair = pairer_.AddShadow(std::move(shadow), &unpaired_);
    for (const auto& u : unpaired_) Record(u);
    unpaired_.clear();
    if (pair) Record(*pair);
  }
  QueueBytes(-static_cast<int64_t>(queue_.front().bytes.size()));
  const uint64_t ticket = queue_.front().ticket;
  queue_.pop();
  busy_ = false;
  if (ticket) FinishTicket(ticket);
  SendNext();
}

void ShadowSession::Failed(const std::string& why) {
  Cut(mirror::CutReason::kShadowDown, why);
}

void ShadowSession::Cut(mirror::CutReason why, const std::string& what) {
  if (cut_) return;
  cut_ = true;
  evtimer_del(timer_);
  log::Info("mirror {}: session {} no longer mirrored ({}): {}", p_.mirror, p_.session_id,
            mirror::CutReasonName(why), what);
  Disconnect();
  for (const auto& u : pairer_.Cut()) Record(u);
  partial()->SessionCut(p_.mirror, why);
  QueueBytes(-static_cast<int64_t>(queue_.bytes()));
  // Its writes will never run on the shadow: the sessions behind them in the order go on.
  queue_.ForEach([&](const mirror::ShadowStatement& s) {
    if (s.ticket) FinishTicket(s.ticket);
  });
  queue_.clear();
  StopWaiting();
  busy_ = false;
  if (client_gone_) DeleteLater();
}

void ShadowSession::ClientGone() {
  client_gone_ = true;
  if (cut_ || (!busy_ && queue_.empty())) DeleteLater();
}

void ShadowSession::OnTimeout(evutil_socket_t, short, void* arg) {
  auto* s = static_cast<ShadowSession*>(arg);
  if (s->waiting_) {  // the order's bound, not the answer's: the front write goes now
    s->StopWaiting();
    s->order_waited_ = true;
    s->SendNext();
    return;
  }
  s->Failed(fmt::format("no answer from the shadow within {} ms", s->p_.answer_timeout_ms));
}

void ShadowSession::DeleteLater() {
  if (deleting_) return;
  deleting_ = true;
  if (!cut_) Disconnect();
  // Callers up the stack (a backend callback) may still look at this object.
  event_base_once(
      worker_->base(), -1, EV_TIMEOUT,
      [](evutil_socket_t, short, void* arg) { delete static_cast<ShadowSession*>(arg); }, this,
      nullptr);
}

ShadowWaiters::ShadowWaiters(event_base* base)
    : ev_(event_new(base, -1, 0, &ShadowWaiters::OnWake, this)) {}

ShadowWaiters::~ShadowWaiters() {
  event_free(ev_);
}

void ShadowWaiters::Remove(ShadowSession* s) {
  std::erase(waiting_, s);
  std::replace(scratch_.begin(), scratch_.end(), s, static_cast<ShadowSession*>(nullptr));
}

void ShadowWaiters::OnWake(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<ShadowWaiters*>(arg);
  // Each waiter looks at its ticket again; one still early adds itself back. A waiter cut
  // meanwhile (Remove) is nulled out of the list being walked.
  self->scratch_.swap(self->waiting_);
  for (size_t i = 0; i < self->scratch_.size(); ++i)
    if (ShadowSession* s = self->scratch_[i]) s->Resume();
  self->scratch_.clear();
}

}  // namespace sluice
