// MysqlSession, part four: the mirror. A mirrored session hands each command the source has
// answered, with the source's outcome, to its shadow session (proxy/mysql/shadow.h); the
// commands sluice answers itself follow in their place. Nothing here waits or locks.
#include "common/clock.h"
#include "protocol/mysql/constants.h"
#include "proxy/mysql/session.h"
#include "proxy/worker.h"

namespace sluice::mysqlproxy {
namespace {

// MariaDB include/mysqld_error.h: "Deadlock found when trying to get lock; try restarting
// transaction"; InnoDB has rolled the transaction back.
constexpr uint16_t kErLockDeadlock = 1213;

}  // namespace

ShadowSession* MysqlSession::NewShadow(ShadowSession::Params p) {
  BackendLogin login;
  if (!ShadowCredentials(user_, &login)) return nullptr;
  login.schema = want_.schema;
  login.caps = caps_ | mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_SECURE_CONNECTION |
               mysql::CLIENT_PLUGIN_AUTH | mysql::CLIENT_CONNECT_WITH_DB;
  login.charset = charset_;
  return MysqlShadow::Start(worker_, std::move(p), std::move(login));
}

void MysqlSession::MirrorCommand(bool was_infile) {
  ShadowSession* sh = shadow();
  if (!sh || cur().cmd.internal_check) return;
  if (was_infile) {
    sh->Cut(mirror::CutReason::kOther, "LOAD DATA LOCAL INFILE: the client's file is not kept");
    return;
  }
  const bool error = cur().tracker.ended_in_error();
  if (cur().cmd.code == mysql::COM_STMT_PREPARE && error) return;  // the client has no statement
  if (sh->mode() == MirrorMode::kReads) {
    // A shadow that keeps replicating gets the reads, and what they depend on.
    bool state = cur().cmd.code == mysql::COM_INIT_DB ||
                 cur().cmd.code == mysql::COM_STMT_PREPARE ||
                 !cur().cmd.info.session_vars.empty() || !cur().cmd.info.use_schema.empty();
    if (!cur().cmd.info.is_read && !state) return;
  }
  mirror::ShadowStatement s;
  s.bytes = cur().cmd.payload;  // the client's bytes, as the source got them
  s.stmt_id =
      cur().cmd.code == mysql::COM_STMT_PREPARE ? next_stmt_id_ - 1 : cur().cmd.client_stmt_id;
  s.expects_response = mysql::CommandExpectsResponse(cur().cmd.code);
  s.record = cur().cmd.code == mysql::COM_QUERY || cur().cmd.code == mysql::COM_STMT_EXECUTE;
  s.ends_txn = cur().cmd.info.txn == routing::TxnOp::kCommit ||
               cur().cmd.info.txn == routing::TxnOp::kRollback;
  if (s.record) {
    s.source = sh->NextSourceOutcome();
    mirror::Outcome& o = s.source;
    if (cur().cmd.code == mysql::COM_QUERY) {
      o.digest_hash = cur().cmd.digest_hash;
      o.digest_text = cur().cmd.digest;
    } else if (auto it = stmts_.find(cur().cmd.client_stmt_id); it != stmts_.end()) {
      o.digest_hash = it->second.digest_hash;
      o.digest_text = it->second.digest;
    }
    o.start_us = cur().cmd.start_us;
    o.end_us = MonotonicUs();
    o.read = cur().cmd.info.is_read;
    FillOutcome(cur().tracker, cur().src_sum, &o);
  }
  // A write the source refused is not replayed: the shadow would apply what production did
  // not (a lock wait timeout undoes the statement only). Its source side counts, unpaired.
  if (error && s.record && !cur().cmd.info.is_read) {
    sh->RecordUnpaired(std::move(s.source));
  } else {
    sh->Push(std::move(s));
  }
  // ER_LOCK_DEADLOCK: the server rolled the whole transaction back. The shadow's copy of it
  // must end the same way, or the client's next BEGIN would commit it there.
  if (error && cur().tracker.error().code == kErLockDeadlock) MirrorLocal("\x03ROLLBACK", 0, true);
}

void MysqlSession::MirrorLocal(const std::string& payload, uint32_t stmt_id,
                               bool expects_response) {
  ShadowSession* sh = shadow();
  if (!sh) return;
  mirror::ShadowStatement s;
  s.bytes = payload;
  s.stmt_id = stmt_id;
  s.expects_response = expects_response;
  sh->Push(std::move(s));
}

}  // namespace sluice::mysqlproxy
