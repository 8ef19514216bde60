#include "proxy/mysql/worker_state.h"

#include "proxy/mysql/backend.h"

namespace sluice::mysqlproxy {

void MysqlWorkerState::HoldStatement(const std::string& text) {
  ++stmt_refs_[text];
}

bool MysqlWorkerState::ReleaseStatement(const std::string& text) {
  auto it = stmt_refs_.find(text);
  if (it == stmt_refs_.end()) return false;
  if (--it->second > 0) return false;
  stmt_refs_.erase(it);
  return true;
}

void MysqlWorkerState::ForgetStatement(const std::string& text, MysqlBackend* writable) {
  for (MysqlBackend* b : backends_) {
    uint32_t id = b->stmts().Remove(text);
    if (id == 0) continue;
    if (b == writable || !b->owned())
      b->WriteClose(id);
    else
      b->QueueClose(id);
  }
}

const BackendGreeting* MysqlWorkerState::greeting(size_t cluster_index) const {
  if (cluster_index >= greetings_.size() || greetings_[cluster_index].version.empty())
    return nullptr;
  return &greetings_[cluster_index];
}

void MysqlWorkerState::set_greeting(size_t cluster_index, BackendGreeting g) {
  if (g.version.empty()) return;
  if (cluster_index >= greetings_.size()) greetings_.resize(cluster_index + 1);
  greetings_[cluster_index] = std::move(g);
}

}  // namespace sluice::mysqlproxy
