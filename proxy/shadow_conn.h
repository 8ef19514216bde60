// ShadowConn<Backend, Login>: a shadow session's connection of its own to the shadow server,
// whatever the protocol (proxy/shadow_session.h): connected at Connect() as the client's
// backend user, never pooled, Ready() once logged in, Failed() when it breaks, closed without
// a callback at Disconnect(). MysqlShadow and PgShadow add their wire.
#pragma once

#include <fmt/format.h>

#include <utility>

#include "proxy/backend_pool.h"
#include "proxy/shadow_session.h"

namespace sluice {

template <class Backend, class Login>
class ShadowConn : public ShadowSession, public Backend::Owner {
 public:
  void OnBackendReady(Backend* b) override {
    if (b != backend_) return;
    b->ResumeRead();
    Ready();
    if (backend_) backend_->WriteNow();
  }
  void OnBackendError(Backend* b, const Status& st) override {
    if (b != backend_) return;
    Failed(fmt::format("shadow server {}: {}", b->server(), st.message()));
  }

 protected:
  ShadowConn(Worker* w, Params p, Login login)
      : ShadowSession(w, std::move(p)), login_(std::move(login)) {}

  void Connect() override {
    const Server* srv = PickServer(&login_);
    if (!srv) return;
    // A connection of its own, never pooled: the session's state (transactions, temporary
    // tables, variables, prepared statements) lives on it from login to the end, as on the
    // client's side.
    backend_ = Backend::Connect(worker_, PoolKey{srv->name(), login_.user, 0}, login_, this);
  }
  void Disconnect() override { DropBackend(&backend_); }

  Login login_;
  Backend* backend_ = nullptr;
};

}  // namespace sluice
