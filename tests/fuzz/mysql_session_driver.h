// The MySQL session fed from fuzz bytes: the unit fixtures' worker on in-memory pairs
// (tests/unit/session_harness.h), a scripted backend, and the client's bytes from the input.
#pragma once

#include <string>
#include <vector>

#include "tests/fuzz/session_driver.h"
#include "tests/unit/mysql_session_fixture.h"

namespace sluice::fuzz {

// Flags byte: bit 0 the driver logs in (correct token for the random scramble), so the ops
// start after authentication; otherwise the client's first bytes are its own login (user
// "fuzz" has an empty password, so a raw login can succeed). Bit 1: the greeting is not
// known yet (the session probes server 0). Bits 2-7 choose the driver login's capabilities.
inline constexpr uint8_t kDriverLogin = 1;
inline constexpr uint8_t kProbeGreeting = 2;

class MysqlSessionDriver final : public SessionDriver {
 public:
  explicit MysqlSessionDriver(uint8_t flags) : SessionDriver(Protocol::kMysql, flags) {
    h_.Publish([](Runtime* rt) {
      User u = rt->users[0];
      u.name = "fuzz";
      u.password = "";
      rt->users.push_back(u);
    });
    if (!(flags & kProbeGreeting))
      h_.worker().mysql_state().set_greeting(
          0, mysqlproxy::BackendGreeting{"5.5.5-10.11.6-MariaDB", mysqlproxy::kClientCaps,
                                         mysql::SERVER_STATUS_AUTOCOMMIT, 45});
  }

 private:
  struct Backend {
    bool logged_in = false;
    uint64_t caps = 0;
    uint32_t next_stmt = 1;
    std::string in;
  };

  bool DeprecateEof(const Backend& b) const { return b.caps & mysql::CLIENT_DEPRECATE_EOF; }

  void StartSession() override {
    auto* s = new mysqlproxy::MysqlSession(&h_.worker(), 0, h_.NewClient(), "10.9.9.9");
    s->Start();
    if (flags_ & kDriverLogin) DriverLogin();
  }

  std::string Command(uint8_t op, FuzzInput* in) override {
    return mysqlproxy::Packet(op >> 3, in->Chunk());  // the op's high bits: the sequence id
  }

  // The client side of a correct login, with capabilities from the flags.
  void DriverLogin() {
    Pump();
    auto pk = mysqlproxy::Packets(client_out_);
    client_out_.clear();
    if (pk.empty()) return;
    auto hs = mysql::DecodeInitialHandshake(mysql::AsBytes(pk[0].second));
    if (!hs.ok()) return;
    mysql::HandshakeResponse r;
    r.capabilities = mysqlproxy::kClientCaps;
    if (flags_ & 4) r.capabilities &= ~mysql::CLIENT_DEPRECATE_EOF;
    if (flags_ & 8) r.capabilities |= mysql::CLIENT_MULTI_STATEMENTS;
    if (flags_ & 16) r.capabilities |= mysql::CLIENT_SESSION_TRACK;
    if (flags_ & 32) {
      r.capabilities |= mysql::CLIENT_CONNECT_WITH_DB;
      r.database = "db";
    }
    if (flags_ & 64) r.capabilities |= mysql::CLIENT_CONNECT_ATTRS;
    r.max_packet_size = 1 << 24;
    r.charset = 45;
    r.user = "app";
    r.auth_plugin_name = (flags_ & 128) ? mysql::kCachingSha2Plugin : mysql::kNativePasswordPlugin;
    r.auth_response = mysql::TokenFor(r.auth_plugin_name, "app_pw", hs->auth_plugin_data);
    h_.client().Write(mysqlproxy::Packet(1, mysql::EncodeHandshakeResponse(r)));
    Pump();
  }

  // Every backend connection: a greeting when dialed, OK to its login, then an answer per
  // command as the script says.
  void Serve() override {
    while (backends_.size() < h_.dialed()) {
      size_t i = backends_.size();
      backends_.emplace_back();
      mysql::InitialHandshake hs;
      hs.server_version = "10.11.6-MariaDB";
      hs.connection_id = static_cast<uint32_t>(100 + i);
      hs.auth_plugin_data = std::string(20, 'x');
      hs.capabilities = mysqlproxy::kClientCaps | mysql::CLIENT_CONNECT_WITH_DB |
                        mysql::CLIENT_SESSION_TRACK | mysql::CLIENT_MULTI_STATEMENTS;
      hs.charset = 45;
      hs.auth_plugin_name = mysql::kNativePasswordPlugin;
      if (h_.server(i).bev)  // (a script may have closed it before its greeting)
        h_.server(i).Write(mysqlproxy::Packet(0, mysql::EncodeInitialHandshake(hs)));
    }
    for (size_t i = 0; i < backends_.size(); ++i) {
      Peer& peer = h_.server(i);
      if (!peer.bev) continue;
      Backend& b = backends_[i];
      b.in += peer.TakeAll();
      size_t used = 0;
      while (used + 4 <= b.in.size()) {
        size_t len = static_cast<uint8_t>(b.in[used]) |
                     (static_cast<uint8_t>(b.in[used + 1]) << 8) |
                     (size_t{static_cast<uint8_t>(b.in[used + 2])} << 16);
        if (used + 4 + len > b.in.size()) break;
        std::string payload = b.in.substr(used + 4, len);
        used += 4 + len;
        if (!Answer(i, &b, payload)) return;  // the connection closed
      }
      b.in.erase(0, used);
    }
  }

  // Answers one packet; false when the backend closed.
  bool Answer(size_t i, Backend* b, const std::string& payload) {
    Peer& peer = h_.server(i);
    if (!b->logged_in) {
      auto r = mysql::DecodeHandshakeResponse(mysql::AsBytes(payload));
      b->caps = r.ok() ? r->capabilities : mysqlproxy::kClientCaps;
      b->logged_in = true;
      peer.Write(mysqlproxy::Packet(2, Ok(b)));
      return true;
    }
    uint8_t cmd = payload.empty() ? 0 : static_cast<uint8_t>(payload[0]);
    seen_.push_back(payload);
    if (cmd == mysql::COM_QUIT) {
      peer.Close();
      return false;
    }
    if (cmd == mysql::COM_STMT_CLOSE || cmd == mysql::COM_STMT_SEND_LONG_DATA) return true;
    uint8_t a = NextAnswer();
    std::string out;
    uint8_t seq = 1;
    if (cmd == mysql::COM_STMT_PREPARE && a % 4 != 3) {
      mysql::PrepareOk ok{b->next_stmt++, static_cast<uint16_t>(a % 2),
                          static_cast<uint16_t>((a >> 1) % 3), 0};
      out += mysqlproxy::Packet(seq++, mysql::EncodePrepareOk(ok));
      for (int n : {int{ok.num_params}, int{ok.num_columns}}) {
        if (n == 0) continue;
        for (int k = 0; k < n; ++k) out += mysqlproxy::Packet(seq++, ColumnDef());
        if (!DeprecateEof(*b)) out += mysqlproxy::Packet(seq++, Eof(kAutocommit));
      }
      peer.Write(out);
      return true;
    }
    bool binary = cmd == mysql::COM_STMT_EXECUTE || cmd == mysql::COM_STMT_FETCH;
    switch (a % 8) {
      case 0:
        out = mysqlproxy::Packet(seq, Ok(b));
        break;
      case 1:
        out = mysqlproxy::Packet(seq, Ok(b, kInTrans));
        break;
      case 2:
        out = mysqlproxy::Packet(seq, mysql::MakeErr(1146, "42S02", "no such table"));
        break;
      case 3:
        out = ResultSet(*b, binary, 1, kAutocommit);
        break;
      case 4:
        return true;  // silence: the command stays in flight
      case 5:
        out = mysqlproxy::Packet(seq, Ok(b, kAutocommit | mysql::SERVER_MORE_RESULTS_EXISTS));
        out += mysqlproxy::Packet(seq + 1, Ok(b));
        break;
      case 6:
        out = ResultSet(*b, binary, 0, kInTrans);
        break;
      default:
        out = mysqlproxy::Packet(seq, mysql::MakeErr(1213, "40001", "deadlock"));
        break;
    }
    peer.Write(out);
    return true;
  }

  static constexpr uint16_t kAutocommit = mysql::SERVER_STATUS_AUTOCOMMIT;
  static constexpr uint16_t kInTrans =
      mysql::SERVER_STATUS_AUTOCOMMIT | mysql::SERVER_STATUS_IN_TRANS;

  std::string Ok(const Backend* b, uint16_t status = kAutocommit) const {
    return mysql::MakeOk(0, 0, status, 0, b->caps);
  }
  static std::string Eof(uint16_t status) {
    std::string p;
    mysql::Writer(&p).U8(0xfe).U16(0).U16(status);
    return p;
  }
  static std::string ColumnDef() {
    std::string p;
    mysql::Writer(&p)
        .LenEncString("def")
        .LenEncString("db")
        .LenEncString("t")
        .LenEncString("t")
        .LenEncString("c")
        .LenEncString("c")
        .LenEnc(0x0c)
        .U16(45)
        .U32(255)
        .U8(0xfd)
        .U16(0)
        .U8(0)
        .U16(0);
    return p;
  }
  // One VARCHAR column, `rows` rows of "1", the end (EOF or 0xFE OK) with `status`.
  std::string ResultSet(const Backend& b, bool binary, int rows, uint16_t status) const {
    uint8_t seq = 1;
    std::string out = mysqlproxy::Packet(seq++, std::string(1, '\x01'));
    out += mysqlproxy::Packet(seq++, ColumnDef());
    if (!DeprecateEof(b)) out += mysqlproxy::Packet(seq++, Eof(status));
    for (int r = 0; r < rows; ++r) {
      std::string row;
      if (binary) mysql::Writer(&row).U8(0).U8(0);  // header, NULL bitmap
      mysql::Writer(&row).LenEncString("1");
      out += mysqlproxy::Packet(seq++, row);
    }
    if (DeprecateEof(b)) {
      std::string end;
      mysql::Writer(&end).U8(0xfe).LenEnc(0).LenEnc(0).U16(status).U16(0);
      out += mysqlproxy::Packet(seq++, end);
    } else {
      out += mysqlproxy::Packet(seq++, Eof(status));
    }
    return out;
  }

  std::vector<Backend> backends_;
};

inline void RunMysqlSession(const uint8_t* data, size_t size) {
  if (size == 0) return;
  FuzzInput in(data + 1, size - 1);
  MysqlSessionDriver d(data[0]);
  d.Run(&in);
}

}  // namespace sluice::fuzz
