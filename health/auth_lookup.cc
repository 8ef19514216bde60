#include "health/auth_lookup.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <map>
#include <vector>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/log.h"

namespace sluice::health {
namespace {

constexpr int kReadTimeoutMs = 2000;
// A name longer than any server allows is not looked up (MariaDB 128, PostgreSQL 63 bytes).
constexpr size_t kMaxUserName = 128;

std::string HexLiteral(Protocol p, const std::string& user) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = p == Protocol::kPostgres ? "E'" : "X'";
  for (unsigned char ch : user) {
    if (p == Protocol::kPostgres) out += "\\x";
    out += kHex[ch >> 4];
    out += kHex[ch & 15];
  }
  return out + "'";
}

// The lookup user's password: auth_password, else the users table's entry (its backend
// password, the plaintext when the password is a stored verifier).
std::string LookupPassword(const Runtime& rt, const Cluster& c) {
  if (!c.auth_password.empty()) return c.auth_password;
  const User* u = rt.FindUser(c.name, c.auth_user);
  if (!u) return "";
  return u->backend_password.empty() ? u->password : u->backend_password;
}

// The default fetch: one connection to the cluster's primary as auth_user, kept between
// lookups and opened again when the primary, the login or a failure calls for it.
class PrimaryFetch {
 public:
  explicit PrimaryFetch(const RuntimeHolder* runtime) : runtime_(runtime) {}
  Result<Rows> operator()(const Cluster& c, const std::string& sql) {
    const Server* primary = nullptr;
    for (const Server& s : c.servers)
      if (s.role == ServerRole::kPrimary && s.state != ServerState::kOfflineHard) primary = &s;
    if (!primary) return Unavailable("the cluster has no primary to look users up on");
    RuntimePtr rt = runtime_->Load();
    NodeOptions o;
    o.protocol = c.protocol;
    o.host = primary->address.empty() ? primary->host : primary->address;
    o.port = primary->port;
    o.user = c.auth_user;
    o.password = LookupPassword(*rt, c);
    o.connect_timeout_ms = c.connect_timeout_ms;
    o.read_timeout_ms = kReadTimeoutMs;
    o.tls = c.backend_tls;
    std::string key =
        fmt::format("{}:{}/{}/{}/{}", o.host, o.port, o.user, o.password, c.auth_dbname);
    if (key != key_) node_.reset();
    key_ = key;
    if (!node_)
      node_ = c.protocol == Protocol::kPostgres ? MakePgNodeFor(o, c.auth_dbname) : MakeNode(o);
    auto rows = node_->Query(sql);
    if (!rows.ok()) node_.reset();
    return rows;
  }

 private:
  const RuntimeHolder* runtime_;
  std::string key_;
  std::shared_ptr<Node> node_;
};

}  // namespace

std::string AuthQuerySql(const Cluster& c, const std::string& user) {
  std::string sql = c.auth_query.empty() ? DefaultAuthQuery(c.protocol) : c.auth_query;
  const std::string placeholder = c.protocol == Protocol::kPostgres ? "$1" : "?";
  const std::string literal = HexLiteral(c.protocol, user);
  std::string out;
  for (size_t at = 0;;) {
    size_t hit = sql.find(placeholder, at);
    if (hit == std::string::npos) return out + sql.substr(at);
    out += sql.substr(at, hit - at) + literal;
    at = hit + placeholder.size();
  }
}

AuthAnswer AuthAnswerFromRows(const Cluster& c, const std::string& user, const Rows& rows) {
  AuthAnswer a;
  bool first = true;
  for (const auto& row : rows) {
    if (row.size() < 2) {
      a.error = "auth_query must return two columns (user or plugin, then the verifier)";
      return a;
    }
    if (!row[1] || row[1]->empty()) continue;  // no password: no login through sluice
    StoredVerifier v;
    if (c.protocol == Protocol::kMysql) v.plugin = row[0].value_or("");
    v.verifier = *row[1];
    if (!first && v != a.stored) {
      a.error = fmt::format(
          "the host entries of user '{}' disagree on plugin or password; auth_query must "
          "name one (docs/configuration.md, auth_query)",
          user);
      return a;
    }
    a.stored = std::move(v);
    first = false;
  }
  a.kind = first ? AuthAnswer::Kind::kNotFound : AuthAnswer::Kind::kFound;
  return a;
}

AuthLookup::AuthLookup(const RuntimeHolder* runtime, std::string cluster, AuthFetch fetch)
    : runtime_(runtime), cluster_(std::move(cluster)), fetch_(std::move(fetch)) {
  if (!fetch_) fetch_ = PrimaryFetch(runtime_);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

AuthLookup::~AuthLookup() {
  Stop();  // requests nobody served go with queue_, unanswered (the process ends)
  if (wake_fd_ >= 0) close(wake_fd_);
}

void AuthLookup::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void AuthLookup::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  thread_.join();
}

bool AuthLookup::Submit(std::string user, int64_t deadline_ms, int max_pending, Callback cb) {
  if (pending_.fetch_add(1, std::memory_order_relaxed) >= max_pending) {
    pending_.fetch_sub(1, std::memory_order_relaxed);
    rejected_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  queue_.Push(Request{std::move(user), deadline_ms, std::move(cb)});
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);  // nonblocking: a full counter is awake already
  return true;
}

void AuthLookup::Run() {
  while (!stop_.load()) {
    pollfd p{wake_fd_, POLLIN, 0};
    poll(&p, 1, 1000);
    uint64_t n;
    (void)!read(wake_fd_, &n, sizeof n);
    if (Queue::Node* fifo = queue_.TakeAll()) Serve(fifo);
  }
}

// One batch, oldest first; the requests for one user share one lookup.
void AuthLookup::Serve(Queue::Node* fifo) {
  RuntimePtr rt = runtime_->Load();
  const Cluster* c = rt ? rt->FindCluster(cluster_) : nullptr;
  std::map<std::string, AuthAnswer> answered;
  while (fifo) {
    std::unique_ptr<Queue::Node> node(fifo);
    fifo = fifo->next;
    Request* r = &node->value;
    int64_t now = MonotonicMs();
    AuthAnswer a;
    bool cached = false;
    if (!c || !c->passthrough()) {
      a.error = "passthrough authentication is off for this cluster";
    } else if (now > r->deadline_ms) {
      a.error = "the login timed out before its lookup ran";
    } else if (auto it = answered.find(r->user); it != answered.end()) {
      a = it->second;
      cached = true;
    } else {
      a = Lookup(*c, r->user, now, &cached);
      answered[r->user] = a;
    }
    // A failure is never a hit, even when the batch shares it (it was not cached).
    bool failed = a.kind == AuthAnswer::Kind::kFailed;
    (cached && !failed ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
    if (failed) failures_.fetch_add(1, std::memory_order_relaxed);
    if (!cached && a.kind == AuthAnswer::Kind::kNotFound) not_found_.fetch_add(1);
    // The gauges first: whoever the answer wakes reads them up to date.
    cache_entries_.store(static_cast<int64_t>(cache_.size()), std::memory_order_relaxed);
    user_count_.store(static_cast<int64_t>(users_.size()), std::memory_order_relaxed);
    pending_.fetch_sub(1, std::memory_order_relaxed);
    r->cb(std::move(a));
  }
}

AuthAnswer AuthLookup::Lookup(const Cluster& c, const std::string& user, int64_t now_ms,
                              bool* cached) {
  cache_.set_capacity(static_cast<size_t>(c.auth_cache_size));
  AuthAnswer a;
  if (const AuthCache::Entry* e = cache_.Get(user, now_ms, c.auth_cache_ttl_ms)) {
    *cached = true;
    a.kind = e->exists ? AuthAnswer::Kind::kFound : AuthAnswer::Kind::kNotFound;
    a.stored = e->stored;
    return a;
  }
  if (user.size() > kMaxUserName) {
    a.kind = AuthAnswer::Kind::kNotFound;
  } else if (auto rows = fetch_(c, AuthQuerySql(c, user)); !rows.ok()) {
    a.error = fmt::format("auth_query as '{}' failed: {}", c.auth_user, rows.status().message());
    log::Warn("cluster {}: passthrough lookup of user '{}': {}", c.name, user, a.error);
    return a;  // failures are not cached: the next login asks again
  } else {
    a = AuthAnswerFromRows(c, user, *rows);
    if (a.kind == AuthAnswer::Kind::kFailed) {
      log::Warn("cluster {}: passthrough lookup of user '{}': {}", c.name, user, a.error);
      return a;
    }
  }
  if (a.kind == AuthAnswer::Kind::kFound && !users_.count(user)) {
    if (users_.size() >= static_cast<size_t>(c.auth_max_users)) {
      a = AuthAnswer{};
      a.error = fmt::format("auth_max_users ({}) distinct passthrough users have pools already",
                            c.auth_max_users);
      rejected_.fetch_add(1, std::memory_order_relaxed);
      log::Warn("cluster {}: passthrough user '{}' refused: {}", c.name, user, a.error);
      return a;
    }
    users_.insert(user);
  }
  cache_.Put(user, a.kind == AuthAnswer::Kind::kFound, a.stored, now_ms);
  return a;
}

AuthLookupCounters AuthLookup::Counters() const {
  AuthLookupCounters k;
  k.cluster = cluster_;
  k.hits = hits_.load();
  k.misses = misses_.load();
  k.failures = failures_.load();
  k.not_found = not_found_.load();
  k.rejected = rejected_.load();
  k.cache_entries = cache_entries_.load();
  k.users = user_count_.load();
  return k;
}

}  // namespace sluice::health
