// ClusterMonitor: one cluster's thread. check_loop.cc checks every server each interval and
// publishes states and lag; decision.h judges the round; failover.cc carries the verdict out
// (hold, fence, promote, adopt, split brain); switchover.cc runs SWITCHOVER; discovery.cc
// adds and drains discovered replicas. Internal to health/.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "health/decision.h"
#include "health/monitor.h"
#include "health/node.h"
#include "health/positions.h"

namespace sluice::health {

// What the monitor remembers of one server between rounds: its connections, hysteresis and
// when it last answered (the failover window). Never a verdict.
struct ServerWatch {
  std::unique_ptr<Node> node;    // monitor_user
  std::unique_ptr<Node> action;  // admin_user, opened on demand
  Hysteresis health{3, 3};
  std::optional<NodeCheck> last;
  std::string last_error;       // a reason to shun ("" when the check was clean)
  std::string privilege_error;  // the last check's privilege error (never shuns)
  int64_t lag_ms = 0;
  int64_t last_ok_ms = 0;  // monotonic; 0 until the first check
  int failures = 0;        // consecutive failed checks
  // A check failed since it was last seen writable: a primary that answers read-only now
  // came back from a restart (its config says read_only=ON), not from an operator's SET.
  bool returning = false;
  int64_t behind_since_ms = 0;
  bool rejoin_reported = false;
  int missing_rounds = 0;  // discovered and no longer seen
  std::string address;     // resolved numeric address ("" when the name does not resolve)
  std::string resolve_error;
  int64_t next_resolve_ms = 0;  // monotonic; names are looked up again every 30 s
};

class ClusterMonitor {
 public:
  ClusterMonitor(HealthMonitor* owner, std::string name) : owner_(owner), name_(std::move(name)) {}
  ~ClusterMonitor() { Stop(); }

  void Start();
  void Stop();
  const std::string& name() const { return name_; }
  Result<std::string> Switchover(const std::string& target);
  // One round, on the caller's thread (tests drive rounds one by one).
  void RunRound();
  // When the primary, failing its checks, has failed them for the whole failover window
  // (its last success + failover_window_ms, monotonic ms): the loop runs the round that
  // judges it then, not up to monitor_interval_ms later. 0: the primary passes its checks.
  int64_t PrimaryWindowEndMs();

 private:
  // check_loop.cc
  void Loop();
  void Round();
  Cluster Composed() const;
  ServerWatch& Watch(const Cluster& c, const Server& s);
  Node* Action(const Cluster& c, const std::string& server);
  void Resolve(const Cluster& c);
  int64_t LagOf(const Cluster& c, const Server& s, const NodeCheck& k, const NodeCheck* primary,
                bool primary_writing, ServerWatch& w, int64_t now);
  RoundFacts Facts(const Cluster& c, int64_t now);
  // failover.cc
  void Act(const Cluster& c, const Verdict& v, const RoundFacts& facts);
  // The one place that says whether this instance may act on the cluster (promote, fence,
  // adopt, switch over); a leadership hook (etcd) plugs in here.
  bool MayOrchestrate(std::string_view step);
  bool Leads() const;  // MayOrchestrate without its log line (asked every round)
  // A fleet's record of a step (MonitorHooks::record_step); true without a fleet.
  bool Record(const char* action, const char* phase, const std::string& old,
              const std::string& target, const std::string& detail = "");
  void SetPaused(bool paused, const std::string& why);
  bool Failover(const Cluster& c, const Verdict& v, const RoundFacts& facts);
  Status RunFenceCommand(const Cluster& c, const std::string& server);
  void FenceNode(const Cluster& c, const std::string& server, const std::string& why);
  void Repoint(const Cluster& c, const std::string& replica, const std::string& primary,
               bool former_primary);
  // Re-points that failed (a refused connect: the replica restarts), tried again in later
  // rounds with a doubling wait, kRepointAttempts in all.
  void RetryRepoints(const Cluster& c);
  void PublishPrimary(const Cluster& c, const std::string& new_primary,
                      const std::string& old_primary, bool fence_old);
  void UnfenceRejoined(const Cluster& c);
  // position_poll.cc: the servers' positions for the workers' causal reads, from the
  // round's checks and between rounds (monitor_position_interval_ms).
  void PublishPositions(const Cluster& c);
  void PollPositions();
  // switchover.cc: an earlier leader's unfinished switchover finished or rolled back; true
  // when one was (the round's verdict is stale then).
  bool ResumeSwitchover(const Cluster& c, const RoundFacts& facts);
  void ReleaseHold(const std::string& why);
  // discovery.cc
  void Discover(const Cluster& c, const NodeCheck* primary_check);
  void Event(std::string_view kind, std::string_view server, const std::string& msg) {
    owner_->Event(kind, name_, server, msg);
  }
  std::vector<std::string> KeepUsers(const Cluster& c) const;

  HealthMonitor* owner_;
  std::string name_;
  std::thread thread_;
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  // Held for a whole round and a whole switchover: the two never interleave on a node.
  std::mutex action_mu_;
  std::map<std::string, ServerWatch> watch_;
  struct PendingRepoint {
    std::string primary;
    bool former_primary = false;
    int attempts = 0;     // made so far
    int wait_rounds = 0;  // rounds left before the next one
  };
  std::map<std::string, PendingRepoint> repoints_;  // by replica
  // The last position seen on the published primary while it was writable, and whose.
  Position primary_position_;
  std::string primary_position_of_;
  // Said once per distinct reason while it lasts (rounds repeat every interval).
  std::string last_said_;
  VerdictKind last_kind_ = VerdictKind::kHealthy;
  std::set<std::string> left_to_leader_;  // MayOrchestrate's steps said while following
  bool paused_ = false;
  int64_t paused_since_ms_ = 0;
};

}  // namespace sluice::health
