// PassthroughWait: a client login's wait for the control plane's lookup of a user sluice does
// not have (Cluster::auth_user; health/auth_lookup.h). Start posts the request (lock-free)
// and returns at once; the answer comes back through the worker's inbox and runs on the
// worker's thread, unless the session cancelled or went first. The login timeout bounds the
// wait (SessionCore's janitor), auth_max_pending the requests in flight.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "health/auth_lookup.h"
#include "routing/runtime.h"

namespace sluice {

class Worker;

class PassthroughWait {
 public:
  using Done = std::function<void(const health::AuthAnswer&)>;

  // Whether cluster C (at CLUSTER_INDEX) looks unknown users up on this process.
  static bool On(const Worker& w, size_t cluster_index, const Cluster& c);
  // Posts the lookup of USER; DONE runs later on W's thread. False when auth_max_pending
  // lookups wait already (the caller refuses the login as too busy).
  bool Start(Worker* w, size_t cluster_index, const Cluster& c, const std::string& user, Done done);
  // A later answer is dropped (the session closes, or logs in again).
  void Cancel() { done_.reset(); }
  bool waiting() const { return done_ != nullptr; }

 private:
  std::shared_ptr<Done> done_;
};

// The User a passthrough login proved: the cluster's defaults, the server's verifier as its
// password and what the proof gave (User::proven_secret) for the backend login.
User PassthroughUser(const Cluster& c, const std::string& name, std::string verifier,
                     std::string proven_secret);

}  // namespace sluice
