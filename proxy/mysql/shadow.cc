#include "proxy/mysql/shadow.h"

#include "common/log.h"
#include "protocol/mysql/constants.h"
#include "protocol/mysql/statement.h"
#include "proxy/mysql/packet_io.h"
#include "proxy/worker.h"

namespace sluice::mysqlproxy {

void FillOutcome(const mysql::ResponseTracker& t, const RowChecksum& sum, mirror::Outcome* o) {
  o->ok = !t.ended_in_error();
  if (!o->ok) {
    o->error.code = t.error().code;
    o->error.sqlstate = t.error().sql_state;
    o->error.text = t.error().message;
  }
  o->rows_returned = t.rows();
  o->rows_affected = t.affected_rows();
  o->checksum = sum.value();
}

MysqlShadow* MysqlShadow::Start(Worker* w, Params p, BackendLogin login) {
  auto* s = new MysqlShadow(w, std::move(p), std::move(login));
  s->ShadowSession::Start();
  return s;
}

void MysqlShadow::Send(mirror::ShadowStatement& s) {
  code_ = static_cast<uint8_t>(s.bytes[0]);
  stmt_id_ = s.stmt_id;
  bool by_id = code_ == mysql::COM_STMT_EXECUTE || code_ == mysql::COM_STMT_CLOSE ||
               code_ == mysql::COM_STMT_RESET || code_ == mysql::COM_STMT_SEND_LONG_DATA ||
               code_ == mysql::COM_STMT_FETCH;
  if (by_id) {
    auto it = stmts_.find(stmt_id_);
    if (it == stmts_.end()) {
      // The shadow refused the prepare: its error stands for every use of the statement.
      mirror::Outcome o;
      o.ok = false;
      auto f = failed_prepares_.find(stmt_id_);
      if (f != failed_prepares_.end()) {
        o.error = {f->second.code, f->second.sql_state, f->second.message};
      } else {
        o.error = {1243, "HY000", "Unknown prepared statement handler on the shadow"};
      }
      if (code_ == mysql::COM_STMT_CLOSE) {
        failed_prepares_.erase(stmt_id_);
      }
      Answered(std::move(o));
      return;
    }
    // The bytes are the client's; only the 4-byte statement id is the shadow's own.
    mysql::RewriteStatementId(&s.bytes, it->second);
    if (code_ == mysql::COM_STMT_CLOSE) stmts_.erase(it);
  }
  uint8_t seq = 0;
  WritePacket(backend_->output(), &seq, s.bytes);
  if (!s.expects_response) {
    backend_->WriteNow();
    Answered(mirror::Outcome{});
    return;
  }
  tracker_.Begin(code_, backend_->caps());
  sum_.Begin(s.ordered);
  backend_->WriteNow();
}

void MysqlShadow::OnBackendReadable(MysqlBackend* b) {
  if (b != backend_) return;
  evbuffer* in = b->input();
  for (;;) {
    mysql::PacketView pkt;
    size_t wire = 0;
    if (!PeekPacket(in, &pkt, &wire)) {
      size_t avail = evbuffer_get_length(in);
      if (avail >= 4) {
        uint8_t hdr[4];
        evbuffer_copyout(in, hdr, 4);
        b->AllowPacket(4 + (hdr[0] | (hdr[1] << 8) | (size_t{hdr[2]} << 16)));
      }
      return;
    }
    b->AllowPacket(0);
    if (tracker_.done()) {
      Failed(fmt::format("shadow server {}: data without a command", b->server()));
      return;
    }
    auto r = tracker_.Feed(pkt);
    sum_.Note(tracker_, pkt.payload);
    evbuffer_drain(in, wire);
    if (r == mysql::TrackStatus::kError) {
      Failed(fmt::format("shadow server {}: malformed response ({})", b->server(),
                         tracker_.error_reason()));
      return;
    }
    if (r == mysql::TrackStatus::kLocalInfileRequest) {
      // The session is cut before a LOAD DATA LOCAL reaches the queue; a server that asks
      // anyway gets an empty file.
      uint8_t seq = static_cast<uint8_t>(pkt.seq + 1);
      WritePacket(b->output(), &seq, "");
      b->WriteNow();
      continue;
    }
    if (r == mysql::TrackStatus::kDone) {
      if (code_ == mysql::COM_STMT_PREPARE) {
        if (tracker_.ended_in_error())
          failed_prepares_[stmt_id_] = tracker_.error();
        else
          stmts_[stmt_id_] = tracker_.prepare_ok().statement_id;
      }
      mirror::Outcome o;
      FillOutcome(tracker_, sum_, &o);
      Answered(std::move(o));  // may send the next statement, or cut, or delete later
      if (!backend_) return;
      backend_->WriteNow();
    }
  }
}

}  // namespace sluice::mysqlproxy
