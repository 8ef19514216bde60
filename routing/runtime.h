// Runtime: the immutable snapshot of everything the data plane decides with (clusters,
// servers with role/state/lag, users, query rules, limits). The control plane builds a new
// one and publishes it; workers read it once per statement and never lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

namespace routing {
class RuleSet;  // routing/rules.h
}

enum class Protocol { kMysql, kPostgres };
enum class ServerRole { kPrimary, kReplica };
// As ProxySQL operators know them. OFFLINE_SOFT: finish what runs, take nothing new.
enum class ServerState { kOnline, kShunned, kOfflineSoft, kOfflineHard };
// PgBouncer's pool modes; MySQL clusters multiplex in "transaction" mode.
enum class PoolMode { kSession, kTransaction };
// Causal reads (docs/configuration.md, "consistency"): eventual, read your own writes, or read
// every write acknowledged before the read began.
enum class Consistency { kEventual, kSession, kGlobal };

const char* ProtocolName(Protocol p);
const char* RoleName(ServerRole r);
const char* StateName(ServerState s);
const char* PoolModeName(PoolMode m);
const char* ConsistencyName(Consistency c);
bool ParseConsistency(std::string_view text, Consistency* out);

// TLS from sluice to a cluster's servers, as libpq's sslmode: never; when the server offers
// it; always (no certificate check); always, the chain checked against the CA; and the
// server's name checked too.
enum class BackendTlsMode { kDisable, kPrefer, kRequire, kVerifyCa, kVerifyFull };
const char* BackendTlsModeName(BackendTlsMode m);

// A cluster's backend TLS settings (docs/configuration.md, backend_tls*). The data plane and
// the control plane's connections (monitor, failover, switchover) use the same ones.
struct BackendTls {
  BackendTlsMode mode = BackendTlsMode::kDisable;
  std::string ca_file;    // PEM roots for verify-ca/verify-full; "": the system's
  std::string cert_file;  // a client certificate (PEM), with key_file; "": none
  std::string key_file;
  std::string server_name;  // the name verify-full checks and SNI sends; "": the host
  bool on() const { return mode != BackendTlsMode::kDisable; }
  bool required() const { return mode >= BackendTlsMode::kRequire; }
  bool verify() const { return mode >= BackendTlsMode::kVerifyCa; }
};

struct Server {
  std::string host;  // as configured: an IP address or a host name
  uint16_t port = 0;
  ServerRole role = ServerRole::kReplica;
  int hostgroup = 0;  // writer or reader hostgroup of its cluster, derived from role
  int weight = 1;
  int max_connections = 50;  // per worker pool bound is derived from this
  int max_lag_ms = 10000;    // a replica further behind gets no reads
  ServerState state = ServerState::kOnline;
  int64_t lag_ms = 0;  // filled by the monitor; 0 until measured
  int priority = 0;    // failover tie-break among equally advanced replicas: higher wins
  // The numeric IPv4/IPv6 address the data plane connects to. The control plane resolves
  // `host` (getaddrinfo, off the workers) and publishes it here; workers never resolve.
  // Empty: not resolved (yet); a worker then takes `host` only when it is numeric.
  std::string address = {};
  // A joining replica's share of its weight, 1..1000 (health/scaler ramps it up over
  // replica_ramp_ms so that a cold buffer pool is not flooded); 1000: the full weight.
  int ramp_permille = 1000;
  // The weight the balancer uses: weight scaled by the ramp (x1000).
  int64_t effective_weight() const { return int64_t{weight} * ramp_permille; }
  std::string name() const { return host + ":" + std::to_string(port); }
};

struct Cluster {
  std::string name;
  Protocol protocol = Protocol::kMysql;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;
  int writer_hostgroup = 0;
  int reader_hostgroup = 1;
  bool reader_fallback_to_writer = true;  // a reader group with no usable node uses the writer
  PoolMode pool_mode = PoolMode::kTransaction;
  int max_client_connections = 10000;  // logged-in clients (proxy/session_core.h)
  int connect_timeout_ms = 3000;
  // The session janitor (proxy/janitor.h): accept to a proven password; a statement on a
  // backend (0: off); a client idle inside a transaction (0: off).
  int client_login_timeout_ms = 10000;
  int query_timeout_ms = 0;
  int idle_in_transaction_timeout_ms = 0;
  // Superseded by `consistency`: after a write, keep this session's reads on the writer for
  // this long (a time window, whatever the replicas' positions).
  int read_your_writes_ms = 0;
  // Causal reads by replication position: a read goes to a replica only when it provably
  // has the writes the mode asks for (checked on the replica with MASTER_GTID_WAIT /
  // pg_last_wal_replay_lsn()); otherwise to the primary. consistency_wait_ms bounds how
  // long the replica may wait for the position before the read moves to the primary.
  Consistency consistency = Consistency::kEventual;
  int consistency_wait_ms = 0;
  // How often the monitor reads the servers' positions between its checks while
  // consistency is not "eventual" (a read whose target the replica's last read position
  // covers needs no check there); 0: only with each check (monitor_interval_ms).
  int monitor_position_interval_ms = 100;
  // Set by the control plane while a failover or switchover moves the primary: statements
  // bound for the writer wait (bounded by write_hold_timeout_ms) instead of failing, and run
  // on the new primary once a snapshot clears the flag.
  bool writes_paused = false;
  int write_hold_timeout_ms = 30000;
  // TLS towards clients (MySQL SSL upgrade, PostgreSQL SSLRequest): PEM files; "" = off.
  std::string tls_cert;
  std::string tls_key;
  // TLS towards the cluster's servers (fixed at start, like the listeners).
  BackendTls backend_tls;
  // MySQL LOAD DATA LOCAL INFILE: forwarded when true, refused with a clear error when false.
  bool local_infile = false;
  // Credentials the monitor (health/) uses; the data plane logs in as the client's user.
  std::string monitor_user;
  std::string monitor_password;
  // health/: check interval, hysteresis, failover window, the logins failover acts with
  // (empty admin_user: monitor_user), discovery ("host:port,..."; only hosts in
  // discovery_allow are trusted).
  int monitor_interval_ms = 1000;
  int monitor_fail_threshold = 3;
  int monitor_recover_threshold = 3;
  int failover_window_ms = 3000;
  bool auto_failover = true;
  std::string admin_user;
  std::string admin_password;
  std::string replication_user = "repl";
  std::string replication_password;
  std::string discovery;
  std::string discovery_allow = "127.0.0.1";
  // Run before every failover promotion with the cluster, host and port of the old primary
  // as arguments (bounded; a non-zero exit refuses the promotion): STONITH, a cloud API.
  std::string fence_command;
  // health/schema_watch: fingerprint the primary's schemas every interval (0: off); which
  // databases ("a,b"; empty: MariaDB every non-system schema, PostgreSQL the users'
  // default_schema databases, else "postgres").
  int schema_watch_interval_ms = 0;
  std::string schema_watch_databases;
  // health/scaler: reader-side scale-out / scale-in (docs/configuration.md). Empty
  // scale_out_command: off. Thresholds of 0 are not used.
  std::string scale_out_command;
  std::string scale_in_command;
  int scale_out_reads_per_replica = 0;  // statements per second per ONLINE replica
  int scale_out_pool_waits_per_s = 0;
  int scale_out_p95_ms = 0;  // replicas' statement latency
  int scale_in_reads_per_replica = 0;
  int scale_out_window_ms = 60'000;
  int scale_in_window_ms = 600'000;
  int scale_cooldown_ms = 300'000;
  int scale_command_timeout_ms = 300'000;
  int min_replicas = 1;
  int max_replicas = 10;
  int replica_ramp_ms = 0;  // 0: a joining replica takes its full share at once
  // Passthrough authentication (PgBouncer's auth_user/auth_query; health/auth_lookup.h): a
  // client whose user sluice does not have is verified against the verifier the primary
  // stores for it, read by the lookup user auth_user. Empty auth_user: off.
  std::string auth_user;
  std::string auth_password;  // "": the users table's entry for auth_user on this cluster
  std::string auth_query;     // "": the protocol's default (DefaultAuthQuery)
  std::string auth_dbname = "postgres";  // PostgreSQL: the database auth_query runs in
  int auth_cache_ttl_ms = 30000;         // found and not-found answers are kept this long
  int auth_cache_size = 10000;           // entries in the cache
  int auth_max_pending = 1000;           // logins waiting for a lookup
  int auth_max_users = 1000;             // distinct passthrough users that get pools
  bool passthrough() const { return !auth_user.empty(); }
  std::vector<Server> servers;

  // The hostgroup of the server at host:port; -1 when the cluster has none there.
  int HostgroupOf(std::string_view host, uint16_t port) const;
};

struct User {
  std::string name;
  // The plaintext (sluice derives the verifiers from it), or a stored verifier: MySQL
  // "*<hex SHA1(SHA1(pw))>", PostgreSQL "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>";
  // with a verifier, backend_password holds the plaintext sluice sends to the servers.
  std::string password;
  std::string cluster;  // which cluster this user may use
  std::string default_schema;
  std::optional<PoolMode> pool_mode;  // overrides the cluster's
  // PostgreSQL clients: "scram-sha-256" (default) or "md5", as pg_hba.conf methods.
  std::string pg_auth = "scram-sha-256";
  int max_connections = 10000;
  // Credentials sluice uses towards the backend; default: the same as the client's.
  std::string backend_user;
  std::string backend_password;
  // A passthrough user (Cluster::auth_user; not configured, looked up): what the client's
  // login proved, which logs in to the backend in place of a password: MySQL SHA1(pw) (20
  // bytes), PostgreSQL the SCRAM ClientKey and ServerKey (64 bytes) or the md5 verifier.
  std::string proven_secret;
  bool passthrough = false;
};

// The lookup a cluster's auth_query runs when none is configured: PgBouncer's for
// PostgreSQL ($1: the user name), mysql.user's plugin and authentication_string for MariaDB
// (?: the user name; every host entry is read, health/auth_lookup.h picks).
std::string DefaultAuthQuery(Protocol p);

enum class RuleAction { kRoute, kReject };

struct QueryRule {
  int id = 0;
  bool active = true;
  std::string cluster;        // empty: any
  std::string user;           // empty: any
  std::string schema;         // empty: any
  std::string client_addr;    // empty: any; "10.0.%" matches a prefix (as ProxySQL's)
  std::string match_pattern;  // re2 on statement text; empty: any
  std::string match_digest;   // re2 on the digest; empty: any
  RuleAction action = RuleAction::kRoute;
  int destination_hostgroup = -1;  // -1: leave as the default split decides
  std::string error_message;       // for kReject
  bool mirror = false;
  bool apply = true;  // stop the walk at this rule
};

struct AdminSettings {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 6032;
  // Non-empty: listen on this Unix socket instead (listen_host is then "" and listen_port 0).
  std::string listen_path;
  std::string user = "admin";
  std::string password;
  std::string data_dir;              // SQLite store; empty: in memory
  int64_t login_timeout_ms = 10000;  // from accept to a finished login on the admin port
  // admin.pg_listen: the PostgreSQL-protocol admin console (admin/admin_pg_listener.h);
  // port 0: off.
  std::string pg_listen_host;
  uint16_t pg_listen_port = 0;
};

// An HTTP endpoint the control plane posts events to ([[event_sink]], admin table
// event_sinks; admin/event_sink.h sends them).
struct EventSinkConfig {
  std::string name;
  std::string url;                 // http:// or https://
  std::vector<std::string> kinds;  // event kinds, "PREFIX*" patterns; empty: every kind
  std::string format = "json";     // json: one object per event; slack: {"text": ...}
  int queue_size = 1000;           // events waiting while the sink is slow or down
  int timeout_ms = 2000;           // one POST, connect included
  int retry_backoff_ms = 200;      // first wait after a failed POST, doubled per failure
  int retry_max_backoff_ms = 10000;
  bool operator==(const EventSinkConfig&) const = default;
};

enum class MirrorMode { kAll, kReads };
const char* MirrorModeName(MirrorMode m);  // "all", "reads"

// A shadow-cluster mirror ([[mirror]], admin table mirrors; docs/configuration.md): client
// sessions of `source` are replayed, whole, on `shadow` (a cluster of the same protocol).
struct MirrorConfig {
  std::string name;
  std::string source;     // cluster name
  std::string shadow;     // cluster name; it needs no listen
  double exposure = 1.0;  // share of client sessions mirrored, sampled at login
  MirrorMode mode = MirrorMode::kAll;
  // Per mirrored session: what waits for the shadow; over either bound the session is cut.
  int64_t queue_bytes = 4 << 20;
  int queue_statements = 1000;
  // The on/off switch (MIRROR START / STOP flip it at runtime); sessions that log in while
  // it is on are mirrored.
  bool enabled = false;
  // The report's settings (mirror/report.h ReportSettings).
  double slower_ratio = 2.0;
  int slower_min_ms = 0;  // ... and the shadow's p95 at least this much above the source's
  int min_samples = 100;
  int max_digests = 1000;
  bool operator==(const MirrorConfig&) const = default;
};

struct MetricsSettings {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: disabled
};

// [coordination]: several sluice instances as one fleet through etcd (coordination/).
// Empty etcd: a single instance, no fleet.
struct CoordinationSettings {
  std::string etcd;  // "host:port,host:port" of etcd's client endpoints
  std::string prefix = "/sluice";
  std::string instance;  // unique in the fleet; default: the host name and admin port
  int lease_ttl_s = 5;
  bool enabled() const { return !etcd.empty(); }
};

struct Runtime {
  uint64_t version = 0;  // bumped on every publish
  int workers = 0;       // 0: number of cores
  int drain_timeout_ms = 10000;
  // Client connections that have not logged in yet, all listeners together; each worker
  // keeps its share (rounded up), and a newer connection beyond it closes the oldest.
  int max_unauthenticated_connections = 4096;
  // The bytes one client connection may send before it has logged in (its read-ahead bound
  // until then): a login message that does not fit is refused at once.
  int client_preauth_bytes = 16384;
  std::string log_level = "info";   // debug | info | warn | error
  std::string log_format = "text";  // text | json (set at start)
  std::string log_file;             // "" = stderr; SIGHUP reopens it
  std::vector<Cluster> clusters;
  std::vector<User> users;
  std::vector<QueryRule> rules;
  // `rules` compiled (routing::RuleSet::Compile) by whoever publishes this snapshot, so
  // workers never compile a regex; null when there are no rules.
  std::shared_ptr<const routing::RuleSet> rule_set;
  AdminSettings admin;
  MetricsSettings metrics;
  std::vector<EventSinkConfig> event_sinks;
  std::vector<MirrorConfig> mirrors;
  CoordinationSettings coordination;
  // The fleet's topology revision (etcd) this snapshot applies; 0 without a fleet.
  int64_t topology_revision = 0;

  const Cluster* FindCluster(const std::string& name) const;
  // The mirror whose source is cluster NAME, or nullptr.
  const MirrorConfig* MirrorOfSource(std::string_view cluster) const;
  const MirrorConfig* FindMirror(std::string_view name) const;
  // Users are keyed by (cluster, name): the same name may log in on several clusters, each
  // with its own password.
  const User* FindUser(const std::string& cluster, const std::string& name) const;
};

using RuntimePtr = std::shared_ptr<const Runtime>;

// The one place a snapshot is published. Publish() is for the control plane; Load() may
// take libstdc++'s internal spin lock, so workers read through a RuntimeCache instead.
class RuntimeHolder {
 public:
  RuntimePtr Load() const { return current_.load(std::memory_order_acquire); }
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  void Publish(RuntimePtr next) {
    current_.store(std::move(next), std::memory_order_release);
    version_.fetch_add(1, std::memory_order_acq_rel);
  }

 private:
  std::atomic<RuntimePtr> current_;
  std::atomic<uint64_t> version_{0};
};

// A worker thread's view of the snapshot: Current() costs one atomic load when nothing
// was published since the last call, so it is safe to call once per statement.
class RuntimeCache {
 public:
  explicit RuntimeCache(const RuntimeHolder* holder) : holder_(holder) {}
  const RuntimePtr& Current() {
    uint64_t v = holder_->version();
    if (v != seen_ || !cached_) {
      cached_ = holder_->Load();
      seen_ = v;
    }
    return cached_;
  }

 private:
  const RuntimeHolder* holder_;
  uint64_t seen_ = ~uint64_t{0};
  RuntimePtr cached_;
};

}  // namespace sluice
