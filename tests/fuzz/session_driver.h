// What both session fuzz drivers share: the unit harness's worker, the op loop of the fuzz
// script (tests/fuzz/session_fuzz_input.h) and the pump that lets the scripted backends
// answer; each protocol's driver starts its session, frames commands and plays its servers.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "tests/fuzz/session_fuzz_input.h"
#include "tests/unit/session_harness.h"

namespace sluice::fuzz {

using sluice::testing::Harness;
using sluice::testing::Peer;

class SessionDriver {
 public:
  SessionDriver(Protocol protocol, uint8_t flags) : h_(protocol), flags_(flags) {}
  virtual ~SessionDriver() = default;

  // Starts the session (and the driver's login when the flags ask), then runs the ops.
  void Run(FuzzInput* in) {
    StartSession();
    while (!in->empty() && h_.client().bev) {
      uint8_t op = in->Byte();
      switch (static_cast<Op>(op & 7)) {
        case Op::kClientBytes:
          h_.client().Write(in->Chunk());
          break;
        case Op::kClientCommand:
          h_.client().Write(Command(op, in));
          break;
        case Op::kAnswer:
          answers_.push_back(in->Byte());
          break;
        case Op::kServerBytes: {
          uint8_t i = in->Byte();
          std::string bytes = in->Chunk();
          if (h_.dialed() && h_.server(i % h_.dialed()).bev)
            h_.server(i % h_.dialed()).Write(bytes);
          break;
        }
        case Op::kServerClose:
          if (h_.dialed()) h_.server(in->Byte() % h_.dialed()).Close();
          break;
        case Op::kClientClose:
          h_.client().Close();
          break;
        case Op::kRuntime:
          ChangeRuntime(in->Byte());
          break;
        case Op::kClientReading:
          client_reads_ = !client_reads_;
          break;
      }
      Pump();
    }
  }

  // What the backends received after their logins, in order (for the drivers' own tests).
  const std::vector<std::string>& seen() const { return seen_; }
  // What the client received after the driver's login (the first MiB).
  const std::string& client_got() const { return client_out_; }

 protected:
  virtual void StartSession() = 0;
  // The bytes of a kClientCommand op (the op byte's high bits and what follows).
  virtual std::string Command(uint8_t op, FuzzInput* in) = 0;
  // Answers what every backend connection sent since the last call.
  virtual void Serve() = 0;

  void Pump(int turns = 12) {
    for (int i = 0; i < turns; ++i) {
      event_base_loop(h_.worker().base(), EVLOOP_NONBLOCK);
      Serve();
      if (client_reads_ && h_.client().bev) {
        std::string got = h_.client().TakeAll();
        if (client_out_.size() < (1 << 20)) client_out_ += got;
      }
    }
  }

  uint8_t NextAnswer() {
    if (answers_.empty()) return 0;
    uint8_t a = answers_.front();
    answers_.pop_front();
    return a;
  }

  Harness h_;
  uint8_t flags_;
  std::string client_out_;
  std::vector<std::string> seen_;

 private:
  void ChangeRuntime(uint8_t what) {
    h_.Publish([what](Runtime* rt) {
      auto& s = rt->clusters[0].servers;
      switch (what % 4) {
        case 0:
          sluice::testing::PromoteReplica(rt);
          break;
        case 1:
          s[1].state = ServerState::kShunned;
          break;
        case 2:
          s[0].state = ServerState::kOfflineSoft;
          break;
        default:
          s[0].state = s[1].state = ServerState::kOnline;
          break;
      }
    });
  }

  bool client_reads_ = true;
  std::deque<uint8_t> answers_;
};

}  // namespace sluice::fuzz
