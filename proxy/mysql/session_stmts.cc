// MysqlSession, the prepared statements' lifetime: a statement a client closes (or leaves
// behind when it resets, changes user or goes) is closed on the backend connections that
// hold it once no client of this worker uses its text any more, so that the server's
// max_prepared_stmt_count is spent on statements in use only.
#include "protocol/mysql/statement.h"
#include "protocol/mysql/wire.h"
#include "proxy/mysql/session.h"
#include "proxy/mysql/worker_state.h"
#include "proxy/worker.h"

namespace sluice::mysqlproxy {

MysqlBackend* MysqlSession::WritableBackend() const {
  // Between commands the session's own connection takes a COM_STMT_CLOSE at once.
  return phase_ == Phase::kIdle && !infile_ ? backend_ : nullptr;
}

void MysqlSession::AddStatement(uint32_t client_id, ClientStmt cs) {
  worker_->mysql_state().HoldStatement(cs.text);
  stmts_[client_id] = std::move(cs);
}

std::optional<uint32_t> MysqlSession::CommandStatementId(std::string* payload) const {
  auto id = mysql::StatementIdOf(mysql::AsBytes(*payload));
  if (id && *id == mysql::kLastPreparedStatement && last_prepared_id_ != 0) {
    mysql::RewriteStatementId(payload, last_prepared_id_);
    return last_prepared_id_;
  }
  return id;
}

void MysqlSession::DropStatement(uint32_t client_id) {
  auto it = stmts_.find(client_id);
  if (it == stmts_.end()) return;
  MysqlWorkerState& ws = worker_->mysql_state();
  if (ws.ReleaseStatement(it->second.text)) ws.ForgetStatement(it->second.text, WritableBackend());
  if (cur_ && cur_->cmd.stmt == &it->second) cur_->cmd.stmt = nullptr;
  stmts_.erase(it);
}

void MysqlSession::DropAllStatements() {
  MysqlWorkerState& ws = worker_->mysql_state();
  MysqlBackend* writable = WritableBackend();
  for (auto& [id, cs] : stmts_)
    if (ws.ReleaseStatement(cs.text)) ws.ForgetStatement(cs.text, writable);
  stmts_.clear();
  if (cur_) cur_->cmd.stmt = nullptr;
}

}  // namespace sluice::mysqlproxy
