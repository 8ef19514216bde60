#include "proxy/mysql/shadow.h"

#include <strings.h>

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

namespace {

// A COM_QUERY that may be LOAD DATA LOCAL INFILE (its first word, after blanks and comments,
// is LOAD): the server answers it with a request for the file, and would take what follows
// for the file's contents.
bool MayLoadLocal(std::string_view q) {
  q.remove_prefix(1);  // the command byte
  for (;;) {
    while (!q.empty() &&
           (q[0] == ' ' || q[0] == '\t' || q[0] == '\n' || q[0] == '\r' || q[0] == '('))
      q.remove_prefix(1);
    if (q.starts_with("/*")) {
      size_t end = q.find("*/", 2);
      if (end == std::string_view::npos) return false;
      q.remove_prefix(end + 2);
    } else if (q.starts_with("#") || q.starts_with("-- ")) {
      size_t end = q.find('\n');
      if (end == std::string_view::npos) return false;
      q.remove_prefix(end + 1);
    } else {
      break;
    }
  }
  return q.size() >= 4 && strncasecmp(q.data(), "load", 4) == 0;
}

}  // namespace

bool MysqlShadow::EndsRun(const mirror::ShadowStatement& s) const {
  const uint8_t code = static_cast<uint8_t>(s.bytes[0]);
  // A prepare's id is what the statements after it map; a change of user or a reset is a
  // new session's start; a LOAD DATA LOCAL answers with a question.
  return code == mysql::COM_STMT_PREPARE || code == mysql::COM_CHANGE_USER ||
         code == mysql::COM_RESET_CONNECTION || (code == mysql::COM_QUERY && MayLoadLocal(s.bytes));
}

ShadowSession::Sent MysqlShadow::Send(mirror::ShadowStatement& s, mirror::Outcome* local) {
  const uint8_t code = static_cast<uint8_t>(s.bytes[0]);
  bool by_id = code == mysql::COM_STMT_EXECUTE || code == mysql::COM_STMT_CLOSE ||
               code == mysql::COM_STMT_RESET || code == mysql::COM_STMT_SEND_LONG_DATA ||
               code == mysql::COM_STMT_FETCH;
  if (by_id) {
    auto it = stmts_.find(s.stmt_id);
    if (it == stmts_.end()) {
      // The shadow refused the prepare: its error stands for every use of the statement.
      local->ok = false;
      auto f = failed_prepares_.find(s.stmt_id);
      if (f != failed_prepares_.end()) {
        local->error = {f->second.code, f->second.sql_state, f->second.message};
      } else {
        local->error = {1243, "HY000", "Unknown prepared statement handler on the shadow"};
      }
      if (code == mysql::COM_STMT_CLOSE) failed_prepares_.erase(s.stmt_id);
      return Sent::kLocal;
    }
    // The bytes are the client's; only the 4-byte statement id is the shadow's own.
    mysql::RewriteStatementId(&s.bytes, it->second);
    if (code == mysql::COM_STMT_CLOSE) stmts_.erase(it);
  }
  uint8_t seq = 0;
  WritePacket(backend_->output(), &seq, s.bytes);
  return s.expects_response ? Sent::kAwaitsAnswer : Sent::kLocal;
}

bool MysqlShadow::BeginAnswer() {
  const mirror::ShadowStatement* s = Awaited();
  if (!s) return false;
  code_ = static_cast<uint8_t>(s->bytes[0]);
  stmt_id_ = s->stmt_id;
  tracker_.Begin(code_, backend_->caps());
  sum_.Begin(s->ordered);
  return true;
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
      break;
    }
    b->AllowPacket(0);
    if (tracker_.done() && !BeginAnswer()) {
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
      if (in_flight() > 1) {
        // What was written after it would be read as the file.
        Cut(mirror::CutReason::kOther, "the shadow asked for a LOCAL INFILE file mid-pipeline");
        return;
      }
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
      Answered(std::move(o));  // may cut
      if (!backend_) return;
    }
  }
  Pump();  // the next run, once every answer read is recorded
}

}  // namespace sluice::mysqlproxy
