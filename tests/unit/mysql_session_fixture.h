// The MySQL session fixture of the unit tests: a worker on in-memory pairs
// (tests/unit/session_harness.h), the test playing the client and every server, with the
// helpers that frame, split and decode their packets.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "protocol/mysql/auth.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/handshake.h"
#include "protocol/mysql/login_token.h"
#include "protocol/mysql/messages.h"
#include "protocol/mysql/packet.h"
#include "protocol/mysql/wire.h"
#include "proxy/mysql/session.h"
#include "proxy/mysql/worker_state.h"
#include "tests/unit/session_harness.h"

namespace sluice::mysqlproxy {

using sluice::testing::Harness;
using sluice::testing::Peer;

constexpr uint64_t kClientCaps = mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_SECURE_CONNECTION |
                                 mysql::CLIENT_PLUGIN_AUTH | mysql::CLIENT_TRANSACTIONS |
                                 mysql::CLIENT_LONG_PASSWORD | mysql::CLIENT_MULTI_RESULTS |
                                 mysql::CLIENT_DEPRECATE_EOF;

inline std::string Packet(uint8_t seq, std::string_view payload) {
  std::string out;
  mysql::AppendPacket(&out, &seq, mysql::AsBytes(payload));
  return out;
}

// Splits a byte stream into packet payloads.
inline std::vector<std::pair<uint8_t, std::string>> Packets(const std::string& bytes) {
  std::vector<std::pair<uint8_t, std::string>> out;
  size_t i = 0;
  while (i + 4 <= bytes.size()) {
    size_t len = static_cast<uint8_t>(bytes[i]) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                 (size_t{static_cast<uint8_t>(bytes[i + 2])} << 16);
    if (i + 4 + len > bytes.size()) break;
    out.emplace_back(static_cast<uint8_t>(bytes[i + 3]), bytes.substr(i + 4, len));
    i += 4 + len;
  }
  return out;
}

inline std::string Ok(uint16_t status = mysql::SERVER_STATUS_AUTOCOMMIT, uint64_t insert_id = 0) {
  return mysql::MakeOk(0, insert_id, status, 0, kClientCaps);
}

class MysqlSessionTest : public ::testing::Test {
 protected:
  // seed_greeting: the worker knows the cluster's greeting already (a backend sent it), so
  // a session greets at once; false: the first session probes server 0 for it.
  explicit MysqlSessionTest(bool seed_greeting = true) : h_(Protocol::kMysql) {
    if (seed_greeting)
      h_.worker().mysql_state().set_greeting(
          0, BackendGreeting{"5.5.5-10.11.6-MariaDB", kClientCaps, mysql::SERVER_STATUS_AUTOCOMMIT,
                             45});
  }

  // Starts a session and reads its greeting; returns the scramble.
  std::string Connect() {
    auto* s = new MysqlSession(&h_.worker(), 0, h_.NewClient(), "10.9.9.9");
    s->Start();
    EXPECT_TRUE(h_.RunUntil([&] { return evbuffer_get_length(h_.client().in()) > 4; }));
    auto pk = Packets(h_.client().TakeAll());
    EXPECT_EQ(pk.size(), 1u);
    auto hs = mysql::DecodeInitialHandshake(mysql::AsBytes(pk[0].second));
    EXPECT_TRUE(hs.ok());
    return hs->auth_plugin_data;
  }
  void SendLogin(const std::string& scramble, const std::string& plugin,
                 const std::string& password, const std::string& user = "app") {
    mysql::HandshakeResponse r;
    r.capabilities = kClientCaps;
    r.max_packet_size = 1 << 24;
    r.charset = 45;
    r.user = user;
    r.auth_plugin_name = plugin;
    r.auth_response = mysql::TokenFor(plugin, password, scramble);
    h_.client().Write(Packet(1, mysql::EncodeHandshakeResponse(r)));
  }
  // The next packets the client gets (waits for at least n).
  std::vector<std::pair<uint8_t, std::string>> ClientGets(size_t n) {
    std::string got;
    h_.RunUntil([&] {
      got += h_.client().TakeAll();
      return Packets(got).size() >= n;
    });
    return Packets(got);
  }
  void LoggedIn() {
    SendLogin(Connect(), mysql::kNativePasswordPlugin, "app_pw");
    auto pk = ClientGets(1);
    ASSERT_EQ(pk.size(), 1u);
    ASSERT_TRUE(mysql::IsOk(mysql::AsBytes(pk[0].second)));
  }
  // Plays backend i's login: greeting, read the HandshakeResponse, OK.
  void ServerLogin(size_t i) {
    ASSERT_TRUE(h_.RunUntil([&] { return h_.dialed() > i; }));
    mysql::InitialHandshake hs;
    hs.server_version = "10.11.6-MariaDB";
    hs.connection_id = static_cast<uint32_t>(100 + i);
    hs.auth_plugin_data = std::string(20, 'x');
    hs.capabilities = kClientCaps | mysql::CLIENT_CONNECT_WITH_DB | mysql::CLIENT_SESSION_TRACK;
    hs.charset = 45;
    hs.auth_plugin_name = mysql::kNativePasswordPlugin;
    h_.server(i).Write(Packet(0, mysql::EncodeInitialHandshake(hs)));
    std::string got;
    ASSERT_TRUE(h_.RunUntil([&] {
      got += h_.server(i).TakeAll();
      return !Packets(got).empty();
    }));
    h_.server(i).Write(Packet(2, Ok()));
  }
  // What backend i receives next: the commands' payloads (waits for at least n).
  std::vector<std::string> ServerGets(size_t i, size_t n) {
    std::string got;
    h_.RunUntil([&] {
      got += h_.server(i).TakeAll();
      return Packets(got).size() >= n;
    });
    std::vector<std::string> out;
    for (auto& [seq, p] : Packets(got)) out.push_back(p);
    return out;
  }
  void Query(std::string_view sql, uint8_t seq = 0) {
    h_.client().Write(
        Packet(seq, std::string(1, static_cast<char>(mysql::COM_QUERY)) + std::string(sql)));
  }

  Harness h_;
};

}  // namespace sluice::mysqlproxy
