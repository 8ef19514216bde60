#include "proxy/mysql/kill_conn.h"

#include <event2/event.h>

#include "common/log.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/messages.h"
#include "proxy/mysql/backend.h"
#include "proxy/mysql/packet_io.h"
#include "proxy/worker.h"

namespace sluice::mysqlproxy {
namespace {

// Owns its backend connection until the answer, a failure, or the deadline; then both go,
// from the loop (never inside the backend's own callback).
class KillConn final : public MysqlBackend::Owner {
 public:
  KillConn(Worker* w, std::string sql) : worker_(w), sql_(std::move(sql)) {}

  void Start(const BackendTarget& target, const std::string& server, int timeout_ms) {
    BackendLogin login;
    static_cast<BackendTarget&>(login) = target;
    login.caps = mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_SECURE_CONNECTION |
                 mysql::CLIENT_PLUGIN_AUTH | mysql::CLIENT_LONG_PASSWORD |
                 mysql::CLIENT_TRANSACTIONS;
    login.max_prepared = 0;
    deadline_ = evtimer_new(worker_->base(), &KillConn::OnDeadline, this);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(deadline_, &tv);
    backend_ = MysqlBackend::Connect(worker_, PoolKey{server, target.user, 0}, login, this);
  }

  void OnBackendReady(MysqlBackend* b) override {
    if (done_) return;
    std::string payload(1, static_cast<char>(mysql::COM_QUERY));
    payload += sql_;
    uint8_t seq = 0;
    WritePacket(b->output(), &seq, payload);
    b->WriteNow();
  }
  void OnBackendReadable(MysqlBackend* b) override {
    mysql::PacketView pkt;
    size_t wire = 0;
    if (!done_ && PeekPacket(b->input(), &pkt, &wire)) {
      if (!pkt.payload.empty() && pkt.payload[0] == 0xFF) {
        auto err = mysql::DecodeErr(pkt.payload, b->caps());
        log::Debug("{} on {}: {}", sql_, b->server(), err.ok() ? err->message : "error");
      }
      Finish();
    }
    evbuffer_drain(b->input(), evbuffer_get_length(b->input()));
  }
  void OnBackendError(MysqlBackend* b, const Status& st) override {
    log::Debug("{} on {}: {}", sql_, b->server(), st.message());
    Finish();
  }

 private:
  static void OnDeadline(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<KillConn*>(arg);
    log::Debug("{}: no answer in time", self->sql_);
    self->Finish();
  }
  void Finish() {
    if (done_) return;
    done_ = true;
    event_base_once(
        worker_->base(), -1, EV_TIMEOUT,
        [](evutil_socket_t, short, void* arg) { delete static_cast<KillConn*>(arg); }, this,
        nullptr);
  }
  ~KillConn() override {
    if (deadline_) event_free(deadline_);
    if (backend_) backend_->Destroy();
  }

  Worker* worker_;
  std::string sql_;
  MysqlBackend* backend_ = nullptr;
  event* deadline_ = nullptr;
  bool done_ = false;
};

}  // namespace

void SendKill(Worker* w, const BackendTarget& target, const std::string& server,
              const std::string& sql, int timeout_ms) {
  (new KillConn(w, sql))->Start(target, server, timeout_ms);
}

}  // namespace sluice::mysqlproxy
