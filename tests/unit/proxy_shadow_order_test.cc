// Shadow sessions follow the mirror's write order (mirror/write_order.h), from scripted fakes:
// a session's write waits while a write the source answered earlier, in another session, has
// not run on the shadow; a read does not wait; a cut session lets the others go on; the turn
// passes between workers. The fake is the protocol half: it records what it was given to send
// and answers when the test says so.
#include <event2/event.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "proxy/shadow_session.h"
#include "proxy/shared.h"
#include "proxy/worker.h"

namespace sluice {
namespace {

class FakeShadow : public ShadowSession {
 public:
  FakeShadow(Worker* w, mirror::WriteOrder* order, bool ready) : ShadowSession(w, Params_(order)) {
    connect_ready_ = ready;
    Start();
  }
  static Params Params_(mirror::WriteOrder* order) {
    Params p;
    p.mirror = "m1";
    p.order = order;
    return p;
  }
  void Connect() override {
    if (connect_ready_) Ready();
  }
  void Send(mirror::ShadowStatement& s) override { sent.push_back(s.bytes); }
  void Disconnect() override {}
  void LoggedIn() { Ready(); }
  void AnswerFront() { Answered(mirror::Outcome{}); }
  // A statement as a client session pushes it once the source answered: a write or a read
  // (or a COMMIT).
  void Source(const std::string& text, bool write, bool ends_txn = false) {
    mirror::ShadowStatement s;
    s.bytes = text;
    s.record = true;
    s.source = NextSourceOutcome();
    s.source.read = !write;
    s.ends_txn = ends_txn;
    Push(std::move(s));
  }
  std::vector<std::string> sent;

 private:
  bool connect_ready_ = false;
};

class ShadowOrderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shared_.runtime.Publish(std::make_shared<const Runtime>());  // the workers' tick reads it
    w0_ = std::make_unique<Worker>(0, &shared_);
    w1_ = std::make_unique<Worker>(1, &shared_);
    shared_.workers = {w0_.get(), w1_.get()};
    order_ = shared_.mirror_orders.For("m1");
  }
  void TearDown() override {
    for (auto* s : sessions_) delete s;
    Spin();
  }
  FakeShadow* New(Worker* w, bool ready = true) {
    sessions_.push_back(new FakeShadow(w, order_, ready));
    return sessions_.back();
  }
  void Spin() {
    for (int i = 0; i < 20; ++i) {
      event_base_loop(w0_->base(), EVLOOP_NONBLOCK);
      event_base_loop(w1_->base(), EVLOOP_NONBLOCK);
    }
  }
  // Runs both workers' loops until DONE, within 5 s.
  bool RunUntil(const std::function<bool()>& done) {
    int64_t deadline = MonotonicMs() + 5000;
    while (!done()) {
      if (MonotonicMs() > deadline) return false;
      event_base_loop(w0_->base(), EVLOOP_NONBLOCK);
      event_base_loop(w1_->base(), EVLOOP_NONBLOCK);
    }
    return true;
  }

  ProxyShared shared_;
  std::unique_ptr<Worker> w0_, w1_;
  mirror::WriteOrder* order_ = nullptr;
  std::vector<FakeShadow*> sessions_;
};

// The bug this order fixes: A's shadow lags (still logging in), B's write that the source
// answered after A's must not run on the shadow first.
TEST_F(ShadowOrderTest, AWriteWaitsForAnEarlierWriteOfAnotherSession) {
  FakeShadow* a = New(w0_.get(), /*ready=*/false);
  FakeShadow* b = New(w0_.get());
  a->Source("UPDATE t SET k = k + 1 WHERE id = 5", true);
  b->Source("DELETE FROM t WHERE id = 5", true);
  Spin();
  EXPECT_TRUE(b->sent.empty());
  a->LoggedIn();
  ASSERT_EQ(a->sent.size(), 1u);
  Spin();
  EXPECT_TRUE(b->sent.empty());  // A's write is on the shadow, not answered yet
  a->AnswerFront();
  ASSERT_TRUE(RunUntil([&] { return b->sent.size() == 1; }));
  EXPECT_EQ(b->sent[0], "DELETE FROM t WHERE id = 5");
}

TEST_F(ShadowOrderTest, AReadDoesNotWaitForTheOrder) {
  FakeShadow* a = New(w0_.get(), /*ready=*/false);
  FakeShadow* b = New(w0_.get());
  a->Source("UPDATE t SET k = 1", true);
  b->Source("SELECT k FROM t", false);
  EXPECT_EQ(b->sent.size(), 1u);
  // ... but a write behind the read in B's own order still waits for A's.
  b->Source("UPDATE t SET k = 2", true);
  b->AnswerFront();
  Spin();
  EXPECT_EQ(b->sent.size(), 1u);
}

TEST_F(ShadowOrderTest, ACutSessionsWritesNoLongerHoldTheOthers) {
  FakeShadow* a = New(w0_.get(), /*ready=*/false);
  FakeShadow* b = New(w0_.get());
  a->Source("UPDATE t SET k = 1", true);
  a->Source("UPDATE t SET k = 2", true);
  b->Source("UPDATE t SET k = 3", true);
  Spin();
  EXPECT_TRUE(b->sent.empty());
  a->Cut(mirror::CutReason::kShadowDown, "test");
  ASSERT_TRUE(RunUntil([&] { return b->sent.size() == 1; }));
  EXPECT_EQ(order_->done_through(), 2u);
}

TEST_F(ShadowOrderTest, TheTurnPassesToAnotherWorker) {
  FakeShadow* a = New(w0_.get());
  FakeShadow* b = New(w1_.get());
  a->Source("INSERT INTO t VALUES (1)", true);
  b->Source("INSERT INTO t VALUES (2)", true);
  a->Source("INSERT INTO t VALUES (3)", true);
  ASSERT_EQ(a->sent.size(), 1u);
  Spin();
  EXPECT_TRUE(b->sent.empty());
  a->AnswerFront();  // ticket 1 done: worker 1's ticket 2 is next, woken through its inbox
  ASSERT_TRUE(RunUntil([&] { return b->sent.size() == 1; }));
  Spin();
  EXPECT_EQ(a->sent.size(), 1u);  // A's second write (ticket 3) waits for B's
  b->AnswerFront();
  ASSERT_TRUE(RunUntil([&] { return a->sent.size() == 2; }));
  EXPECT_EQ(a->sent[1], "INSERT INTO t VALUES (3)");
}

// The source answers a COMMIT after it released its locks, so a write that waited for them
// can have the earlier ticket: a COMMIT that waited for it would wait forever on the shadow.
TEST_F(ShadowOrderTest, ACommitDoesNotWaitForTheOrder) {
  FakeShadow* a = New(w0_.get(), /*ready=*/false);
  FakeShadow* b = New(w0_.get());
  a->Source("UPDATE t SET k = 1 WHERE id = 5", true);
  b->Source("COMMIT", true, /*ends_txn=*/true);
  EXPECT_EQ(b->sent.size(), 1u);
}

// Where the shadow takes a lock the source did not, a write can wait on the shadow for a
// transaction whose next write waits for it in the order: the order's wait is bounded.
TEST_F(ShadowOrderTest, AWriteWaitsForItsTurnAtMostASecond) {
  FakeShadow* a = New(w0_.get(), /*ready=*/false);  // holds ticket 1 and never runs it
  FakeShadow* b = New(w0_.get());
  a->Source("UPDATE t SET k = 1", true);
  b->Source("UPDATE t SET k = 2", true);
  int64_t t0 = MonotonicMs();
  ASSERT_TRUE(RunUntil([&] { return b->sent.size() == 1; }));
  EXPECT_GE(MonotonicMs() - t0, 900);
  b->AnswerFront();  // its ticket is done out of order; ticket 1 still holds the order
  EXPECT_EQ(order_->done_through(), 0u);
  a->LoggedIn();
  a->AnswerFront();
  EXPECT_EQ(order_->done_through(), 2u);
}

}  // namespace
}  // namespace sluice
