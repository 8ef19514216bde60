// MySQL codec micro benchmarks over a realistic 1,000-row text result set: packet decoding,
// packet encoding, and finding the end of the result with ResponseTracker.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "protocol/mysql/constants.h"
#include "protocol/mysql/messages.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/response.h"
#include "protocol/mysql/wire.h"

namespace sm = sluice::mysql;

namespace {

std::string ColumnDef(std::string_view name, uint8_t type) {
  std::string p;
  sm::Writer w(&p);
  w.LenEncString("def").LenEncString("shop").LenEncString("orders").LenEncString("orders");
  w.LenEncString(name).LenEncString(name).U8(0x0c).U16(45).U32(80).U8(type).U16(0).U8(0).U16(0);
  return p;
}

// Payloads of "SELECT id, customer, note, created FROM orders LIMIT 1000".
std::vector<std::string> ResultPayloads(bool deprecate_eof) {
  std::vector<std::string> out;
  out.push_back(std::string(1, '\x04'));
  out.push_back(ColumnDef("id", 0x08));
  out.push_back(ColumnDef("customer", 0xfd));
  out.push_back(ColumnDef("note", 0xfc));
  out.push_back(ColumnDef("created", 0x0c));
  if (!deprecate_eof) out.push_back(sm::EncodeEof({0, sm::SERVER_STATUS_AUTOCOMMIT}));
  for (int i = 0; i < 1000; ++i) {
    std::string row;
    sm::Writer w(&row);
    w.LenEncString(std::to_string(100000 + i)).LenEncString("customer-" + std::to_string(i % 97));
    if (i % 10 == 0) {
      w.LenEncNull();
    } else {
      w.LenEncString(std::string(40 + i % 30, 'n'));
    }
    w.LenEncString("2024-05-17 12:34:56");
    out.push_back(std::move(row));
  }
  if (deprecate_eof) {
    sm::OkPacket ok;
    ok.eof_header = true;
    ok.status_flags = sm::SERVER_STATUS_AUTOCOMMIT;
    out.push_back(sm::EncodeOk(ok, sm::CLIENT_PROTOCOL_41));
  } else {
    out.push_back(sm::EncodeEof({0, sm::SERVER_STATUS_AUTOCOMMIT}));
  }
  return out;
}

std::string Wire(const std::vector<std::string>& payloads) {
  std::string wire;
  uint8_t seq = 1;
  for (const auto& p : payloads) sm::AppendPacket(&wire, &seq, p);
  return wire;
}

void BM_DecodePackets(benchmark::State& state) {
  std::vector<std::string> payloads = ResultPayloads(false);
  std::string wire = Wire(payloads);
  for (auto _ : state) {
    std::span<const uint8_t> in = sm::AsBytes(wire);
    sm::PacketView p;
    size_t used = 0;
    size_t bytes = 0;
    while (sm::DecodePacket(in, &p, &used) == sm::DecodeStatus::kPacket) {
      bytes += p.payload.size();
      in = in.subspan(used);
    }
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations() * payloads.size());
  state.SetBytesProcessed(state.iterations() * wire.size());
}
BENCHMARK(BM_DecodePackets);

void BM_EncodePackets(benchmark::State& state) {
  std::vector<std::string> payloads = ResultPayloads(false);
  std::string wire;
  wire.reserve(Wire(payloads).size());
  for (auto _ : state) {
    wire.clear();
    uint8_t seq = 1;
    for (const auto& p : payloads) sm::AppendPacket(&wire, &seq, p);
    benchmark::DoNotOptimize(wire.data());
  }
  state.SetItemsProcessed(state.iterations() * payloads.size());
  state.SetBytesProcessed(state.iterations() * wire.size());
}
BENCHMARK(BM_EncodePackets);

// Arg 0: classic EOF packets; arg 1: CLIENT_DEPRECATE_EOF.
void BM_ResultSetEndDetection(benchmark::State& state) {
  bool deprecate = state.range(0) != 0;
  std::string wire = Wire(ResultPayloads(deprecate));
  uint64_t caps =
      sm::CLIENT_PROTOCOL_41 | sm::CLIENT_TRANSACTIONS | (deprecate ? sm::CLIENT_DEPRECATE_EOF : 0);
  sm::ResponseTracker tracker;
  size_t packets = 0;
  for (auto _ : state) {
    tracker.Begin(sm::COM_QUERY, caps);
    std::span<const uint8_t> in = sm::AsBytes(wire);
    sm::PacketView p;
    size_t used = 0;
    sm::TrackStatus st = sm::TrackStatus::kMore;
    packets = 0;
    while (st == sm::TrackStatus::kMore &&
           sm::DecodePacket(in, &p, &used) == sm::DecodeStatus::kPacket) {
      st = tracker.Feed(p);
      in = in.subspan(used);
      ++packets;
    }
    if (st != sm::TrackStatus::kDone || tracker.rows() != 1000) {
      state.SkipWithError("result set end not found");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * packets);
  state.SetBytesProcessed(state.iterations() * wire.size());
}
BENCHMARK(BM_ResultSetEndDetection)->Arg(0)->Arg(1);

}  // namespace
