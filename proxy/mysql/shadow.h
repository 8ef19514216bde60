// MysqlShadow: the MySQL wire of a shadow session (proxy/shadow_session.h): one connection
// of its own to the shadow server, logged in as the client's backend user with its schema,
// capabilities and character set; each command's payload goes out as the client sent it,
// with the shadow's own statement id in place of sluice's; the response is read through a
// ResponseTracker, its rows checksummed, and nothing of it is forwarded.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "mirror/outcome.h"
#include "protocol/mysql/response.h"
#include "proxy/mysql/backend.h"
#include "proxy/shadow_conn.h"

namespace sluice::mysqlproxy {

// Feeds a result's row packets into a checksum: one field per row (its payload, text or
// binary protocol), ordered when the statement has ORDER BY. Used for both sides, so the
// same rows give the same value whichever server sent them.
class RowChecksum {
 public:
  void Begin(bool ordered) {
    sum_ = mirror::ResultChecksum(ordered);
    rows_ = 0;
  }
  // After TRACKER was fed PAYLOAD: a row when the tracker's row count moved.
  void Note(const mysql::ResponseTracker& tracker, std::span<const uint8_t> payload) {
    if (tracker.rows() == rows_) return;
    rows_ = tracker.rows();
    sum_.AddField({reinterpret_cast<const char*>(payload.data()), payload.size()});
    sum_.EndRow();
  }
  uint64_t value() const { return sum_.Value(); }

 private:
  mirror::ResultChecksum sum_;
  uint64_t rows_ = 0;
};

// The outcome fields a tracker knows at the end of a response (ok/error, rows, checksum).
void FillOutcome(const mysql::ResponseTracker& t, const RowChecksum& sum, mirror::Outcome* o);

class MysqlShadow final : public ShadowConn<MysqlBackend, BackendLogin> {
 public:
  // LOGIN has the client's user, password, schema, caps and charset; the shadow server's
  // address is filled in here. Connects at once; returns nullptr when the shadow cluster has
  // no ONLINE server (the session is then counted as cut, shadow_down).
  static MysqlShadow* Start(Worker* w, Params p, BackendLogin login);

  void OnBackendReadable(MysqlBackend* b) override;

 private:
  MysqlShadow(Worker* w, Params p, BackendLogin login)
      : ShadowConn(w, std::move(p), std::move(login)) {}
  void Send(mirror::ShadowStatement& s) override;

  uint8_t code_ = 0;
  uint32_t stmt_id_ = 0;  // sluice's id of the statement in flight (prepare: the new one)
  mysql::ResponseTracker tracker_;
  RowChecksum sum_;
  // sluice's statement ids -> the shadow's; a prepare the shadow refused keeps its error.
  std::unordered_map<uint32_t, uint32_t> stmts_;
  std::unordered_map<uint32_t, mysql::ErrPacket> failed_prepares_;
};

}  // namespace sluice::mysqlproxy
