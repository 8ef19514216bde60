#include "coordination/fleet_steps.h"

#include <fmt/format.h>

#include "common/log.h"

namespace sluice::coordination {

namespace {

bool IsOutcome(const std::string& phase) {
  return phase == "done" || phase == "abandoned";
}

}  // namespace

std::string StepScope(const std::string& cluster, std::string_view kind) {
  return cluster + "/" + std::string(kind);
}

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
    if (continues && prev->leader != self_) {
      std::lock_guard<std::mutex> lock(mu_);
      ++taken_[s.action + "/" + s.phase];
    }
    leadership_->RecordOutcome(cluster, s);
    return true;
  }
  return leadership_->RecordIntent(cluster, s);
}

std::string StepRecorder::IntendedTarget(const std::string& cluster) {
  std::optional<Step> u = leadership_->Unfinished(cluster);
  return u && u->action == "failover" && u->phase == "promote" ? u->target : "";
}

std::optional<health::OrchestrationStep> StepRecorder::EarlierSwitchover(
    const std::string& cluster) {
  std::optional<Step> u = leadership_->Unfinished(cluster);
  if (!u || u->action != "switchover" || u->leader == self_) return std::nullopt;
  return health::OrchestrationStep{u->action, u->phase, u->old_primary, u->target, u->leader};
}

std::vector<std::string> StepRecorder::AbandonHolds(const std::vector<std::string>& clusters) {
  std::vector<std::string> released;
  for (const std::string& cluster : clusters) {
    for (const char* kind : {"mirror", "scale"}) {
      const std::string scope = StepScope(cluster, kind);
      std::optional<Step> u = leadership_->Unfinished(scope);
      if (!u || u->leader == self_) continue;
      // Nobody finishes it: the instance that ran the fork or the command is gone. A fork
      // held the source's writes fleet-wide; a scale command may or may not have run.
      Step s = *u;
      s.phase = "abandoned";
      s.detail = "the instance that ran it is gone";
      leadership_->RecordOutcome(scope, s);
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++taken_[u->action + "/abandoned"];
      }
      bool fork = std::string_view(kind) == "mirror";
      if (fork) released.push_back(cluster);
      log::Warn("fleet: {} of {} by {} abandoned (phase {})", u->action, cluster, u->leader,
                u->phase);
      if (event_)
        event_(fork ? "MIRROR_FORK" : "SCALE_ABANDONED", cluster, u->target,
               fork ? fmt::format("mirror {}: the fork {} began was abandoned by the new leader "
                                  "{}: writes of {} flow again; run MIRROR START again",
                                  u->detail, u->leader, self_, cluster)
                    : fmt::format("the {} {} began ({}) was abandoned by the new leader {}: its "
                                  "command may or may not have run",
                                  u->action, u->leader, u->detail, self_));
    }
  }
  return released;
}

Status StepRecorder::Gate(std::string_view step, const std::string& cluster, bool count) {
  if (leadership_->MayOrchestrate(cluster)) return Status::Ok();
  if (count) {
    std::lock_guard<std::mutex> lock(mu_);
    ++refused_[std::string(step)];
  }
  std::string leader = leadership_->Leader();
  if (leader.empty() || leader == self_) leader = "unknown (etcd unreachable?)";
  return Unavailable("not the fleet leader; leader is " + leader);
}

std::map<std::string, uint64_t> StepRecorder::Refused() {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}

std::map<std::string, uint64_t> StepRecorder::Taken() {
  std::lock_guard<std::mutex> lock(mu_);
  return taken_;
}

}  // namespace sluice::coordination
