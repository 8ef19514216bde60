// Router: a worker's routing state and the one place a session asks "which server runs this
// statement?". It applies the query rules, the read/write split, transaction stickiness and
// the read-your-writes window (all pure functions in routing/), with per-worker counters.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "routing/classifier.h"
#include "routing/runtime.h"

namespace sluice {
namespace routing {
class RuleSet;
}

// What a session keeps of a classified statement (owning copies: the text may go away).
struct StatementInfo {
  bool is_read = false;          // may run on a reader outside a transaction
  bool read_only_txn = false;    // START TRANSACTION READ ONLY / BEGIN READ ONLY
  bool multi_statement = false;  // more than one statement in the text
  routing::StatementKind kind = routing::StatementKind::kOther;  // kWrite when they differ
  uint32_t pins = 0;                                             // routing::Pin bits
  routing::TxnOp txn = routing::TxnOp::kNone;
  // May change data: the session's read-your-writes position moves after it. Not a write:
  // reads, SET/RESET (session state), prepares (proxy/*/session*.cc clear it).
  bool writes = true;
  std::string_view command;  // first keyword, static storage ("SELECT", "INSERT", …)
  std::string use_schema;    // USE db
  // Session-scope assignments (name as written, value text); RESET as value "DEFAULT".
  std::vector<std::pair<std::string, std::string>> session_vars;
};

StatementInfo ClassifyStatement(std::string_view sql, routing::Dialect dialect);

struct RouteRequest {
  const StatementInfo* info = nullptr;
  std::string_view text;  // for query rules; empty for protocol commands
  std::string_view user;
  std::string_view schema;
  std::string_view client_addr;
  int64_t last_write_ms = 0;
  // Causal reads (routing::RouteInput): a write a replica may lack must be seen; its
  // position is known; a replica's check of it failed for this statement.
  bool causal_needed = false;
  bool causal_known = false;
  bool causal_failed = false;
};

struct RouteResult {
  int server = -1;  // index into the cluster's servers; -1 with reject or error
  bool reject = false;
  std::string message;  // rule's error message, or why no server could be used
  bool mirror = false;
  // The statement needs the writer while the cluster's writes are paused (failover,
  // switchover): the session holds it and routes again when a new snapshot arrives.
  bool hold = false;
  // A causal read on a replica: check the position there first (routing::RouteDecision).
  bool causal_check = false;
  bool kept_for_consistency = false;  // a read the split gave the primary for consistency
  bool read_on_replica = false;       // a read routed to a replica
};

class Router {
 public:
  RouteResult Route(const Runtime& rt, size_t cluster_index, const RouteRequest& req);
  // Least-outstanding bookkeeping: a statement started / finished on a server.
  void Started(size_t cluster_index, int server);
  void Finished(size_t cluster_index, int server);
  // A connection to server failed: this worker avoids it for a short while, before the
  // monitor's verdict arrives in a snapshot.
  void MarkFailed(size_t cluster_index, const std::string& server);

 private:
  struct ClusterState {
    std::vector<int> outstanding;  // per server index
    std::unordered_map<std::string, int64_t> failed_until_ms;
    uint64_t rr_cursor = 0;
  };
  ClusterState& StateFor(const Runtime& rt, size_t cluster_index);
  void RefreshRules(const Runtime& rt);

  std::vector<ClusterState> clusters_;
  uint64_t rules_version_ = ~uint64_t{0};
  std::shared_ptr<const routing::RuleSet> rules_;  // compiled once per snapshot version
  bool rules_need_digest_ = false;
  std::string digest_;  // scratch, reused per statement
};

}  // namespace sluice
