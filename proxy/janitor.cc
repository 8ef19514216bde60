#include "proxy/janitor.h"

namespace sluice {

std::string_view TimeoutReasonName(TimeoutReason r) {
  switch (r) {
    case TimeoutReason::kNone:
      return "none";
    case TimeoutReason::kClientLogin:
      return "client_login_timeout";
    case TimeoutReason::kQuery:
      return "query_timeout";
    case TimeoutReason::kIdleInTransaction:
      return "idle_in_transaction_timeout";
    case TimeoutReason::kLoginAnswer:
      return "login_answer";
  }
  return "unknown";
}

SessionTimer::SessionTimer(event_base* base, Callbacks* cb)
    : ev_(evtimer_new(base, &SessionTimer::OnFire, this)), cb_(cb) {}

SessionTimer::~SessionTimer() {
  if (ev_) event_free(ev_);
}

void SessionTimer::Arm(TimeoutReason why, int64_t ms) {
  if (ms <= 0 || why == TimeoutReason::kNone) {
    evtimer_del(ev_);
    pending_ = TimeoutReason::kNone;
    return;
  }
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  evtimer_add(ev_, &tv);  // re-adding reschedules
  pending_ = why;
}

void SessionTimer::Disarm(TimeoutReason why) {
  if (pending_ != why) return;
  evtimer_del(ev_);
  pending_ = TimeoutReason::kNone;
}

void SessionTimer::OnFire(evutil_socket_t, short, void* arg) {
  auto* t = static_cast<SessionTimer*>(arg);
  TimeoutReason why = t->pending_;
  t->pending_ = TimeoutReason::kNone;
  if (why != TimeoutReason::kNone) t->cb_->OnSessionTimeout(why);
}

SessionCore* PreAuthQueue::Add(SessionCore* s, Handle* h, size_t bound) {
  list_.push_back(s);
  *h = std::prev(list_.end());
  if (list_.size() <= bound) return nullptr;
  return list_.front();
}

}  // namespace sluice
