// Micro benchmarks of the PostgreSQL statement path: one logged-in PgSession on in-memory
// bufferevent pairs (tests/unit/session_harness.h), a statement in and its answer out per
// iteration, as pgbench -S sends them (-M simple, -M extended). The peers' own work is in
// the time too and the same before and after a change: read the difference.

#include <arpa/inet.h>
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include <gtest/gtest.h>
#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/md5.h"
#include "protocol/pgsql/startup.h"

#include "proxy/pgsql/session.h"
#include "tests/unit/session_harness.h"

namespace sluice::pgproxy {
namespace {

using testing::Harness;
using testing::Peer;

// Bytes of the first message in buf when it is whole, else 0.
size_t Whole(const std::string& buf, size_t at) {
  if (buf.size() < at + 5) return 0;
  uint32_t len;
  memcpy(&len, buf.data() + at + 1, 4);
  len = ntohl(len);
  return buf.size() >= at + 1 + len ? 1 + len : 0;
}

// Reads peer until a message of type `until` arrived; what came is dropped.
bool Drain(Harness& h, Peer& p, char until, std::string* buf) {
  return h.RunUntil([&] {
    *buf += p.TakeAll();
    size_t at = 0;
    bool seen = false;
    while (size_t n = Whole(*buf, at)) {
      seen |= (*buf)[at] == until;
      at += n;
    }
    buf->erase(0, at);
    return seen;
  });
}

class Session {
 public:
  Session() : h_(Protocol::kPostgres) {
    auto* s = new PgSession(&h_.worker(), 0, h_.NewClient(), "10.9.9.9");
    s->Start();
    pgsql::StartupMessage m;
    m.params = {{"user", "md5user"}, {"database", "db"}};
    std::string out;
    pgsql::AppendStartupMessage(&out, m);
    h_.client().Write(out);
    std::string got;
    h_.RunUntil([&] {
      got += h_.client().TakeAll();
      return got.size() >= 13;
    });
    std::array<uint8_t, 4> salt;
    memcpy(salt.data(), got.data() + 9, 4);
    out.clear();
    pgsql::AppendPasswordMessage(&out, pgsql::Md5Password("md5user", "app_pw", salt));
    h_.client().Write(out);
    std::string buf;
    ok_ = h_.RunUntil([&] {
      ServerLogins();
      buf += h_.client().TakeAll();
      return buf.find('Z') != std::string::npos;
    });
  }
  bool ok() const { return ok_; }

  // One batch: the client's bytes, then the answer of whichever server got it.
  bool RoundTrip(const std::string& request, const std::string& answer) {
    h_.client().Write(request);
    size_t target = SIZE_MAX;
    if (!h_.RunUntil([&] {
          ServerLogins();
          for (size_t i = 0; i < h_.dialed(); ++i)
            if (evbuffer_get_length(h_.server(i).in()) >= 5 && logged_in_[i]) target = i;
          if (target == SIZE_MAX) return false;
          server_buf_ += h_.server(target).TakeAll();
          size_t at = 0;
          bool end = false;
          while (size_t n = Whole(server_buf_, at)) {
            end |= server_buf_[at] == 'S' || server_buf_[at] == 'Q';
            at += n;
          }
          server_buf_.erase(0, at);
          return end;
        }))
      return false;
    h_.server(target).Write(answer);
    return Drain(h_, h_.client(), 'Z', &client_buf_);
  }

 private:
  // Plays the login of every newly dialed server.
  void ServerLogins() {
    while (logged_in_.size() < h_.dialed()) {
      size_t i = logged_in_.size();
      if (evbuffer_get_length(h_.server(i).in()) < 8) return;
      h_.server(i).TakeAll();
      std::string out;
      pgsql::AppendAuthenticationOk(&out);
      pgsql::AppendParameterStatus(&out, "server_version", "16.0");
      pgsql::AppendParameterStatus(&out, "application_name", "");  // as the client sent none
      pgsql::AppendBackendKeyData(&out, pgsql::BackendKeyData{static_cast<int32_t>(500 + i), 7});
      pgsql::AppendReadyForQuery(&out, 'I');
      h_.server(i).Write(out);
      logged_in_.push_back(true);
    }
  }

  Harness h_;
  std::vector<bool> logged_in_;
  std::string server_buf_;
  std::string client_buf_;
  bool ok_ = false;
};

// pgbench -S's answer: RowDescription (abalance int4), one DataRow, SELECT 1, 'Z'.
std::string Answer(bool extended) {
  std::string out;
  if (extended) {
    out += std::string("1\0\0\0\4", 5);
    out += std::string("2\0\0\0\4", 5);
  }
  const pgsql::FieldDescription f{"abalance", 16397, 3, 23, 4, -1, 0};
  pgsql::AppendRowDescription(&out, std::span<const pgsql::FieldDescription>(&f, 1));
  const std::optional<std::string_view> v = "0";
  pgsql::AppendDataRow(&out, std::span<const std::optional<std::string_view>>(&v, 1));
  pgsql::AppendCommandComplete(&out, "SELECT 1");
  pgsql::AppendReadyForQuery(&out, 'I');
  return out;
}

void BM_PgbenchSelectSimple(benchmark::State& state) {
  Session s;
  if (!s.ok()) {
    state.SkipWithError("login failed");
    return;
  }
  const std::string answer = Answer(false);
  uint32_t aid = 1;
  std::string q;
  for (auto _ : state) {
    q.clear();
    pgsql::AppendQuery(
        &q, "SELECT abalance FROM pgbench_accounts WHERE aid = " + std::to_string(aid++) + ";");
    if (!s.RoundTrip(q, answer)) {
      state.SkipWithError("no answer");
      return;
    }
  }
}
BENCHMARK(BM_PgbenchSelectSimple);

void BM_PgbenchSelectExtended(benchmark::State& state) {
  Session s;
  if (!s.ok()) {
    state.SkipWithError("login failed");
    return;
  }
  const std::string answer = Answer(true);
  uint32_t aid = 1;
  std::string q;
  for (auto _ : state) {
    q.clear();
    pgsql::Parse parse;
    parse.query = "SELECT abalance FROM pgbench_accounts WHERE aid = $1;";
    pgsql::AppendParse(&q, parse);
    std::string value = std::to_string(aid++);
    pgsql::Bind bind;
    bind.params.push_back(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
    pgsql::AppendBind(&q, bind);
    pgsql::AppendDescribe(&q, 'P', "");
    pgsql::AppendExecute(&q, "", 0);
    pgsql::AppendSync(&q);
    if (!s.RoundTrip(q, answer)) {
      state.SkipWithError("no answer");
      return;
    }
  }
}
BENCHMARK(BM_PgbenchSelectExtended);

}  // namespace
}  // namespace sluice::pgproxy
