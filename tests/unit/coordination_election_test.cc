// The fleet's election and intent state machine (coordination/election.h) against a scripted
// in-memory store with etcd's lease and compare-and-set semantics, on a scripted clock; the
// base64 and topology codecs; and the follower's ApplyVerdict.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <vector>

#include "coordination/base64.h"
#include "coordination/election.h"
#include "coordination/fleet_overlay.h"
#include "coordination/fleet_steps.h"
#include "coordination/fleet_topology.h"

namespace sluice::coordination {
namespace {

// etcd as the election needs it: keys with revisions, leases that expire on the clock.
struct World {
  int64_t now_ms = 1000;
  int64_t revision = 1;
  int64_t next_lease = 100;
  std::map<int64_t, int64_t> lease_expiry;  // id -> deadline
  std::map<std::string, KeyValue> keys;

  void Expire() {
    for (auto it = lease_expiry.begin(); it != lease_expiry.end();) {
      if (it->second > now_ms) {
        ++it;
        continue;
      }
      for (auto k = keys.begin(); k != keys.end();)
        k = k->second.lease == it->first ? keys.erase(k) : std::next(k);
      it = lease_expiry.erase(it);
    }
  }
};

// One instance's connection to the world; `down` cuts it off (every call fails).
class FakeStore : public KvStore {
 public:
  explicit FakeStore(World* w) : w_(w) {}
  bool down = false;
  int calls = 0;
  int heartbeat_puts = 0;

  Result<int64_t> GrantLease(int ttl_s) override {
    if (Status s = Begin(); !s.ok()) return s;
    int64_t id = w_->next_lease++;
    w_->lease_expiry[id] = w_->now_ms + ttl_s * 1000;
    ttl_[id] = ttl_s;
    return id;
  }
  Status KeepAlive(int64_t lease) override {
    if (Status s = Begin(); !s.ok()) return s;
    auto it = w_->lease_expiry.find(lease);
    if (it == w_->lease_expiry.end()) return NotFound("lease expired");
    it->second = w_->now_ms + ttl_[lease] * 1000;
    return Status::Ok();
  }
  Status RevokeLease(int64_t lease) override {
    if (Status s = Begin(); !s.ok()) return s;
    w_->lease_expiry[lease] = 0;
    w_->Expire();
    return Status::Ok();
  }
  Result<std::vector<KeyValue>> Range(const std::string& prefix, int64_t* revision) override {
    if (Status s = Begin(); !s.ok()) return s;
    std::vector<KeyValue> out;
    for (const auto& [k, kv] : w_->keys)
      if (k.rfind(prefix, 0) == 0) out.push_back(kv);
    if (revision) *revision = w_->revision;
    return out;
  }
  Result<int64_t> Put(const std::string& key, const std::string& value, int64_t lease) override {
    if (Status s = Begin(); !s.ok()) return s;
    if (lease && !w_->lease_expiry.count(lease)) return NotFound("lease not found");
    if (key.find("/instances/") != std::string::npos) ++heartbeat_puts;
    return Write(key, value, lease);
  }
  Result<bool> Create(const std::string& key, const std::string& value, int64_t lease,
                      KeyValue* existing) override {
    if (Status s = Begin(); !s.ok()) return s;
    auto it = w_->keys.find(key);
    if (it != w_->keys.end()) {
      *existing = it->second;
      return false;
    }
    Write(key, value, lease);
    return true;
  }
  Result<bool> PutIfLease(const std::string& guard, int64_t guard_lease, const std::string& key,
                          const std::string& value, int64_t* revision) override {
    if (Status s = Begin(); !s.ok()) return s;
    auto it = w_->keys.find(guard);
    if (it == w_->keys.end() || it->second.lease != guard_lease) return false;
    *revision = Write(key, value, 0);
    return true;
  }
  Result<bool> DeleteIfLease(const std::string& key, int64_t lease) override {
    if (Status s = Begin(); !s.ok()) return s;
    auto it = w_->keys.find(key);
    if (it == w_->keys.end() || it->second.lease != lease) return false;
    w_->keys.erase(it);
    return true;
  }
  Result<std::vector<WatchEvent>> Watch(const std::string&, int64_t, int) override {
    return Unavailable("not used here");
  }

 private:
  Status Begin() {
    ++calls;
    w_->Expire();
    return down ? Unavailable("etcd unreachable (scripted)") : Status::Ok();
  }
  int64_t Write(const std::string& key, const std::string& value, int64_t lease) {
    KeyValue& kv = w_->keys[key];
    ++w_->revision;
    if (kv.create_revision == 0) kv.create_revision = w_->revision;
    kv.key = key, kv.value = value, kv.lease = lease, kv.mod_revision = w_->revision;
    return w_->revision;
  }
  World* w_;
  std::map<int64_t, int> ttl_;
};

struct Instance {
  Instance(World* w, const std::string& name)
      : store(w), election(&store, {"/sluice", name, 6}, [w] { return w->now_ms; }) {}
  FakeStore store;
  Election election;
};

class ElectionTest : public ::testing::Test {
 protected:
  void Advance(int64_t ms, std::initializer_list<Instance*> ticking) {
    for (int64_t t = 0; t < ms; t += 200) {
      world.now_ms += 200;
      for (Instance* i : ticking) i->election.Tick("{}");
    }
  }
  World world;
  Instance a{&world, "a"};
  Instance b{&world, "b"};
};

TEST_F(ElectionTest, FirstInstanceLeadsTheOtherFollows) {
  a.election.Tick("{}");
  b.election.Tick("{}");
  EXPECT_TRUE(a.election.leader());
  EXPECT_TRUE(a.election.MayOrchestrate("app"));
  EXPECT_FALSE(b.election.leader());
  EXPECT_FALSE(b.election.MayOrchestrate("app"));
  EXPECT_EQ(b.election.Leader(), "a");
  EXPECT_EQ(world.keys.at("/sluice/leader").value, "a");
  EXPECT_TRUE(world.keys.count("/sluice/instances/a"));
  EXPECT_TRUE(world.keys.count("/sluice/instances/b"));
  // A follower's intent is refused: it must not take the step.
  EXPECT_FALSE(b.election.RecordIntent("app", {"failover", "fence", "p:1", "", "", "", 1}));
}

TEST_F(ElectionTest, LeaseIsRenewedAtAThirdOfItsTtl) {
  a.election.Tick("{}");
  Advance(6000, {&a});  // ttl 6 s: renewed every 2 s
  EXPECT_EQ(a.election.renewals(), 3u);
  EXPECT_EQ(a.election.losses(), 0u);
  EXPECT_TRUE(a.election.MayOrchestrate("app"));
}

TEST_F(ElectionTest, HeartbeatIsWrittenWhenItChangesAndEveryThirdOfTheTtl) {
  a.election.Tick("{}");  // first write, then again as the new leader
  int first = a.store.heartbeat_puts;
  EXPECT_LE(first, 2);
  Advance(6000, {&a});  // 30 ticks, same content: once per 2 s
  EXPECT_EQ(a.store.heartbeat_puts - first, 3);
  world.now_ms += 200;
  a.election.Tick(R"({"topology_revision":9})");
  EXPECT_EQ(a.store.heartbeat_puts - first, 4) << "a new applied revision is written at once";
  EXPECT_NE(world.keys.at("/sluice/instances/a").value.find("\"topology_revision\":9"),
            std::string::npos);
}

TEST_F(ElectionTest, CutOffLeaderStopsActingBeforeAnotherCanTakeOver) {
  a.election.Tick("{}");
  b.election.Tick("{}");
  ASSERT_TRUE(a.election.leader());
  a.store.down = true;
  // Within half the TTL of its last renewal the leader still acts; never after.
  int64_t last_renewal = world.now_ms;
  bool b_led_while_a_acted = false;
  for (int i = 0; i < 60; ++i) {
    world.now_ms += 200;
    a.election.Tick("{}");
    b.election.Tick("{}");
    bool a_acts = a.election.MayOrchestrate("app");
    if (a_acts) {
      EXPECT_LT(world.now_ms - last_renewal, 3000);
    }
    if (a_acts && b.election.MayOrchestrate("app")) b_led_while_a_acted = true;
  }
  EXPECT_FALSE(b_led_while_a_acted);
  EXPECT_FALSE(a.election.MayOrchestrate("app"));
  EXPECT_FALSE(a.election.connected());
  EXPECT_TRUE(b.election.leader()) << "a's lease expired in etcd: b takes the key";
  EXPECT_EQ(b.election.Leader(), "b");
  EXPECT_FALSE(a.election.RecordIntent("app", {"failover", "fence", "p:1", "", "", "", 1}));

  // Back: its lease is gone (a loss), it takes a new one and follows.
  a.store.down = false;
  Advance(400, {&a, &b});
  EXPECT_EQ(a.election.losses(), 1u);
  EXPECT_TRUE(a.election.connected());
  EXPECT_FALSE(a.election.leader());
  EXPECT_EQ(a.election.Leader(), "b");
  EXPECT_TRUE(b.election.leader());
}

TEST_F(ElectionTest, NewLeaderSeesTheUnfinishedFailoverAndItsTarget) {
  a.election.Tick("{}");
  b.election.Tick("{}");
  Step s{"failover", "fence", "127.0.0.1:3306", "", "", "", 42};
  ASSERT_TRUE(a.election.RecordIntent("app", s));
  s.phase = "promote";
  s.target = "127.0.0.1:3307";
  ASSERT_TRUE(a.election.RecordIntent("app", s));
  EXPECT_FALSE(a.election.Unfinished("app").has_value() &&
               a.election.Unfinished("app")->phase != "promote");
  // a dies mid-promotion (kill -9: no resign); its lease runs out, b takes over.
  Advance(7000, {&b});
  ASSERT_TRUE(b.election.leader());
  auto u = b.election.Unfinished("app");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->phase, "promote");
  EXPECT_EQ(u->target, "127.0.0.1:3307");
  EXPECT_EQ(u->old_primary, "127.0.0.1:3306");
  EXPECT_EQ(u->leader, "a");
  EXPECT_EQ(u->id, 42);
  // b finishes it: the intent is closed for every later leader.
  u->phase = "done";
  b.election.RecordOutcome("app", *u);
  EXPECT_FALSE(b.election.Unfinished("app").has_value());
  EXPECT_EQ(DecodeStep(world.keys.at("/sluice/intent/app").value)->phase, "done");
  EXPECT_EQ(DecodeStep(world.keys.at("/sluice/intent/app").value)->leader, "b");
}

// health's steps through the StepRecorder: a new leader continues the old one's failover.
struct Said {
  std::vector<std::string> kinds;
  StepRecorder::EventFn Fn() {
    return [this](std::string_view kind, std::string_view, std::string_view, std::string_view) {
      kinds.emplace_back(kind);
    };
  }
};

TEST_F(ElectionTest, NewLeaderContinuesTheFailoverOnItsTargetAsOneFailover) {
  Said said_a, said_b;
  StepRecorder ra(&a.election, "a", said_a.Fn(), [] { return 111; });
  StepRecorder rb(&b.election, "b", said_b.Fn(), [] { return 222; });
  a.election.Tick("{}");
  b.election.Tick("{}");
  // A follower records nothing and so takes no step.
  EXPECT_FALSE(rb.Record("app", {"failover", "fence", "p:1", "", ""}));
  ASSERT_TRUE(ra.Record("app", {"failover", "fence", "p:1", "", ""}));
  ASSERT_TRUE(ra.Record("app", {"failover", "promote", "p:1", "r:2", ""}));
  EXPECT_EQ(DecodeStep(world.keys.at("/sluice/intent/app").value)->id, 111);
  EXPECT_EQ(rb.IntendedTarget("app"), "") << "only the leader asks";
  Advance(7000, {&b});  // a is killed mid-promotion
  ASSERT_TRUE(b.election.leader());
  EXPECT_EQ(rb.IntendedTarget("app"), "r:2");
  ASSERT_TRUE(rb.Record("app", {"failover", "fence", "p:1", "", ""}));
  ASSERT_TRUE(rb.Record("app", {"failover", "promote", "p:1", "r:2", ""}));
  ASSERT_TRUE(rb.Record("app", {"failover", "done", "p:1", "r:2", "new primary r:2"}));
  auto done = DecodeStep(world.keys.at("/sluice/intent/app").value);
  EXPECT_EQ(done->phase, "done");
  EXPECT_EQ(done->leader, "b");
  EXPECT_EQ(done->id, 111) << "the same failover, not a second one";
  EXPECT_EQ(said_b.kinds, std::vector<std::string>{"FAILOVER_RESUMED"}) << "said once";
  EXPECT_EQ(rb.IntendedTarget("app"), "");
  // The next failover is a new one.
  ASSERT_TRUE(rb.Record("app", {"failover", "fence", "r:2", "", ""}));
  EXPECT_EQ(DecodeStep(world.keys.at("/sluice/intent/app").value)->id, 222);
  EXPECT_TRUE(said_a.kinds.empty());
}

TEST_F(ElectionTest, AdoptingThePromotedTargetFinishesTheFailover) {
  Said said;
  StepRecorder ra(&a.election, "a", nullptr, [] { return 111; });
  StepRecorder rb(&b.election, "b", said.Fn(), [] { return 222; });
  a.election.Tick("{}");
  b.election.Tick("{}");
  ASSERT_TRUE(ra.Record("app", {"failover", "promote", "p:1", "r:2", ""}));
  Advance(7000, {&b});  // a promoted r:2 and died before its outcome
  ASSERT_TRUE(rb.Record("app", {"adopt", "adopt", "p:1", "r:2", ""}));
  ASSERT_TRUE(rb.Record("app", {"adopt", "done", "p:1", "r:2", "adopted"}));
  auto done = DecodeStep(world.keys.at("/sluice/intent/app").value);
  EXPECT_EQ(done->action, "failover");
  EXPECT_EQ(done->phase, "done");
  EXPECT_EQ(done->id, 111);
  EXPECT_EQ(said.kinds, std::vector<std::string>{"FAILOVER_RESUMED"});
}

TEST_F(ElectionTest, NewLeaderHandsAnUnfinishedSwitchoverToHealth) {
  Said said;
  StepRecorder ra(&a.election, "a", nullptr, [] { return 111; });
  StepRecorder rb(&b.election, "b", said.Fn(), [] { return 222; });
  a.election.Tick("{}");
  b.election.Tick("{}");
  ASSERT_TRUE(ra.Record("app", {"switchover", "drain", "p:1", "r:2", ""}));
  EXPECT_FALSE(ra.EarlierSwitchover("app").has_value()) << "its own switchover runs on";
  EXPECT_FALSE(rb.EarlierSwitchover("app").has_value()) << "a follower is not asked";
  Advance(7000, {&b});  // a is killed -9 right after fencing
  auto u = rb.EarlierSwitchover("app");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->phase, "drain");
  EXPECT_EQ(u->old_primary, "p:1");
  EXPECT_EQ(u->target, "r:2");
  EXPECT_EQ(u->detail, "a");
  // Health rolls it back and records the outcome: the same switchover, closed.
  ASSERT_TRUE(rb.Record("app", {"switchover", "abandoned", "p:1", "r:2", "rolled back"}));
  auto s = DecodeStep(world.keys.at("/sluice/intent/app").value);
  EXPECT_EQ(s->phase, "abandoned");
  EXPECT_EQ(s->id, 111);
  EXPECT_FALSE(rb.EarlierSwitchover("app").has_value());
  EXPECT_EQ(rb.Taken(), (std::map<std::string, uint64_t>{{"switchover/abandoned", 1}}));
}

TEST_F(ElectionTest, NewLeaderAbandonsAnUnfinishedForkAndReleasesItsWrites) {
  Said said;
  StepRecorder ra(&a.election, "a", nullptr, [] { return 111; });
  StepRecorder rb(&b.election, "b", said.Fn(), [] { return 222; });
  a.election.Tick("{}");
  b.election.Tick("{}");
  ASSERT_TRUE(ra.Record(StepScope("app", "mirror"), {"mirror", "fork", "", "shadow", "m1"}));
  ASSERT_TRUE(ra.Record(StepScope("app", "scale"), {"scale_out", "command", "", "", "busy"}));
  ASSERT_TRUE(ra.Record("app", {"failover", "promote", "p:1", "r:2", ""}));
  EXPECT_TRUE(ra.AbandonHolds({"app"}).empty()) << "its own fork runs on";
  EXPECT_EQ(DecodeStep(world.keys.at("/sluice/intent/app").value)->action, "failover")
      << "a fork's intent has its own key";
  Advance(7000, {&b});
  EXPECT_EQ(rb.AbandonHolds({"app", "other"}), std::vector<std::string>{"app"});
  EXPECT_EQ(DecodeStep(world.keys.at("/sluice/intent/app/mirror").value)->phase, "abandoned");
  EXPECT_EQ(DecodeStep(world.keys.at("/sluice/intent/app/scale").value)->phase, "abandoned");
  EXPECT_EQ(DecodeStep(world.keys.at("/sluice/intent/app").value)->phase, "promote")
      << "the failover is the monitor's to continue";
  EXPECT_EQ(said.kinds, (std::vector<std::string>{"MIRROR_FORK", "SCALE_ABANDONED"}));
  EXPECT_TRUE(rb.AbandonHolds({"app"}).empty()) << "once";
  EXPECT_EQ(rb.Taken(),
            (std::map<std::string, uint64_t>{{"mirror/abandoned", 1}, {"scale_out/abandoned", 1}}));
}

TEST_F(ElectionTest, GateRefusesAFollowerNamingTheLeaderAndCounts) {
  StepRecorder ra(&a.election, "a", nullptr, [] { return 111; });
  StepRecorder rb(&b.election, "b", nullptr, [] { return 222; });
  a.election.Tick("{}");
  b.election.Tick("{}");
  EXPECT_TRUE(ra.Gate("mirror_start", "app").ok());
  Status st = rb.Gate("mirror_start", "app");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(), "not the fleet leader; leader is a");
  EXPECT_FALSE(rb.Gate("scale_out", "app").ok());
  EXPECT_FALSE(rb.Gate("mirror_start", "app").ok());
  EXPECT_EQ(rb.Refused(), (std::map<std::string, uint64_t>{{"mirror_start", 2}, {"scale_out", 1}}));
  EXPECT_TRUE(ra.Refused().empty());
  // Cut off from etcd, the leader stops acting (ttl/2) and says it does not know the leader.
  a.store.down = true;
  Advance(4000, {&a});
  EXPECT_EQ(ra.Gate("switchover", "app").message(),
            "not the fleet leader; leader is unknown (etcd unreachable?)");
}

TEST_F(ElectionTest, IntentIsNotWrittenOnceTheLeaderKeyIsNoLongerOurs) {
  a.election.Tick("{}");
  ASSERT_TRUE(a.election.leader());
  // Someone deleted the key (an operator, or etcd expired it while we slept): the guard fails.
  world.keys.erase("/sluice/leader");
  EXPECT_FALSE(a.election.RecordIntent("app", {"failover", "fence", "p:1", "", "", "", 1}));
  EXPECT_FALSE(a.election.leader());
  EXPECT_FALSE(world.keys.count("/sluice/intent/app"));
}

TEST_F(ElectionTest, ResignHandsOverAtOnce) {
  a.election.Tick("{}");
  b.election.Tick("{}");
  a.election.Resign();
  EXPECT_FALSE(world.keys.count("/sluice/leader"));
  EXPECT_FALSE(world.keys.count("/sluice/instances/a"));
  b.election.Tick("{}");
  EXPECT_TRUE(b.election.leader());
}

TEST_F(ElectionTest, SameNameOnAnotherLeaseIsNotOurs) {
  a.election.Tick("{}");
  // A restarted "a" (new process, new lease) while the old key lives on.
  Instance a2(&world, "a");
  a2.election.Tick("{}");
  EXPECT_FALSE(a2.election.leader());
}

TEST(Base64, RoundTripsAndRejectsGarbage) {
  for (std::string s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar",
                                                std::string("\0\xff\x10", 3)})
    EXPECT_EQ(Base64Decode(Base64Encode(s)).value(), s);
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_FALSE(Base64Decode("Zm8").has_value());
  EXPECT_FALSE(Base64Decode("Zm=8").has_value());
  EXPECT_FALSE(Base64Decode("Zm8!").has_value());
}

TEST(FleetTopologyCodec, RoundTripsAndRejectsGarbage) {
  FleetTopology t;
  FleetCluster& c = t.clusters["app"];
  c.writes_paused = true;
  c.servers["127.0.0.1:3306"].fenced = true;
  c.servers["127.0.0.1:3306"].role = ServerRole::kReplica;
  c.servers["127.0.0.1:3307"].role = ServerRole::kPrimary;
  Server d;
  d.host = "127.0.0.1";
  d.port = 3309;
  d.hostgroup = 11;
  c.servers["127.0.0.1:3309"].discovered = d;
  auto back = DecodeTopology(EncodeTopology(t));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->clusters.at("app") == c);
  EXPECT_FALSE(DecodeTopology("{").ok());
  EXPECT_FALSE(DecodeTopology("[]").ok());
  EXPECT_FALSE(DecodeTopology(R"({"clusters":{"app":{"servers":{"x":{"discovered":{}}}}}})").ok());
}

TEST(ApplyVerdict, FollowerTakesRolesFencesPauseAndDiscoveriesKeepsItsStates) {
  health::Overlay mine;
  mine.clusters["app"].servers["127.0.0.1:3306"].state = ServerState::kShunned;
  // Shunned here: this instance's monitor saw a "replica" answer as a primary.
  mine.clusters["app"].servers["127.0.0.1:3307"].state = ServerState::kShunned;
  mine.clusters["app"].servers["127.0.0.1:3307"].lag_ms = 300;
  FleetTopology v;
  v.clusters["app"].servers["127.0.0.1:3306"].fenced = true;
  v.clusters["app"].servers["127.0.0.1:3306"].role = ServerRole::kReplica;
  v.clusters["app"].servers["127.0.0.1:3307"].role = ServerRole::kPrimary;
  Server d;
  d.host = "127.0.0.1";
  d.port = 3309;
  v.clusters["app"].servers["127.0.0.1:3309"].discovered = d;
  EXPECT_TRUE(ApplyVerdict(v, &mine));
  const auto& co = mine.clusters["app"];
  EXPECT_TRUE(co.servers.at("127.0.0.1:3306").fenced);
  EXPECT_EQ(co.servers.at("127.0.0.1:3306").state, ServerState::kShunned);  // its own verdict
  EXPECT_EQ(co.servers.at("127.0.0.1:3307").role, ServerRole::kPrimary);
  EXPECT_EQ(co.servers.at("127.0.0.1:3307").state, ServerState::kOnline);
  EXPECT_EQ(co.servers.at("127.0.0.1:3307").lag_ms, 0);
  EXPECT_TRUE(co.servers.at("127.0.0.1:3309").discovered.has_value());
  EXPECT_FALSE(ApplyVerdict(v, &mine)) << "the same revision twice changes nothing";
  // The leader's next verdict no longer has the discovered server: it goes.
  v.clusters["app"].servers.erase("127.0.0.1:3309");
  EXPECT_TRUE(ApplyVerdict(v, &mine));
  EXPECT_FALSE(mine.clusters["app"].servers.count("127.0.0.1:3309"));
  // The leader's verdict is what the follower publishes back unchanged.
  EXPECT_EQ(EncodeTopology(VerdictOf(mine)), EncodeTopology(v));
}

}  // namespace
}  // namespace sluice::coordination
