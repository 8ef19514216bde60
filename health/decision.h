// The control plane's verdict for one round: a pure function of what the nodes reported in
// this round (reachability over the failover window, writability, position). Nothing here
// remembers an earlier round, so an admin repair or an outside change is followed at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "health/node.h"
#include "routing/runtime.h"

namespace sluice::health {

// One server as this round saw it.
struct NodeView {
  std::string name;                        // host:port
  ServerRole role = ServerRole::kReplica;  // as published (config + failover overlay)
  bool operator_offline = false;           // OFFLINE_SOFT/OFFLINE_HARD set by the operator
  bool fenced = false;                     // sluice fenced it: it must not be writable
  bool reachable = false;                  // this round's check answered
  // Every check over the failover window failed (at least two): judged dead even when a
  // later connection would answer.
  bool dead = false;
  // A check failed since the node was last seen writable (restarted, hung, unreachable).
  bool returning = false;
  NodeCheck check;  // this round's, when reachable
  int priority = 0;
};

struct RoundFacts {
  std::vector<NodeView> nodes;
  // The last position sluice saw on the published primary while it was writable; a
  // candidate's lag after the primary's death is measured against it. Empty: never seen.
  Position primary_last_position;
  bool auto_failover = true;
};

enum class VerdictKind {
  kHealthy,     // exactly one writable node, the published primary
  kHold,        // the primary is failing or read-only: hold writes, promote nobody yet
  kFailover,    // the primary is dead, nobody is writable: promote `target`
  kRefused,     // the primary is dead and no candidate is safe (`why`): hold writes
  kAdopt,       // exactly one writable node and it is not the published primary
  kSplitBrain,  // two or more writable nodes: hold writes, route to none of them
};
const char* VerdictName(VerdictKind k);

struct Verdict {
  VerdictKind kind = VerdictKind::kHealthy;
  std::string primary;                // the published primary ("" when none)
  std::string target;                 // kFailover: the candidate; kAdopt: the writable node
  std::vector<std::string> writable;  // every reachable node that reports itself writable
  // Nodes sluice fenced that report themselves writable again: fence them before anything.
  std::vector<std::string> refence;
  // kHold: the published primary came back read-only from a restart (read_only=ON in its
  // config, the belt and braces against a writable old primary) and nobody else is
  // writable: make it writable again, as MaxScale's enforce_writable_master does.
  bool make_primary_writable = false;
  std::string why;  // kHold, kRefused, kSplitBrain: the reason, for events and logs
  bool pause_writes = false;
};

Verdict Decide(const RoundFacts& facts);

// The invariant checked before every promotion: the reachable nodes other than TARGET that
// report themselves writable. Non-empty: the promotion must not happen.
std::vector<std::string> WritableOthers(const std::vector<NodeView>& nodes,
                                        const std::string& target);

}  // namespace sluice::health
