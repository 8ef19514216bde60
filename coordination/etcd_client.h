// EtcdClient: KvStore over etcd's v3 JSON gateway (POST /v3/kv/range|put|txn|deleterange,
// /v3/lease/grant|keepalive|revoke, /v3/watch; keys and values base64) through libcurl.
// Blocking, bounded by timeouts; for the control plane's threads only, never a worker's.
// Thread-safe: every call uses its own curl handle.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "coordination/kv_store.h"

namespace sluice::coordination {

class EtcdClient : public KvStore {
 public:
  // ENDPOINTS: "host:port,host:port"; a request that cannot reach one tries the next.
  explicit EtcdClient(const std::string& endpoints, int request_timeout_ms = 1000);

  Result<int64_t> GrantLease(int ttl_s) override;
  Status KeepAlive(int64_t lease) override;
  Status RevokeLease(int64_t lease) override;
  Result<std::vector<KeyValue>> Range(const std::string& prefix, int64_t* revision) override;
  Result<int64_t> Put(const std::string& key, const std::string& value, int64_t lease) override;
  Result<bool> Create(const std::string& key, const std::string& value, int64_t lease,
                      KeyValue* existing) override;
  Result<bool> PutIfLease(const std::string& guard, int64_t guard_lease, const std::string& key,
                          const std::string& value, int64_t* revision) override;
  Result<bool> DeleteIfLease(const std::string& key, int64_t lease) override;
  Result<std::vector<WatchEvent>> Watch(const std::string& prefix, int64_t from,
                                        int timeout_ms) override;

  // Requests that failed (transport error, HTTP error or a response that does not parse).
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }

 private:
  // POSTs BODY to PATH ("/v3/kv/range") on the endpoints in turn; the response body.
  Result<std::string> Post(const std::string& path, const std::string& body, int timeout_ms,
                           bool stop_at_event = false);

  std::vector<std::string> endpoints_;
  std::atomic<size_t> current_{0};
  int timeout_ms_;
  std::atomic<uint64_t> errors_{0};
};

// The key just past every key that starts with PREFIX (etcd's range_end for a prefix).
std::string PrefixEnd(const std::string& prefix);

}  // namespace sluice::coordination
