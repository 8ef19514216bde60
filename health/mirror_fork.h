// ForkShadow: MIRROR START's consistent start. When the shadow's primary replicates (it was
// made with `cluster.sh add-replica` from the source's primary), hold the source's writes,
// wait until the source's position stops moving and the shadow applied it, detach the shadow
// (Node::Promote: MariaDB STOP/RESET SLAVE + read_only=OFF, PostgreSQL pg_promote()), switch
// mirroring on, release the writes: from then on the shadow gets exactly the writes of the
// mirrored sessions. A shadow that does not replicate is independent: only the switch. Runs
// on the admin (control-plane) thread, never on a worker.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "health/node.h"
#include "routing/runtime.h"

namespace sluice::health {

struct ForkHooks {
  NodeFactory make_node;  // MakeNode, or scripted fakes in unit tests
  std::function<Status(const std::string& cluster, bool on)> pause_writes;
  std::function<void(std::string_view message)> event;  // one MIRROR_FORK event per step
  int timeout_ms = 30000;                               // the whole fork: quiet position + applied
};

// SWITCH_ON's argument: the position where the shadow's copy of the source starts, as the
// events write it (MariaDB: domain:sequence per GTID domain, "0:42"; PostgreSQL: the LSN,
// "16/B374D848"); empty when the shadow is independent (nothing was forked).
using MirrorSwitchOn = std::function<Status(const std::string& fork_position)>;

// M's source and shadow in RT; SWITCH_ON publishes the mirror as enabled. Returns what was
// done (for MIRROR START's answer); on an error the writes are released and nothing is on.
Result<std::string> ForkShadow(const Runtime& rt, const MirrorConfig& m,
                               const MirrorSwitchOn& switch_on, const ForkHooks& hooks);

}  // namespace sluice::health
