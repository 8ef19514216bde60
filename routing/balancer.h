// Balancer: picks the backend node for a statement: the default read/write split
// (transaction stickiness, read-your-writes, reader fallback) and the node inside a hostgroup.
#pragma once

#include <cstdint>
#include <span>

#include "routing/classifier.h"
#include "routing/runtime.h"

namespace sluice::routing {

// Whether server `s` of its cluster may take new statements for `hostgroup`: in that
// hostgroup, ONLINE, positive weight, and (a replica) no further behind than its max_lag_ms.
bool ServerUsable(const Server& s, int hostgroup);

// Weighted least-outstanding-requests over the usable servers of `hostgroup`: the smallest
// outstanding/weight wins; ties are shared by weight with a random draw (*rr_cursor is the
// caller's generator state), so idle nodes of weights 3 and 1 take 3 of 4 picks and 1 of 4
// on average, and no rotation can fall into step with a client's pattern. `outstanding` is
// indexed like c.servers (a missing entry counts 0). Returns a server index or -1.
// Servers whose bit is set in `avoid` (index < 64) are left out of the pick.
int PickServer(const Cluster& c, int hostgroup, std::span<const int> outstanding,
               uint64_t* rr_cursor, uint64_t avoid = 0);

struct RouteInput {
  StatementKind kind = StatementKind::kWrite;
  bool in_transaction = false;
  int transaction_server = -1;         // server index the open transaction runs on; -1: none yet
  bool read_only_transaction = false;  // the open transaction began READ ONLY
  int rule_hostgroup = -1;             // a query rule's destination; -1: none
  int64_t now_ms = 0;                  // any monotonic clock, same as last_write_ms
  int64_t last_write_ms = -1;          // when this session last wrote; -1: never
  std::span<const int> outstanding;    // per server index, from the worker
  // Servers (bit i: servers[i], i < 64) the caller just saw fail a connection: a statement
  // goes to any other server that can take it first (another replica, the writer through
  // reader_fallback_to_writer), and to one of these only when nothing else can.
  uint64_t avoid = 0;
  // Causal reads (Cluster::consistency): this read must see writes a replica may lack
  // (causal_needed); their position is known, so a replica can check it before the read
  // (causal_known); a replica's check for this statement failed already (causal_failed).
  bool causal_needed = false;
  bool causal_known = false;
  bool causal_failed = false;
};

struct RouteDecision {
  int hostgroup = -1;
  int server = -1;              // index into cluster.servers; -1 with error set
  bool fell_back = false;       // reader group had no usable node: the writer took it
  const char* error = nullptr;  // static text when no node can take the statement
  // A replica got a causal read: the session checks the position there before the read.
  bool causal_check = false;
  // A read the split would send to a replica went to the writer for consistency.
  bool kept_for_consistency = false;
};

// The default split: a transaction stays on its server; a query rule's hostgroup wins
// otherwise; a read outside a transaction (or the first statement of a READ ONLY one)
// goes to the reader hostgroup unless the session wrote within read_your_writes_ms, or a
// causal read's position is unknown or was not found on a replica (then the writer, kept
// for consistency); everything else goes to the writer hostgroup. A causal read that lands
// on a replica carries causal_check. Servers in `avoid` are the last resort.
RouteDecision Route(const Cluster& c, const RouteInput& in, uint64_t* rr_cursor);

}  // namespace sluice::routing
