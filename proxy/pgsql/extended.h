// ExtendedRewriter: the PostgreSQL extended protocol through a pool. Clients name their
// prepared statements; each backend connection knows them under sluice's names (a hash of
// text and parameter types), prepared on demand. It rewrites Parse, Bind, Describe and
// Close for the backend connection at hand and keeps the queues of ParseComplete and
// CloseComplete replies it expects, swallowing the ones its own injected messages cause.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/fifo.h"
#include "common/status.h"
#include "proxy/pgsql/stmt_names.h"
#include "proxy/router.h"

namespace sluice::pgproxy {

// A statement the client prepared under a name; backends know it as sluice_name.
struct ClientStmt {
  std::string text;
  std::vector<uint32_t> param_types;
  std::string sluice_name;
  StatementInfo info;
  std::string digest;  // normalised text for stats_query_digest, computed once
  uint64_t digest_hash = 0;
};

class ExtendedRewriter {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    virtual StatementInfo Classify(std::string_view text) = 0;
    // A statement of the segment being sent (its pins and whether it writes); names_segment:
    // it may name the segment in the statistics (cs: a prepared one, its digest known).
    virtual void OnStatement(const StatementInfo& info, std::string_view text, const ClientStmt* cs,
                             bool names_segment) = 0;
  };

  explicit ExtendedRewriter(Callbacks* cb) : cb_(cb) {}

  // One client message (type, payload) of segment for a backend connection that has
  // prepared what `prepared` says (updated). Appends to *out what goes before it, or, when
  // *rewritten, what goes instead of it. An error: the message is malformed.
  Status Rewrite(char type, std::span<const uint8_t> payload, bool transaction_mode,
                 uint64_t segment, PreparedLru* prepared, std::string* out, bool* rewritten);

  // A ParseComplete / CloseComplete arrived: true when it answers sluice's own message.
  bool SwallowParseComplete();
  bool SwallowCloseComplete();
  // After an error the server skips to Sync: the rest of segment gets no replies (a failed
  // Parse's name is forgotten on the connection).
  void DropSegment(uint64_t segment, PreparedLru* prepared);
  // The backend connection is gone or changed: nothing more is expected from it.
  void ClearExpects();
  const ClientStmt* Find(std::string_view name) const;
  void Forget() { stmts_.clear(); }
  // The client's statement NAME the last Close took away (transaction mode), if it was
  // that one: a read batch run again elsewhere gives it back first (Restore), so that the
  // batch's messages before its Close find it as they did (session_retry.cc).
  std::optional<ClientStmt> TakeClosed(std::string_view name);
  void Restore(std::string name, ClientStmt cs) { stmts_[std::move(name)] = std::move(cs); }

 private:
  struct Expect {
    bool swallow = false;
    std::string name;  // a Parse's statement name, forgotten if the Parse fails
    uint64_t segment = 0;
  };
  void EnsurePrepared(const ClientStmt& cs, uint64_t segment, PreparedLru* prepared,
                      std::string* out);
  void Evict(const std::string& evicted, uint64_t segment, std::string* out);

  Callbacks* cb_;
  Fifo<Expect> parse_expects_;
  Fifo<Expect> close_expects_;
  std::unordered_map<std::string, ClientStmt> stmts_;
  std::optional<std::pair<std::string, ClientStmt>> last_closed_;
};

}  // namespace sluice::pgproxy
