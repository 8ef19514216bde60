// Micro benchmarks of protocol/pgsql: framing a realistic result stream (what the proxy
// does per backend read) and rewriting Parse/Bind statement names (transaction pooling).

#include <benchmark/benchmark.h>

#include <string>

#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/constants.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/message.h"

namespace sluice::pgsql {
namespace {

// RowDescription + 1,000 DataRows of (int, text, timestamp, NULL) + CommandComplete + 'Z'.
std::string ResultStream() {
  const FieldDescription fields[] = {
      {"id", 16384, 1, 23, 4, -1, 0},
      {"name", 16384, 2, 25, -1, -1, 0},
      {"created_at", 16384, 3, 1114, 8, -1, 0},
      {"deleted_at", 16384, 4, 1114, 8, -1, 0},
  };
  std::string out;
  AppendRowDescription(&out, fields);
  for (int i = 0; i < 1000; ++i) {
    const std::string id = std::to_string(i);
    const std::string name = "customer-" + std::to_string(i * 7919);
    const std::optional<std::string_view> values[] = {id, name, "2026-11-26 10:00:00.123456",
                                                      std::nullopt};
    AppendDataRow(&out, values);
  }
  AppendCommandComplete(&out, "SELECT 1000");
  AppendReadyForQuery(&out, kTxIdle);
  return out;
}

// What a session does on each backend read: frame every message, look only at the ones
// that end a result.
void BM_DecodeResultStream(benchmark::State& state) {
  const std::string stream = ResultStream();
  int64_t messages = 0;
  for (auto _ : state) {
    std::span<const uint8_t> in = AsBytes(stream);
    char tx = 0;
    uint64_t rows = 0;
    while (!in.empty()) {
      MessageView m;
      size_t consumed = 0;
      if (DecodeMessage(in, &m, &consumed) != DecodeStatus::kMessage) {
        state.SkipWithError("framing failed");
        return;
      }
      if (m.type == backend::kCommandComplete) {
        rows = CommandTagRows(DecodeCommandComplete(m.payload)->tag).value_or(0);
      } else if (m.type == backend::kReadyForQuery) {
        tx = DecodeReadyForQuery(m.payload)->status;
      }
      in = in.subspan(consumed);
      ++messages;
    }
    benchmark::DoNotOptimize(tx);
    benchmark::DoNotOptimize(rows);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(stream.size()));
  state.SetItemsProcessed(messages);
}
BENCHMARK(BM_DecodeResultStream);

// The same stream with every DataRow fully decoded (what a mirror checksum would need).
void BM_DecodeResultStreamRows(benchmark::State& state) {
  const std::string stream = ResultStream();
  int64_t messages = 0;
  for (auto _ : state) {
    std::span<const uint8_t> in = AsBytes(stream);
    size_t values = 0;
    while (!in.empty()) {
      MessageView m;
      size_t consumed = 0;
      if (DecodeMessage(in, &m, &consumed) != DecodeStatus::kMessage) {
        state.SkipWithError("framing failed");
        return;
      }
      if (m.type == backend::kDataRow) values += DecodeDataRow(m.payload)->values.size();
      in = in.subspan(consumed);
      ++messages;
    }
    benchmark::DoNotOptimize(values);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(stream.size()));
  state.SetItemsProcessed(messages);
}
BENCHMARK(BM_DecodeResultStreamRows);

// A pgbench-like Parse + Bind pair renamed to the proxy-wide statement name.
void BM_RewriteParseBind(benchmark::State& state) {
  std::string wire;
  AppendParse(&wire, Parse{"P_1",
                           "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
                           {23, 23}});
  const std::string a = "-4242", b = "123456";
  Bind bind;
  bind.statement = "P_1";
  bind.params = {AsBytes(a), AsBytes(b)};
  AppendBind(&wire, bind);
  MessageView parse, bindm;
  size_t consumed = 0;
  (void)DecodeMessage(AsBytes(wire), &parse, &consumed);
  (void)DecodeMessage(AsBytes(wire).subspan(consumed), &bindm, &consumed);
  std::string out;
  out.reserve(512);
  for (auto _ : state) {
    out.clear();
    const bool ok = RewriteParseStatementName(parse.payload, "sluice_9f2c41d07a3e", &out).ok() &&
                    RewriteBindStatementName(bindm.payload, "sluice_9f2c41d07a3e", &out).ok();
    if (!ok) {
      state.SkipWithError("rewrite failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * 2);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(wire.size()));
}
BENCHMARK(BM_RewriteParseBind);

}  // namespace
}  // namespace sluice::pgsql
