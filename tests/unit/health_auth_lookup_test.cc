// Tests for health/auth_cache and health/auth_lookup (passthrough authentication) without
// servers: the cache's TTL, negative entries and bound; the lookup thread's answers, counters,
// batching, bounds and failure handling over a scripted fetch; the query text and the rows'
// reading.
#include "health/auth_lookup.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace sluice::health {
namespace {

TEST(AuthCacheTest, EntriesLiveForTheTtlOnly) {
  AuthCache cache(10);
  cache.Put("app", true, {"mysql_native_password", "*ABC"}, 1000);
  const AuthCache::Entry* e = cache.Get("app", 1999, 1000);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->exists);
  EXPECT_EQ(e->stored.verifier, "*ABC");
  EXPECT_EQ(cache.Get("app", 2000, 1000), nullptr);  // expired at stored + ttl
  EXPECT_EQ(cache.size(), 0u);                       // and dropped
  EXPECT_EQ(cache.Get("nobody", 0, 1000), nullptr);
}

TEST(AuthCacheTest, NegativeEntriesAreKeptToo) {
  AuthCache cache(10);
  cache.Put("ghost", false, {}, 0);
  const AuthCache::Entry* e = cache.Get("ghost", 10, 1000);
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->exists);
  // A later answer replaces the earlier one (the user was created).
  cache.Put("ghost", true, {"", "SCRAM-SHA-256$x"}, 20);
  e = cache.Get("ghost", 30, 1000);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->exists);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(AuthCacheTest, TheOldestGoesBeyondTheBound) {
  AuthCache cache(3);
  for (int i = 0; i < 5; ++i) cache.Put("u" + std::to_string(i), true, {}, i);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.evictions(), 2);
  EXPECT_EQ(cache.Get("u0", 5, 1000), nullptr);
  EXPECT_EQ(cache.Get("u1", 5, 1000), nullptr);
  EXPECT_NE(cache.Get("u4", 5, 1000), nullptr);
  // Re-putting refreshes the order: u2 is now the newest, u3 the oldest.
  cache.Put("u2", true, {}, 6);
  cache.Put("u5", true, {}, 7);
  EXPECT_EQ(cache.Get("u3", 8, 1000), nullptr);
  EXPECT_NE(cache.Get("u2", 8, 1000), nullptr);
  cache.set_capacity(1);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_NE(cache.Get("u5", 8, 1000), nullptr);
}

Cluster PassthroughCluster(Protocol p) {
  Cluster c;
  c.name = "c";
  c.protocol = p;
  c.auth_user = "lookup";
  c.auth_password = "pw";
  c.auth_cache_ttl_ms = 60'000;
  return c;
}

TEST(AuthQueryTest, TheNameGoesInAsAHexLiteral) {
  Cluster my = PassthroughCluster(Protocol::kMysql);
  EXPECT_EQ(AuthQuerySql(my, "a'b"),
            "SELECT plugin, authentication_string FROM mysql.user WHERE user = X'612762'");
  Cluster pg = PassthroughCluster(Protocol::kPostgres);
  EXPECT_EQ(AuthQuerySql(pg, "a'\\"),
            "SELECT usename, passwd FROM pg_shadow WHERE usename = E'\\x61\\x27\\x5c'");
  pg.auth_query = "SELECT u, p FROM f($1) WHERE u = $1";
  EXPECT_EQ(AuthQuerySql(pg, "x"), "SELECT u, p FROM f(E'\\x78') WHERE u = E'\\x78'");
}

TEST(AuthQueryTest, RowsBecomeAnAnswer) {
  Cluster my = PassthroughCluster(Protocol::kMysql);
  EXPECT_EQ(AuthAnswerFromRows(my, "u", {}).kind, AuthAnswer::Kind::kNotFound);
  AuthAnswer a = AuthAnswerFromRows(
      my, "u", {{"mysql_native_password", "*AA"}, {"mysql_native_password", "*AA"}});
  EXPECT_EQ(a.kind, AuthAnswer::Kind::kFound);
  EXPECT_EQ(a.stored, (StoredVerifier{"mysql_native_password", "*AA"}));
  // Host entries that disagree: sluice cannot tell which one the server takes for it.
  a = AuthAnswerFromRows(my, "u",
                         {{"mysql_native_password", "*AA"}, {"mysql_native_password", "*BB"}});
  EXPECT_EQ(a.kind, AuthAnswer::Kind::kFailed);
  EXPECT_NE(a.error.find("disagree"), std::string::npos);
  // No password (NULL or empty) is no login through sluice.
  EXPECT_EQ(AuthAnswerFromRows(my, "u", {{"mysql_native_password", std::nullopt}}).kind,
            AuthAnswer::Kind::kNotFound);
  EXPECT_EQ(AuthAnswerFromRows(my, "u", {{"x"}}).kind, AuthAnswer::Kind::kFailed);
  Cluster pg = PassthroughCluster(Protocol::kPostgres);
  a = AuthAnswerFromRows(pg, "u", {{"u", "SCRAM-SHA-256$4096:c2FsdA==$a:b"}});
  EXPECT_EQ(a.kind, AuthAnswer::Kind::kFound);
  EXPECT_EQ(a.stored.plugin, "");  // PostgreSQL's first column is the user name
}

// A lookup over a scripted fetch; answers are collected as they come (lookup thread).
class AuthLookupTest : public ::testing::Test {
 protected:
  void SetUp() override { Publish(PassthroughCluster(Protocol::kMysql)); }
  void TearDown() override {
    if (lookup_) lookup_->Stop();
  }
  void Publish(Cluster c) {
    Runtime rt;
    rt.clusters.push_back(std::move(c));
    runtime_.Publish(std::make_shared<const Runtime>(std::move(rt)));
  }
  // A lookup of cluster C, running.
  void StartWith(const Cluster& c) {
    Publish(c);
    Make();
    lookup_->Start();
  }
  void Make() {
    lookup_ = std::make_unique<AuthLookup>(
        &runtime_, "c", [this](const Cluster&, const std::string& sql) { return Fetch(sql); });
  }
  Result<Rows> Fetch(const std::string& sql) {
    std::unique_lock<std::mutex> l(mu_);
    sqls_.push_back(sql);
    cv_.wait(l, [&] { return !gate_; });
    if (fail_) return Unavailable("server down");
    if (sql.find("X'676f6e65'") != std::string::npos) return Rows{};  // "gone"
    return Rows{{std::string("mysql_native_password"), verifier_}};
  }
  bool Submit(const std::string& user, int max_pending = 100, int64_t deadline_ms = 0) {
    if (!deadline_ms) deadline_ms = MonotonicMs() + 10'000;
    return lookup_->Submit(user, deadline_ms, max_pending, [this](AuthAnswer a) {
      std::lock_guard<std::mutex> l(mu_);
      answers_.push_back(std::move(a));
      cv_.notify_all();
    });
  }
  // Waits (bounded) until N answers came.
  std::vector<AuthAnswer> Await(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    EXPECT_TRUE(cv_.wait_for(l, std::chrono::seconds(10), [&] { return answers_.size() >= n; }));
    return answers_;
  }
  size_t Fetches() {
    std::lock_guard<std::mutex> l(mu_);
    return sqls_.size();
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    gate_ = false;
    cv_.notify_all();
  }

  RuntimeHolder runtime_;
  std::unique_ptr<AuthLookup> lookup_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> sqls_;
  std::vector<AuthAnswer> answers_;
  std::string verifier_ = "*AA";
  bool fail_ = false;
  bool gate_ = false;
};

TEST_F(AuthLookupTest, AMissQueriesAHitDoesNotAndBothAreCounted) {
  Make();
  lookup_->Start();
  ASSERT_TRUE(Submit("app"));
  auto a = Await(1);
  EXPECT_EQ(a[0].kind, AuthAnswer::Kind::kFound);
  EXPECT_EQ(a[0].stored.verifier, "*AA");
  ASSERT_TRUE(Submit("app"));
  a = Await(2);
  EXPECT_EQ(a[1].kind, AuthAnswer::Kind::kFound);
  EXPECT_EQ(Fetches(), 1u);  // the second came from the cache
  ASSERT_TRUE(Submit("gone"));
  ASSERT_TRUE(Submit("gone"));
  a = Await(4);
  EXPECT_EQ(a[2].kind, AuthAnswer::Kind::kNotFound);
  EXPECT_EQ(a[3].kind, AuthAnswer::Kind::kNotFound);
  EXPECT_EQ(Fetches(), 2u);  // the negative answer was cached
  AuthLookupCounters k = lookup_->Counters();
  EXPECT_EQ(k.hits, 2);
  EXPECT_EQ(k.misses, 2);
  EXPECT_EQ(k.not_found, 1);
  EXPECT_EQ(k.failures, 0);
  EXPECT_EQ(k.cache_entries, 2);
  EXPECT_EQ(k.users, 1);
}

TEST_F(AuthLookupTest, TheTtlExpiryAsksAgainAndSeesTheNewVerifier) {
  Cluster c = PassthroughCluster(Protocol::kMysql);
  c.auth_cache_ttl_ms = 50;
  StartWith(c);
  ASSERT_TRUE(Submit("app"));
  Await(1);
  {
    std::lock_guard<std::mutex> l(mu_);
    verifier_ = "*BB";  // ALTER USER on the server
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(60));  // past the TTL, by design
  ASSERT_TRUE(Submit("app"));
  auto a = Await(2);
  EXPECT_EQ(a[1].stored.verifier, "*BB");
  EXPECT_EQ(Fetches(), 2u);
}

TEST_F(AuthLookupTest, FailuresAreAnsweredCountedAndNotCached) {
  fail_ = true;
  Make();
  lookup_->Start();
  ASSERT_TRUE(Submit("app"));
  auto a = Await(1);
  EXPECT_EQ(a[0].kind, AuthAnswer::Kind::kFailed);
  EXPECT_NE(a[0].error.find("server down"), std::string::npos);
  {
    std::lock_guard<std::mutex> l(mu_);
    fail_ = false;
  }
  ASSERT_TRUE(Submit("app"));
  a = Await(2);
  EXPECT_EQ(a[1].kind, AuthAnswer::Kind::kFound);
  AuthLookupCounters k = lookup_->Counters();
  EXPECT_EQ(k.failures, 1);
  EXPECT_EQ(k.misses, 2);
  EXPECT_EQ(k.hits, 0);
}

TEST_F(AuthLookupTest, PendingLookupsAreBoundedAndOneUserIsAskedOncePerBatch) {
  gate_ = true;  // the first fetch blocks until Open()
  Make();
  lookup_->Start();
  ASSERT_TRUE(Submit("first", 3));
  // Wait (bounded) until the thread is inside the first fetch.
  for (int i = 0; i < 1000 && Fetches() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(Fetches(), 1u);
  ASSERT_TRUE(Submit("app", 3));
  ASSERT_TRUE(Submit("app", 3));
  EXPECT_FALSE(Submit("app", 3));  // three wait already
  EXPECT_EQ(lookup_->Counters().rejected, 1);
  Open();
  auto a = Await(3);
  EXPECT_EQ(Fetches(), 2u);  // "first", then "app" once for both
  for (const auto& x : a) EXPECT_EQ(x.kind, AuthAnswer::Kind::kFound);
  EXPECT_TRUE(Submit("app", 3));  // the queue drained
  Await(4);
}

TEST_F(AuthLookupTest, DistinctPassthroughUsersAreBounded) {
  Cluster c = PassthroughCluster(Protocol::kMysql);
  c.auth_max_users = 1;
  StartWith(c);
  ASSERT_TRUE(Submit("one"));
  ASSERT_TRUE(Submit("two"));
  auto a = Await(2);
  EXPECT_EQ(a[0].kind, AuthAnswer::Kind::kFound);
  EXPECT_EQ(a[1].kind, AuthAnswer::Kind::kFailed);
  EXPECT_NE(a[1].error.find("auth_max_users"), std::string::npos);
  ASSERT_TRUE(Submit("one"));  // the admitted user still logs in
  EXPECT_EQ(Await(3)[2].kind, AuthAnswer::Kind::kFound);
  EXPECT_EQ(lookup_->Counters().users, 1);
}

TEST_F(AuthLookupTest, OffOrLateRequestsAreAnsweredWithoutAQuery) {
  Cluster c = PassthroughCluster(Protocol::kMysql);
  c.auth_user = "";
  StartWith(c);
  ASSERT_TRUE(Submit("app"));
  EXPECT_EQ(Await(1)[0].kind, AuthAnswer::Kind::kFailed);  // off
  Publish(PassthroughCluster(Protocol::kMysql));
  // A login that timed out before its turn is not looked up for nobody.
  ASSERT_TRUE(Submit("late", 10, MonotonicMs() - 1));
  auto a = Await(2);
  EXPECT_EQ(a[1].kind, AuthAnswer::Kind::kFailed);
  EXPECT_NE(a[1].error.find("timed out"), std::string::npos);
  EXPECT_EQ(Fetches(), 0u);
  EXPECT_EQ(lookup_->Counters().failures, 2);
}

}  // namespace
}  // namespace sluice::health
