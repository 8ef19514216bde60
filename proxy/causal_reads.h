// CausalReads: one session's side of causal reads (Cluster::consistency): the position of
// its last acknowledged write, what a read must therefore find on a replica, and the
// replicas that already showed they have it. Plain value type; the session owns one.
#pragma once

#include <cstdint>

#include "proxy/router.h"
#include "routing/causal.h"
#include "routing/runtime.h"

namespace sluice {

class CausalReads {
 public:
  // An acknowledged write and the position it reported (empty: it wrote nothing to the
  // replication stream, e.g. an UPDATE that matched no row). The cluster's board learns it.
  void NoteWrite(const routing::CausalPosition& pos, routing::CausalBoard* board);
  // An acknowledged write whose position sluice could not learn: until the session's next
  // positioned write its reads stay on the primary ("global": every session's).
  void NoteUnknownWrite(routing::CausalBoard* board);

  // Fills req's causal fields for the next statement under mode (failed: a replica's
  // check failed for this statement already) and keeps the target a replica must reach.
  // "global" also takes the primary's position as the monitor last read it (primary_seen:
  // writes other clients made on the primary directly, up to that read).
  void Prepare(Consistency mode, const routing::CausalBoard& board, bool failed, RouteRequest* req,
               const routing::CausalPosition& primary_seen = {});
  const routing::CausalPosition& target() const { return target_; }
  // Whether a replica at position HAVE (the monitor's last read) has the target already.
  bool CoveredBy(const routing::CausalPosition& have) const {
    return routing::Covers(have, target_);
  }

  // Whether server (an index of snapshot `version`) showed the current target already;
  // Confirm records that it did.
  bool Confirmed(int server, uint64_t version) const;
  void Confirm(int server, uint64_t version);

 private:
  routing::CausalPosition written_;  // the session's writes
  bool unknown_ = false;             // a write without a known position since
  routing::CausalPosition target_;   // what the statement being routed needs
  routing::CausalPosition confirmed_for_;
  uint64_t confirmed_mask_ = 0;  // servers (index < 64) that have confirmed_for_
  uint64_t confirmed_version_ = 0;
};

}  // namespace sluice
