// The sysbench oltp_point_select loop on one MysqlSession (tests/unit/mysql_session_fixture.h):
// the test plays the client and every server (greeting, login, PREPARE, EXECUTE, COM_QUERY
// answers) without allocating once its buffers are warm, so that what a statement allocates
// is the session's. Used by bench/micro/mysql_session_bench.cc and the allocation test.
#pragma once

#include <string>
#include <vector>

#include "protocol/mysql/resultset.h"
#include "protocol/mysql/statement.h"
#include "tests/unit/mysql_session_fixture.h"

namespace sluice::mysqlproxy::point_select {

constexpr char kPointSelect[] = "SELECT c FROM sbtest1 WHERE id=?";

// Bytes of the whole packet at buf[at], or 0 while it is incomplete.
inline size_t Whole(const std::string& buf, size_t at) {
  if (buf.size() < at + 4) return 0;
  size_t len = static_cast<uint8_t>(buf[at]) | (static_cast<uint8_t>(buf[at + 1]) << 8) |
               (size_t{static_cast<uint8_t>(buf[at + 2])} << 16);
  return buf.size() >= at + 4 + len ? 4 + len : 0;
}

// Appends what peer received to buf; reuses buf's room (no allocation once warm).
inline void Take(Peer& p, std::string* buf) {
  size_t n = evbuffer_get_length(p.in());
  if (n == 0) return;
  size_t old = buf->size();
  buf->resize(old + n);
  evbuffer_remove(p.in(), buf->data() + old, n);
}

inline std::string ColumnC() {
  mysql::ColumnDefinition c;
  c.schema = "sbtest";
  c.table = "sbtest1";
  c.name = "c";
  c.length = 480;
  return mysql::EncodeColumnDefinition41(c);
}

inline std::string EndOk() {
  mysql::OkPacket ok;
  ok.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT;
  ok.eof_header = true;
  return mysql::EncodeOk(ok, kClientCaps);
}

// The server's answers, built once.
struct Answers {
  std::string prepare;  // PREPARE_OK, the parameter's and the column's definitions
  std::string execute;  // binary result set: one row of c CHAR(120)
  std::string query;    // the same as a text result set
  Answers() {
    const std::string value(120, 'x');
    uint8_t seq = 1;
    mysql::AppendPacket(&prepare, &seq,
                        mysql::AsBytes(mysql::EncodePrepareOk(mysql::PrepareOk{1, 1, 1, 0})));
    mysql::ColumnDefinition param;
    param.name = "?";
    param.type = 0x08;  // MYSQL_TYPE_LONGLONG
    mysql::AppendPacket(&prepare, &seq, mysql::AsBytes(mysql::EncodeColumnDefinition41(param)));
    mysql::AppendPacket(&prepare, &seq, mysql::AsBytes(ColumnC()));

    seq = 1;
    mysql::AppendPacket(&execute, &seq, mysql::AsBytes(std::string("\x01", 1)));
    mysql::AppendPacket(&execute, &seq, mysql::AsBytes(ColumnC()));
    std::string row("\x00\x00", 2);  // header, null bitmap (1 column + 2 bits)
    row.push_back(static_cast<char>(value.size()));
    row += value;
    mysql::AppendPacket(&execute, &seq, mysql::AsBytes(row));
    mysql::AppendPacket(&execute, &seq, mysql::AsBytes(EndOk()));

    seq = 1;
    mysql::ColumnDefinition c;
    c.schema = "sbtest";
    c.table = "sbtest1";
    c.name = "c";
    c.length = 480;
    mysql::AppendTextResultSet(&query, &seq, {c}, {mysql::TextRow{value}}, kClientCaps,
                               mysql::SERVER_STATUS_AUTOCOMMIT);
  }
};

class Session : public MysqlSessionTest {
 public:
  Session() { ok_ = Login(); }
  bool ok() const { return ok_; }
  void TestBody() override {}

  // Prepares kPointSelect; false when the client got no answer.
  bool Prepare() {
    h_.client().Write(
        Packet(0, std::string(1, static_cast<char>(mysql::COM_STMT_PREPARE)) + kPointSelect));
    return RunUntilClientHas(3);
  }

  // One statement: request in, the answer out to the client (its end packet, 0xFE).
  bool RoundTrip(const std::string& request) {
    h_.client().Write(request);
    return RunUntilClientHas(0);
  }

 private:
  bool Login() {
    LoggedIn();
    return !::testing::Test::HasFailure();
  }

  // Runs the loop, playing every server, until the client got n packets (0: a packet that
  // ends a result set) or 2 s passed.
  bool RunUntilClientHas(size_t n) {
    int64_t deadline = MonotonicMs() + 2000;
    size_t got = 0;
    for (;;) {
      PlayServers();
      Take(h_.client(), &client_buf_);
      size_t at = 0;
      bool end = false;
      while (size_t len = Whole(client_buf_, at)) {
        ++got;
        if (len < 13 && static_cast<uint8_t>(client_buf_[at + 4]) == 0xFE) end = true;
        at += len;
      }
      client_buf_.erase(0, at);
      if (n ? got >= n : end) return true;
      if (MonotonicMs() > deadline) return false;
      event_base_loop(h_.worker().base(), EVLOOP_NONBLOCK);
    }
  }

  struct Server {
    bool greeted = false;
    bool logged_in = false;
    std::string buf;
  };

  void PlayServers() {
    while (servers_.size() < h_.dialed()) servers_.emplace_back();
    for (size_t i = 0; i < servers_.size(); ++i) {
      Server& s = servers_[i];
      Peer& p = h_.server(i);
      if (!s.greeted) {
        mysql::InitialHandshake hs;
        hs.server_version = "10.11.6-MariaDB";
        hs.connection_id = static_cast<uint32_t>(100 + i);
        hs.auth_plugin_data = std::string(20, 'x');
        hs.capabilities = kClientCaps | mysql::CLIENT_CONNECT_WITH_DB;
        hs.charset = 45;
        hs.auth_plugin_name = mysql::kNativePasswordPlugin;
        p.Write(Packet(0, mysql::EncodeInitialHandshake(hs)));
        s.greeted = true;
      }
      Take(p, &s.buf);
      size_t at = 0;
      while (size_t len = Whole(s.buf, at)) {
        uint8_t code = len > 4 ? static_cast<uint8_t>(s.buf[at + 4]) : 0;
        at += len;
        if (!s.logged_in) {
          s.logged_in = true;
          p.Write(Packet(2, Ok()));
          continue;
        }
        switch (code) {
          case mysql::COM_STMT_PREPARE:
            p.Write(answers_.prepare);
            break;
          case mysql::COM_STMT_EXECUTE:
            p.Write(answers_.execute);
            break;
          case mysql::COM_QUERY:
            p.Write(answers_.query);
            break;
          case mysql::COM_STMT_CLOSE:
            break;
          default:
            p.Write(ok_packet_);
            break;
        }
      }
      s.buf.erase(0, at);
    }
  }

  Answers answers_;
  std::string ok_packet_ = Packet(1, Ok());
  std::vector<Server> servers_;
  std::string client_buf_;
  bool ok_ = false;
};

// COM_STMT_EXECUTE of the point select with a BIGINT id; types on the first only, as
// libmysqlclient sends them.
inline std::string Execute(uint32_t stmt_id, int64_t id, bool types) {
  std::string p(1, static_cast<char>(mysql::COM_STMT_EXECUTE));
  mysql::Writer w(&p);
  w.U32(stmt_id).U8(0).U32(1).U8(0).U8(types ? 1 : 0);
  if (types) w.U16(0x08);
  w.U64(static_cast<uint64_t>(id));
  return Packet(0, p);
}

// COM_QUERY of the point select for id.
inline std::string Query(int64_t id) {
  return Packet(0, std::string(1, static_cast<char>(mysql::COM_QUERY)) +
                       "SELECT c FROM sbtest1 WHERE id=" + std::to_string(id));
}

}  // namespace sluice::mysqlproxy::point_select
