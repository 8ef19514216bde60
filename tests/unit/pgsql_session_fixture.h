// The PostgreSQL session fixture of the unit tests: a worker on in-memory pairs
// (tests/unit/session_harness.h), the test playing the client and every server, with the
// helpers that frame and split their messages.
#pragma once

#include <arpa/inet.h>

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "protocol/pgsql/backend.h"
#include "protocol/pgsql/frontend.h"
#include "protocol/pgsql/md5.h"
#include "protocol/pgsql/scram.h"
#include "protocol/pgsql/startup.h"
#include "proxy/pgsql/session.h"
#include "tests/unit/session_harness.h"

namespace sluice::pgproxy {

using sluice::testing::Harness;
using sluice::testing::Peer;

struct Msg {
  char type;
  std::string body;
};

// Splits typed messages (type byte + length) off the front of *buf.
inline std::vector<Msg> TakeMessages(std::string* buf) {
  std::vector<Msg> out;
  size_t i = 0;
  while (i + 5 <= buf->size()) {
    uint32_t len;
    memcpy(&len, buf->data() + i + 1, 4);
    len = ntohl(len);
    if (i + 1 + len > buf->size()) break;
    out.push_back(Msg{(*buf)[i], buf->substr(i + 5, len - 4)});
    i += 1 + len;
  }
  buf->erase(0, i);
  return out;
}

inline std::string Typed(char type, std::string_view body) {
  std::string out(1, type);
  uint32_t len = htonl(static_cast<uint32_t>(body.size() + 4));
  out.append(reinterpret_cast<const char*>(&len), 4);
  out += body;
  return out;
}

inline std::string Query(std::string_view sql) {
  std::string out;
  pgsql::AppendQuery(&out, sql);
  return out;
}

inline std::string Ready(char status = 'I') {
  std::string out;
  pgsql::AppendReadyForQuery(&out, status);
  return out;
}

inline std::string Complete(std::string_view tag) {
  std::string out;
  pgsql::AppendCommandComplete(&out, tag);
  return out;
}

class PgSessionTest : public ::testing::Test {
 protected:
  PgSessionTest() : h_(Protocol::kPostgres) {}

  void Connect(const std::string& user = "app") {
    auto* s = new PgSession(&h_.worker(), 0, h_.NewClient(), "10.9.9.9");
    s->Start();
    pgsql::StartupMessage m;
    m.params = {{"user", user}, {"database", "db"}};
    std::string out;
    pgsql::AppendStartupMessage(&out, m);
    h_.client().Write(out);
  }
  // The next messages the client gets, up to and including one of type `until`.
  std::vector<Msg> ClientUntil(char until, size_t client = SIZE_MAX) {
    Peer& c = client == SIZE_MAX ? h_.client() : h_.client(client);
    std::vector<Msg> got;
    h_.RunUntil([&] {
      buf_ += c.TakeAll();
      for (Msg& m : TakeMessages(&buf_)) got.push_back(std::move(m));
      return !got.empty() && got.back().type == until;
    });
    return got;
  }
  // SCRAM from the client's side; returns the messages after the client's final, up to
  // AuthenticationOk (or the error), or up to a message of type until when given.
  std::vector<Msg> ScramLogin(const std::string& password, char until = 0) {
    auto sasl = ClientUntil('R');
    EXPECT_EQ(sasl.size(), 1u);
    auto scram = pgsql::ScramClientSession::FromPassword(password);
    auto first = scram.ClientFirst();
    std::string out;
    pgsql::AppendSaslInitialResponse(&out, pgsql::kScramSha256, *first);
    h_.client().Write(out);
    auto cont = ClientUntil('R');
    EXPECT_EQ(cont.size(), 1u);
    auto fin = scram.ClientFinal(cont[0].body.substr(4));
    out.clear();
    pgsql::AppendSaslResponse(&out, *fin);
    h_.client().Write(out);
    return ClientUntil(until ? until : password == "app_pw" ? 'R' : 'E');
  }
  // Plays backend i's login: read the StartupMessage, AuthenticationOk, settings, key, 'Z'.
  void ServerLogin(size_t i) {
    ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() > i; }));
    ASSERT_TRUE(h_.RunUntil([&] { return evbuffer_get_length(h_.server(i).in()) >= 8; }));
    h_.server(i).TakeAll();
    std::string out;
    pgsql::AppendAuthenticationOk(&out);
    pgsql::AppendParameterStatus(&out, "server_version", "16.0");
    pgsql::AppendParameterStatus(&out, "work_mem", "4MB");
    pgsql::AppendParameterStatus(&out, "application_name", "");  // as the client sent none
    pgsql::AppendBackendKeyData(&out, pgsql::BackendKeyData{static_cast<int32_t>(500 + i), 7});
    out += Ready();
    h_.server(i).Write(out);
  }
  void LoggedIn() {
    Connect();
    auto ok = ScramLogin("app_pw");
    ASSERT_FALSE(ok.empty());
    ServerLogin(0);  // the login's own backend: the writer checks the database
    auto rest = ClientUntil('Z');
    ASSERT_FALSE(rest.empty());
    EXPECT_EQ(rest.back().type, 'Z');
  }
  // What backend i receives next (waits for a message of type until).
  std::vector<Msg> ServerUntil(size_t i, char until) {
    std::vector<Msg> got;
    std::string& buf = server_bufs_[i];
    h_.RunUntil([&] {
      buf += h_.server(i).TakeAll();
      for (Msg& m : TakeMessages(&buf)) got.push_back(std::move(m));
      for (const Msg& m : got)
        if (m.type == until) return true;
      return false;
    });
    return got;
  }

  Harness h_;
  std::string buf_;
  std::map<size_t, std::string> server_bufs_;
};

}  // namespace sluice::pgproxy
