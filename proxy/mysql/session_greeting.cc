// MysqlSession, what the client is told about the server: the greeting (the backend's own
// version string and the capabilities sluice can pass through), the status flags of the
// packets sluice writes itself, and session pooling's one connection per client.
#include "common/log.h"
#include "protocol/mysql/constants.h"
#include "proxy/mysql/compression.h"
#include "proxy/mysql/greeting_probe.h"
#include "proxy/mysql/session.h"
#include "proxy/mysql/worker_state.h"
#include "proxy/worker.h"

namespace sluice::mysqlproxy {
namespace {

// Greeted with when no server of the cluster answered the probe: MariaDB's convention (a
// "5.5.5-" prefix that libraries strip) so that drivers still pick MariaDB's dialect.
constexpr char kFallbackVersion[] = "5.5.5-10.11.0-MariaDB-sluice";

// The MariaDB extended capabilities sluice passes through when the backend has them.
// EXTENDED_METADATA adds type names (json, uuid, …) to column definitions, forwarded byte
// for byte; connections are pooled by it (kCapsThatShapeResponses).
constexpr uint64_t kPassedExtendedCaps = mysql::MARIADB_CLIENT_EXTENDED_METADATA;

// Status flags that describe the session rather than one statement's result.
constexpr uint16_t kSessionStatusFlags =
    mysql::SERVER_STATUS_IN_TRANS | mysql::SERVER_STATUS_AUTOCOMMIT |
    mysql::SERVER_STATUS_NO_BACKSLASH_ESCAPES | mysql::SERVER_STATUS_IN_TRANS_READONLY;

// The server a probe asks: an online primary, else any server not taken offline.
const Server* ProbeTarget(const Cluster& c) {
  const Server* any = nullptr;
  for (const Server& s : c.servers) {
    if (s.state == ServerState::kOfflineHard) continue;
    if (s.role == ServerRole::kPrimary && s.state == ServerState::kOnline) return &s;
    if (!any) any = &s;
  }
  return any;
}

// Bytes of the whole packets at the front of in.
size_t WholePackets(evbuffer* in) {
  size_t avail = evbuffer_get_length(in);
  size_t at = 0;
  while (avail >= at + 4) {
    uint8_t hdr[4];
    evbuffer_ptr pos;
    evbuffer_ptr_set(in, &pos, at, EVBUFFER_PTR_SET);
    evbuffer_copyout_from(in, &pos, hdr, 4);
    size_t len = hdr[0] | (hdr[1] << 8) | (size_t{hdr[2]} << 16);
    if (avail < at + 4 + len) break;
    at += 4 + len;
  }
  return at;
}

}  // namespace

void MysqlSession::Greet() {
  if (const BackendGreeting* g = worker_->mysql_state().greeting(cluster_index_)) {
    SendGreetingFrom(*g);
    return;
  }
  const Server* target = ProbeTarget(cluster());
  if (!target) {
    SendGreetingFrom(BackendGreeting{kFallbackVersion, 0, mysql::SERVER_STATUS_AUTOCOMMIT, 0});
    return;
  }
  // The first client of this cluster on this worker: learn the server's greeting first.
  probe_ = std::make_unique<GreetingProbe>(
      worker_, *target, cluster().connect_timeout_ms, [this](Result<BackendGreeting> r) {
        probe_.reset();  // closes its socket (this callback outlives it: GreetingProbe)
        if (r.ok()) {
          worker_->mysql_state().set_greeting(cluster_index_, *r);
          SendGreetingFrom(*r);
        } else {
          log::Warn("cluster {}: no greeting from its servers ({}); greeting clients as {}",
                    cluster().name, r.status().message(), kFallbackVersion);
          SendGreetingFrom(
              BackendGreeting{kFallbackVersion, 0, mysql::SERVER_STATUS_AUTOCOMMIT, 0});
        }
        FlushWrites();
      });
}

void MysqlSession::SendGreetingFrom(const BackendGreeting& g) {
  uint64_t caps = OfferedCaps();
  // A MariaDB server clears CLIENT_MYSQL and sends extended capabilities; sluice does the
  // same for the ones it passes through.
  if (!g.version.empty() && g.capabilities != 0 && !(g.capabilities & mysql::CLIENT_MYSQL)) {
    caps &= ~mysql::CLIENT_MYSQL;
    caps |= g.capabilities & kPassedExtendedCaps;
  }
  default_status_ = g.status_flags & mysql::SERVER_STATUS_AUTOCOMMIT;
  status_ = default_status_;
  login_->SendGreeting(client_.output(), g.version, caps, default_status_);
  greeted_ = true;
  // A client that spoke before the greeting (none should) is read now.
  if (evbuffer_get_length(client_.input()) > 0) OnClientReadable();
}

uint16_t MysqlSession::SessionStatus() const {
  uint16_t s = status_ & kSessionStatusFlags;
  if (!pins_.in_txn)
    s &= ~(mysql::SERVER_STATUS_IN_TRANS | mysql::SERVER_STATUS_IN_TRANS_READONLY);
  else
    s |= mysql::SERVER_STATUS_IN_TRANS;
  return s;
}

void MysqlSession::NoteStatusFlags(uint16_t flags) {
  status_ = flags & kSessionStatusFlags;
}

bool MysqlSession::LoginDone() {
  if (compressed_ || !(caps_ & mysql::CLIENT_COMPRESS)) return true;
  // The OK is in the connection's buffer already and leaves uncompressed; what follows
  // (the client's commands too) is compressed.
  compressed_ = true;
  if (StartCompression(&client_)) return true;
  Close();
  return false;
}

bool MysqlSession::SessionPooled() const {
  const User* u = ClusterUser(user_);
  return (u && u->pool_mode ? *u->pool_mode : cluster().pool_mode) == PoolMode::kSession;
}

// Session pooling: the connection is the client's for its life, so its loss is the
// client's too, as it would be directly: whatever the server said last (MySQL 8's ERR at
// wait_timeout) reaches the client, then its connection closes the way the server closed
// sluice's: a FIN (MariaDB's KILL) or an RST (MariaDB's wait_timeout), docs/protocol-notes.md.
// Nothing is retried on a fresh server session whose state would be gone.
void MysqlSession::LoseSessionBackend(MysqlBackend* b, const Status& st) {
  log::Info("session of {}: its server connection is gone ({}); closing the client", user_,
            st.message());
  size_t said = phase_ == Phase::kIdle ? WholePackets(b->input()) : 0;
  if (said > 0)
    evbuffer_remove_buffer(b->input(), client_.output(), said);
  else if (b->reset_by_server())
    client_.ResetOnClose();  // MariaDB resets a connection at wait_timeout: so does sluice
  backend_ = nullptr;
  lease_.Finished();
  std::string server = b->server();
  b->SetOwner(nullptr);
  b->Destroy();
  lease_.Release(server);
  Close();
}

}  // namespace sluice::mysqlproxy
