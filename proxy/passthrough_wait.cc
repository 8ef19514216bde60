#include "proxy/passthrough_wait.h"

#include "common/clock.h"
#include "proxy/shared.h"
#include "proxy/worker.h"

namespace sluice {
namespace {

health::AuthLookup* LookupOf(const Worker& w, size_t cluster_index) {
  const auto& lookups = w.shared()->auth_lookups;
  return cluster_index < lookups.size() ? lookups[cluster_index] : nullptr;
}

}  // namespace

bool PassthroughWait::On(const Worker& w, size_t cluster_index, const Cluster& c) {
  return c.passthrough() && LookupOf(w, cluster_index) != nullptr;
}

bool PassthroughWait::Start(Worker* w, size_t cluster_index, const Cluster& c,
                            const std::string& user, Done done) {
  health::AuthLookup* lookup = LookupOf(*w, cluster_index);
  if (!lookup) return false;
  auto d = std::make_shared<Done>(std::move(done));
  std::weak_ptr<Done> weak = d;
  // The lookup thread only carries the weak pointer; it is locked on the worker's thread,
  // where the session (the only owner) lives and dies.
  bool queued = lookup->Submit(user, MonotonicMs() + c.client_login_timeout_ms, c.auth_max_pending,
                               [w, weak](health::AuthAnswer a) {
                                 w->Post([weak, a = std::move(a)](Worker*) {
                                   if (std::shared_ptr<Done> keep = weak.lock()) (*keep)(a);
                                 });
                               });
  if (queued) done_ = std::move(d);
  return queued;
}

User PassthroughUser(const Cluster& c, const std::string& name, std::string verifier,
                     std::string proven_secret) {
  User u;
  u.name = name;
  u.cluster = c.name;
  u.password = std::move(verifier);
  u.backend_user = name;
  u.proven_secret = std::move(proven_secret);
  u.passthrough = true;
  return u;
}

}  // namespace sluice
