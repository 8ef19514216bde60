#include "coordination/fleet_steps.h"

#include <fmt/format.h>

#include "common/log.h"

namespace sluice::coordination {

namespace {

bool IsOutcome(const std::string& phase) {
  return phase == "done" || phase == "abandoned";
}

}  // namespace

StepRecorder::StepRecorder(Leadership* leadership, std::string self, EventFn event,
                           std::function<int64_t()> now_ms)
    : leadership_(leadership),
      self_(std::move(self)),
      event_(std::move(event)),
      now_ms_(std::move(now_ms)) {}

bool StepRecorder::Record(const std::string& cluster, const health::OrchestrationStep& h) {
  Step s{h.action, h.phase, h.old_primary, h.target, "", h.detail, now_ms_()};
  std::optional<Step> prev = leadership_->Unfinished(cluster);
  // The same failover (or switchover) continued, by this leader or a later one; adopting the
  // node a failover was promoting finishes that failover.
  bool continues =
      prev && (prev->action == s.action || (s.action == "adopt" && prev->action == "failover" &&
                                            !s.target.empty() && prev->target == s.target));
  if (continues) {
    s.id = prev->id;
    s.action = prev->action;
    if (s.target.empty() && IsOutcome(s.phase)) s.target = prev->target;
    bool first = false;
    if (prev->leader != self_) {
      std::lock_guard<std::mutex> lock(mu_);
      first = resumed_.insert(prev->id).second;
    }
    if (first && event_)
      event_(prev->action == "failover" ? "FAILOVER_RESUMED" : "SWITCHOVER_RESUMED", cluster,
             prev->target.empty() ? prev->old_primary : prev->target,
             fmt::format("continuing the {} {} began (old primary {}, phase {}{}{}): now {}",
                         prev->action, prev->leader, prev->old_primary, prev->phase,
                         prev->target.empty() ? "" : ", target ", prev->target, s.phase));
  }
  if (IsOutcome(s.phase)) {
    leadership_->RecordOutcome(cluster, s);
    return true;
  }
  return leadership_->RecordIntent(cluster, s);
}

std::string StepRecorder::IntendedTarget(const std::string& cluster) {
  std::optional<Step> u = leadership_->Unfinished(cluster);
  return u && u->action == "failover" && u->phase == "promote" ? u->target : "";
}

std::vector<std::string> StepRecorder::AbandonSwitchovers(
    const std::vector<std::string>& clusters) {
  std::vector<std::string> released;
  for (const std::string& cluster : clusters) {
    std::optional<Step> u = leadership_->Unfinished(cluster);
    if (!u || u->action != "switchover" || u->leader == self_) continue;
    // Its writes were held fleet-wide and nobody would release them. Whatever became
    // writable, the monitor's next rounds judge (a promoted target is adopted).
    Step s = *u;
    s.phase = "abandoned";
    s.detail = "the instance that ran it is gone";
    leadership_->RecordOutcome(cluster, s);
    released.push_back(cluster);
    log::Warn("fleet: switchover of {} by {} abandoned (phase {})", cluster, u->leader, u->phase);
    if (event_)
      event_("SWITCHOVER_ABORTED", cluster, u->old_primary,
             fmt::format("the switchover {} began ({} -> {}, phase {}) was abandoned by the new "
                         "leader {}: writes flow again; if {} was fenced (read-only), make it "
                         "writable or run SWITCHOVER again",
                         u->leader, u->old_primary, u->target, u->phase, self_, u->old_primary));
  }
  return released;
}

}  // namespace sluice::coordination
