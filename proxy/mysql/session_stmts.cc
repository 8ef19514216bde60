// MysqlSession, the prepared statements' lifetime: a statement a client closes (or leaves
// behind when it resets, changes user or goes) is closed on the backend connections that
// hold it once no client of this worker uses its text any more, so that the server's
// max_prepared_stmt_count is spent on statements in use only.
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

void MysqlSession::DropStatement(uint32_t client_id) {
  auto it = stmts_.find(client_id);
  if (it == stmts_.end()) return;
  MysqlWorkerState& ws = worker_->mysql_state();
  if (ws.ReleaseStatement(it->second.text)) ws.ForgetStatement(it->second.text, WritableBackend());
  stmts_.erase(it);
}

void MysqlSession::DropAllStatements() {
  MysqlWorkerState& ws = worker_->mysql_state();
  MysqlBackend* writable = WritableBackend();
  for (auto& [id, cs] : stmts_)
    if (ws.ReleaseStatement(cs.text)) ws.ForgetStatement(cs.text, writable);
  stmts_.clear();
}

}  // namespace sluice::mysqlproxy
