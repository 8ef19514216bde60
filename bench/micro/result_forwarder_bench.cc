// The shared result forwarder (proxy/result_forwarder.h) moving a MySQL result from a
// backend's input to the client's output: sysbench's range select (100 rows of id + CHAR(120))
// as it arrives in 16 KiB reads, with row runs (MysqlFraming::PassRun) and packet by packet.
#include <benchmark/benchmark.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <memory>
#include <string>

#include "protocol/mysql/constants.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/response.h"
#include "protocol/mysql/wire.h"
#include "proxy/client_conn.h"
#include "proxy/mysql/result_framing.h"
#include "proxy/result_forwarder.h"

namespace {

using sluice::ClientConn;
using sluice::Frame;
using sluice::ResultForwarder;
using sluice::ResultFraming;
namespace sm = sluice::mysql;

constexpr uint64_t kCaps = sm::CLIENT_PROTOCOL_41 | sm::CLIENT_TRANSACTIONS |
                           sm::CLIENT_MULTI_RESULTS | sm::CLIENT_DEPRECATE_EOF;

// A column definition: catalog "def", schema "sbtest", table "sbtest1", utf8mb4, `type`.
std::string Def(std::string_view name, uint8_t type) {
  std::string p;
  sm::Writer w(&p);
  for (std::string_view part : {"def", "sbtest", "sbtest1", "sbtest1"}) w.LenEncString(part);
  w.LenEncString(name).LenEncString(name);
  w.U8(0x0c).U16(45).U32(120).U8(type).U16(0).U8(0).U16(0);
  return p;
}

// "SELECT id, c FROM sbtest1 WHERE id BETWEEN ? AND ?" (text protocol), 100 rows.
std::string RangeResult() {
  std::string out;
  uint8_t seq = 1;
  sm::AppendPacket(&out, &seq, std::string_view("\x02", 1));
  sm::AppendPacket(&out, &seq, Def("id", 0x03));
  sm::AppendPacket(&out, &seq, Def("c", 0xfe));
  for (int i = 0; i < 100; ++i) {
    std::string row;
    sm::Writer w(&row);
    w.LenEncString(std::to_string(5000 + i)).LenEncString(std::string(119, 'x') + "-");
    sm::AppendPacket(&out, &seq, row);
  }
  // DEPRECATE_EOF's end: an OK with the EOF header (affected 0, insert id 0, AUTOCOMMIT).
  sm::AppendPacket(&out, &seq, std::string_view("\xfe\x00\x00\x02\x00\x00\x00", 7));
  return out;
}

class Passer final : public ResultForwarder::Callbacks, public ClientConn::Callbacks {
 public:
  ResultForwarder::Verdict OnFrame(const Frame&, ResultFraming::Step,
                                   std::span<const uint8_t>) override {
    return ResultForwarder::Verdict::kPass;
  }
  ResultForwarder::Next TakeFrame(const Frame&, ResultFraming::Step,
                                  std::span<const uint8_t>) override {
    return ResultForwarder::Next::kGone;
  }
  void PauseBackendRead() override {}
  void OnClientReadable() override {}
  void OnClientDrained() override {}
  void OnClientGone() override {}
};

void BM_ForwardRangeResult(benchmark::State& state) {
  const bool runs = state.range(0) != 0;
  event_base* base = event_base_new();
  bufferevent* pair[2];
  bufferevent_pair_new(base, 0, pair);
  Passer passer;
  auto client = std::make_unique<ClientConn>(pair[0], &passer, 0);
  sm::ResponseTracker tracker;
  sluice::mysqlproxy::MysqlFraming framing(&tracker);
  framing.set_runs(runs);
  ResultForwarder fwd(&framing, &passer, client.get());
  const std::string result = RangeResult();
  evbuffer* in = evbuffer_new();
  evbuffer* read = evbuffer_new();
  for (auto _ : state) {
    // As the socket reads deliver it: 16 KiB chains.
    for (size_t at = 0; at < result.size(); at += 16384) {
      evbuffer_add(read, result.data() + at, std::min<size_t>(16384, result.size() - at));
      evbuffer_add_buffer(in, read);
    }
    tracker.Begin(sm::COM_QUERY, kCaps);
    framing.Begin();
    fwd.Begin();
    if (fwd.Forward(in) != ResultForwarder::Outcome::kEnded) state.SkipWithError("not ended");
    evbuffer* out = client->output();
    evbuffer_unfreeze(out, 1);
    evbuffer_drain(out, evbuffer_get_length(out));
    evbuffer_freeze(out, 1);
  }
  state.SetItemsProcessed(state.iterations() * 104);  // packets
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * result.size()));
  evbuffer_free(read);
  evbuffer_free(in);
  client.reset();
  bufferevent_free(pair[1]);
  event_base_free(base);
}
BENCHMARK(BM_ForwardRangeResult)->ArgName("runs")->Arg(0)->Arg(1);

}  // namespace
