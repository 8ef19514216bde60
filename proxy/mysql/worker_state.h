// MysqlWorkerState: what the MySQL sessions of one worker share (only that worker's thread
// touches it, so nothing is locked): which prepared-statement texts a client still uses,
// the backend connections that may hold them, and each cluster's last backend greeting.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sluice::mysqlproxy {

class MysqlBackend;

// What a backend's v10 greeting said, for the greeting sluice sends its own clients.
struct BackendGreeting {
  std::string version;  // as the server wrote it, "5.5.5-" prefix included
  uint64_t capabilities = 0;
  uint16_t status_flags = 0;  // the server's defaults (autocommit)
  uint8_t charset = 0;
};

class MysqlWorkerState {
 public:
  // Spare string buffers of finished commands (payload, digest) for the next command of any
  // session: a statement's state goes back to the worker's BlockPool when its session is
  // idle, and its strings would be freed and allocated again per statement. At most
  // kSpareStrings, each at most kSpareCapacity bytes, so the stash stays small.
  static constexpr size_t kSpareStrings = 64;
  static constexpr size_t kSpareCapacity = 1024;
  void TakeSpare(std::string* s) {
    if (spare_.empty()) return;
    s->swap(spare_.back());
    spare_.pop_back();
    s->clear();
  }
  void GiveSpare(std::string* s) {
    if (s->capacity() <= 15 || s->capacity() > kSpareCapacity || spare_.size() >= kSpareStrings)
      return;
    spare_.push_back(std::move(*s));
  }
  // A client statement with this text came into being / went (closed, its session reset
  // or closed). Release returns true when no client of this worker uses the text any
  // more: then no backend connection of the worker needs it (ForgetStatement).
  void HoldStatement(const std::string& text);
  bool ReleaseStatement(const std::string& text);
  bool StatementInUse(const std::string& text) const { return stmt_refs_.count(text) > 0; }
  // Closes text on every backend connection of the worker: an idle one (or `writable`,
  // the caller's own between commands) gets COM_STMT_CLOSE at once; one another session
  // holds closes it when that session is between commands (MysqlBackend::FlushCloses).
  void ForgetStatement(const std::string& text, MysqlBackend* writable);

  void AddBackend(MysqlBackend* b) { backends_.insert(b); }
  void RemoveBackend(MysqlBackend* b) { backends_.erase(b); }

  // The latest greeting a backend of cluster_index sent on this worker, or nullptr.
  const BackendGreeting* greeting(size_t cluster_index) const;
  void set_greeting(size_t cluster_index, BackendGreeting g);

  size_t statements_in_use() const { return stmt_refs_.size(); }

 private:
  std::unordered_map<std::string, uint32_t> stmt_refs_;
  std::unordered_set<MysqlBackend*> backends_;
  std::vector<BackendGreeting> greetings_;  // by cluster index; version "" = not known
  std::vector<std::string> spare_;
};

}  // namespace sluice::mysqlproxy
