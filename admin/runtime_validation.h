// runtime_validation: the one set of rules a Runtime must satisfy, whether it came from the
// TOML config file or from the admin tables. Callers say how to name a field in an error.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "common/status.h"
#include "routing/runtime.h"

namespace sluice {

// Inclusive bounds of an integer setting; both sources check against these same numbers.
struct Limit {
  int64_t min;
  int64_t max;
};

namespace limits {
// Longer than an hour is a unit mistake (seconds typed as milliseconds), not a setting.
inline constexpr int64_t kMaxMs = 3'600'000;
inline constexpr int64_t kMaxInt = std::numeric_limits<int>::max();
inline constexpr Limit kWorkers{0, 256};
inline constexpr Limit kDrainTimeoutMs{0, kMaxMs};
inline constexpr Limit kMaxUnauthenticated{1, 1'000'000};
// A HandshakeResponse or a SCRAM message fits in 1 KiB; PostgreSQL's own bound for a
// StartupMessage is 10,000 bytes. More than 1 MiB is no longer "a few KiB" per socket.
inline constexpr Limit kClientPreAuthBytes{1024, 1 << 20};
inline constexpr Limit kPort{1, 65535};
inline constexpr Limit kWeight{1, 1'000'000};
inline constexpr Limit kServerMaxConnections{1, 100'000};
inline constexpr Limit kMaxLagMs{0, kMaxMs};
inline constexpr Limit kHostgroup{0, kMaxInt};
inline constexpr Limit kMaxClientConnections{1, 1'000'000};
inline constexpr Limit kConnectTimeoutMs{1, kMaxMs};
inline constexpr Limit kClientLoginTimeoutMs{1, kMaxMs};
inline constexpr Limit kSessionTimeoutMs{0, kMaxMs};  // 0: off
inline constexpr Limit kReadYourWritesMs{0, kMaxMs};
inline constexpr Limit kConsistencyWaitMs{0, 60'000};
inline constexpr Limit kPositionIntervalMs{0, 60'000};  // 0: positions with the checks only
inline constexpr Limit kUserMaxConnections{1, 1'000'000};
inline constexpr Limit kRuleId{1, kMaxInt};
inline constexpr Limit kDestinationHostgroup{-1, kMaxInt};
// 0 turns the schema watch off; below 100 ms it would be a busy loop on the catalogs.
inline constexpr Limit kSchemaWatchIntervalMs{0, 86'400'000};
inline constexpr Limit kScaleRate{0, 100'000'000};
inline constexpr Limit kScaleWindowMs{0, 86'400'000};
inline constexpr Limit kReplicaCount{0, 1000};
inline constexpr Limit kSinkQueueSize{1, 100'000};
inline constexpr Limit kSinkTimeoutMs{10, 60'000};
inline constexpr Limit kSinkBackoffMs{10, 600'000};
// A mirrored session's queue towards its shadow (bytes, statements).
inline constexpr Limit kMirrorQueueBytes{4096, int64_t{1} << 30};
inline constexpr Limit kMirrorQueueStatements{1, 1'000'000};
inline constexpr Limit kMirrorMinSamples{1, 1'000'000'000};
inline constexpr Limit kMirrorSlowerMinMs{0, 3'600'000};
inline constexpr Limit kMirrorMaxDigests{1, 1'000'000};
// Passthrough authentication: a cache entry lives 1 ms..1 h; counts (cache entries, waiting
// logins, distinct users) are bounded, never unlimited.
inline constexpr Limit kAuthCacheTtlMs{1, kMaxMs};
inline constexpr Limit kAuthCount{1, 1'000'000};
}  // namespace limits

// "expected MIN..MAX, got V" when V is outside LIMIT, else empty.
std::string CheckLimit(Limit limit, int64_t v);
// "expected one of a|b|c, got \"x\"".
std::string BadChoice(std::string_view choices, std::string_view got);

// One field of one entity of a Runtime, as a validation error points at it.
struct Field {
  enum class Entity {
    kSettings,
    kAdmin,
    kMetrics,
    kCluster,
    kServer,
    kUser,
    kRule,
    kEventSink,
    kMirror,
  };
  Entity entity = Entity::kSettings;
  size_t cluster = 0;  // kCluster, kServer: index in Runtime::clusters
  size_t index = 0;    // kServer: index in the cluster's servers; kUser, kRule, kEventSink,
                       // kMirror: index
  std::string name;    // the key / column: "weight", "listen"; "server" for a cluster's list
};

// How one source (a config file, the admin tables) names fields in its messages.
class FieldNamer {
 public:
  virtual ~FieldNamer() = default;
  // The error for FIELD: "t.toml:12: cluster[0].server[1].weight: WHAT" or
  // "servers row (cluster=app, host=h, port=1): weight: WHAT".
  virtual Status Error(const Field& field, std::string_view what) const = 0;
  // FIELD's entity (name empty) or key, as another error's text refers to it.
  virtual std::string Name(const Field& field) const = 0;
  // FIELD (a list such as a cluster's "server") has no entries at all.
  virtual Status Missing(const Field& field) const { return Error(field, "missing required key"); }
};

// Checks ranges, uniqueness (cluster names, hostgroups, listen ports, servers, users, rule
// ids), exactly one primary per cluster, hostgroups matching roles, references (a user's
// cluster, a rule's cluster/user/hostgroup), that rule patterns compile, and event sinks
// (unique names, http(s) URLs, known kinds and formats, ranges), and mirrors (unique names,
// source and shadow two clusters of one protocol, one mirror per source, ranges). The first
// error.
Status ValidateRuntime(const Runtime& rt, const FieldNamer& namer);

}  // namespace sluice
