// KvStore: the few etcd v3 operations the fleet needs (leases, keys, compare-and-set, watch),
// behind an interface so that the election state machine is unit-tested with a fake store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::coordination {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

// One change a watch saw: a put (the new value) or a delete (deleted, value empty).
struct WatchEvent {
  KeyValue kv;
  bool deleted = false;
};

class KvStore {
 public:
  virtual ~KvStore() = default;

  // A lease of TTL_S seconds; its id.
  virtual Result<int64_t> GrantLease(int ttl_s) = 0;
  // Renews LEASE; NotFound once it expired (the keys attached to it are gone).
  virtual Status KeepAlive(int64_t lease) = 0;
  virtual Status RevokeLease(int64_t lease) = 0;

  // The keys under PREFIX (every key starting with it); *REVISION: the store's revision.
  virtual Result<std::vector<KeyValue>> Range(const std::string& prefix, int64_t* revision) = 0;
  // Writes KEY (attached to LEASE when non-zero); the revision of the write.
  virtual Result<int64_t> Put(const std::string& key, const std::string& value, int64_t lease) = 0;
  // Creates KEY only when absent. True: created; false: *EXISTING holds the current key.
  virtual Result<bool> Create(const std::string& key, const std::string& value, int64_t lease,
                              KeyValue* existing) = 0;
  // Writes KEY only while GUARD exists on lease GUARD_LEASE (the leader's compare-and-set);
  // *REVISION is the write's. False: the guard did not hold, nothing was written.
  virtual Result<bool> PutIfLease(const std::string& guard, int64_t guard_lease,
                                  const std::string& key, const std::string& value,
                                  int64_t* revision) = 0;
  // Deletes KEY only while it is attached to LEASE.
  virtual Result<bool> DeleteIfLease(const std::string& key, int64_t lease) = 0;

  // Changes under PREFIX after revision FROM - 1 (FROM: the first revision wanted), waiting at
  // most TIMEOUT_MS for the first; an empty list when none came.
  virtual Result<std::vector<WatchEvent>> Watch(const std::string& prefix, int64_t from,
                                                int timeout_ms) = 0;
};

}  // namespace sluice::coordination
