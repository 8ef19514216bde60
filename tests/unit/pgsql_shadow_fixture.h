// The PostgreSQL shadow tests' fixture (proxy_pgsql_shadow*_test.cc): the test plays the
// client, the source server (0) and the shadow server (1) of a session mirrored to m1.
#pragma once

#include <arpa/inet.h>

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "mirror/partial.h"
#include "protocol/pgsql/constants.h"
#include "proxy/worker.h"
#include "tests/unit/mirror_fixture.h"
#include "tests/unit/pgsql_session_fixture.h"

namespace sluice::pgproxy {

inline std::string Row(const std::vector<std::string>& values) {
  std::string body;
  uint16_t n = htons(static_cast<uint16_t>(values.size()));
  body.append(reinterpret_cast<const char*>(&n), 2);
  for (const auto& v : values) {
    uint32_t len = htonl(static_cast<uint32_t>(v.size()));
    body.append(reinterpret_cast<const char*>(&len), 4);
    body += v;
  }
  return Typed('D', body);
}

inline std::string Error(std::string_view sqlstate, std::string_view message) {
  std::string out;
  pgsql::AppendErrorResponse(&out, pgsql::ErrorSpec{"ERROR", sqlstate, message, "", ""});
  return out;
}

// The statement name of a Parse (its first string) or a Bind (its second).
inline std::string NameIn(const Msg& m) {
  if (m.type == 'P') return m.body.substr(0, m.body.find('\0'));
  size_t portal_end = m.body.find('\0');
  return m.body.substr(portal_end + 1, m.body.find('\0', portal_end + 1) - portal_end - 1);
}

class PgShadowTest : public PgSessionTest {
 protected:
  // Adds cluster "shadow" (one primary, no listen) and mirror m1 from app to it, on.
  void Mirror(int queue_statements = 1000, int64_t queue_bytes = 4 << 20) {
    h_.Publish([&](Runtime* rt) {
      rt->clusters[0].servers.resize(1);  // reads too go to the source's primary (server 0)
      testing::AddShadowMirror(rt, Protocol::kPostgres, 5432, queue_statements);
      rt->mirrors.back().queue_bytes = queue_bytes;
    });
    h_.Settle();
  }
  mirror::MirrorAgg* Agg() {
    auto& ms = h_.worker().mirror_feed().partial()->mirrors();
    auto it = ms.find("m1");
    return it == ms.end() ? nullptr : &it->second;
  }
  // Logs in a mirrored client: server 0 is the source (the login's own backend, pooled),
  // server 1 the shadow, dialed when the login ends.
  void MirroredLogin(int queue_statements = 1000, int64_t queue_bytes = 4 << 20) {
    Mirror(queue_statements, queue_bytes);
    LoggedIn();
    ServerLogin(1);
    ASSERT_EQ(h_.server(1).address, "10.0.1.1");
  }
  // One simple Query through the source, answered with ANSWER; returns what the shadow got.
  std::vector<Msg> SourceAnswers(const std::string& sql, const std::string& answer,
                                 char until_on_shadow = 'Q') {
    h_.client().Write(Query(sql));
    auto got = ServerUntil(0, 'Q');
    EXPECT_FALSE(got.empty());
    h_.server(0).Write(answer);
    auto client = ClientUntil('Z');
    EXPECT_FALSE(client.empty());
    return ServerUntil(1, until_on_shadow);
  }
  uint64_t Cuts(mirror::CutReason why) {
    auto* a = Agg();
    return a ? a->cuts[static_cast<size_t>(why)] : 0;
  }
  // COPY t FROM STDIN through the source, which asks for the data (CopyInResponse).
  void StartCopy() {
    h_.client().Write(Query("COPY t FROM STDIN"));
    ServerUntil(0, 'Q');
    h_.server(0).Write(Typed('G', std::string("\0\0\1\0\0", 5)));
    ClientUntil('G');
  }
  // SELECT 1 through the source, answered as usual: the session still works.
  void StillServes() {
    h_.client().Write(Query("SELECT 1"));
    ASSERT_EQ(ServerUntil(0, 'Q').size(), 1u);
    h_.server(0).Write(Row({"1"}) + Complete("SELECT 1") + Ready());
    auto got = ClientUntil('Z');
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].type, 'D');
  }
  // The source ends the COPY with TAG: the client gets it, the session's mirroring was cut
  // (queue_full), the session goes on and nothing of the COPY reached the shadow.
  void EndCopyCut(const std::string& tag) {
    EXPECT_EQ(Cuts(mirror::CutReason::kQueueFull), 1u);
    h_.server(0).Write(Complete(tag) + Ready());
    auto got = ClientUntil('Z');
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].type, 'C');
    StillServes();
    h_.Settle();
    EXPECT_EQ(h_.server(1).TakeAll(), "");
  }
  bool Paired(uint64_t n) {
    auto* a = Agg();
    uint64_t pairs = 0;
    if (a)
      for (const auto& [_, d] : a->digests) pairs += d.pairs;
    return pairs == n;
  }
};

}  // namespace sluice::pgproxy
