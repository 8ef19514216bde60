// PgSettings: a PostgreSQL client's session settings, so that transaction pooling keeps
// them. The StartupMessage's settings (and its `options`) are the session's reset values;
// a `SET name …` / `RESET name` / `RESET ALL` outside SET LOCAL is tracked as the segment
// that ran it commits, and replayed onto whichever pooled connection serves the client
// next (docs/protocol-notes.md §What outlives a transaction). What cannot be replayed
// (SET ROLE, SET SESSION AUTHORIZATION, …) is reported as a pin reason.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/fifo.h"
#include "proxy/router.h"
#include "proxy/session_vars.h"

namespace sluice::pgproxy {

// Why a PostgreSQL session keeps its backend connection for good (bits).
enum PgPin : uint32_t {
  kPgPinAdvisoryLock = 1u << 0,
  kPgPinTempTable = 1u << 1,
  kPgPinSqlPrepare = 1u << 2,
  kPgPinListen = 1u << 3,
  kPgPinCursorWithHold = 1u << 4,
  kPgPinSetRole = 1u << 5,                 // SET ROLE / RESET ROLE
  kPgPinSessionAuthorization = 1u << 6,    // SET SESSION AUTHORIZATION
  kPgPinSessionCharacteristics = 1u << 7,  // SET SESSION CHARACTERISTICS AS TRANSACTION
  kPgPinUntrackedSet = 1u << 8,  // a SET sluice cannot follow (mixed multi-statement text,
                                 // ROLLBACK TO SAVEPOINT after it, an odd name)
  kPgPinDiscard = 1u << 9,       // DISCARD: the connection's state changed under sluice's record
};
inline constexpr int kPgPinReasons = 10;
// "advisory_lock", "temp_table", … for bit i; nullptr past the last.
const char* PgPinName(int bit);
// The pin reasons of a classified statement's routing pins (routing::Pin).
uint32_t PgPinsOf(uint32_t routing_pins);

// A setting's name as PostgreSQL keys it: lower case; "TIME ZONE" is timezone. "" when
// it is not a plain setting name (letters, digits, '_', '.', at most 63 bytes).
std::string SettingKey(std::string_view written);
// The statement that sets name to a plain string value, as the StartupMessage, `options`
// and ParameterStatus give them (set_config: a list value such as search_path "a, b" keeps
// its meaning, unlike SET name TO 'a, b').
std::string LiteralStatement(std::string_view name, std::string_view value);

class PgSettings {
 public:
  // The StartupMessage's settings (lower-case names) become the reset values and the
  // settings the session starts with.
  void Start(const std::map<std::string, std::string>& startup);
  // What the client's settings are: name -> the statement that brings a connection there.
  const SessionVars& want() const { return want_; }
  const std::map<std::string, std::string>& startup() const { return startup_; }

  // A statement of the segment being sent (assignments and transaction control from the
  // classifier). Returns the pin reasons (PgPin) it needs.
  uint32_t OnStatement(const StatementInfo& info);
  // The segment (a Query, or the messages up to a Sync) is sent; its answer comes later.
  void EndSegment();
  // Sent segments will get no answer (their connection is gone): forget their assignments
  // and the open block's.
  void Abandon();
  // At the oldest sent segment's ReadyForQuery: error: it failed; status: 'I', 'T', 'E'.
  // Assignments that committed go to want() and to *applied (the connection that ran them).
  // Returns pin reasons (a transaction whose SETs sluice cannot follow).
  uint32_t OnSegmentEnd(bool error, char status, SessionVars* applied);
  // A ParameterStatus from the server: the client's view follows the server's (a SET of a
  // reported setting, a rolled back one, a server-side change).
  void OnReported(const std::string& name, std::string_view value, SessionVars* applied);

  // The Query text that brings a connection whose settings are `applied` (and whose server
  // reported `params` at login) to want(); empty when it is there.
  std::string SyncSql(const SessionVars& applied,
                      const std::map<std::string, std::string>& params) const;

 private:
  struct Change {
    std::string key;        // SettingKey; "" for RESET ALL
    std::string statement;  // empty: RESET (back to the startup value or the default)
  };
  void Commit(std::vector<Change>* changes, SessionVars* applied);

  std::map<std::string, std::string> startup_;  // lower-case name -> value
  SessionVars want_;
  struct Segment {
    std::vector<Change> changes;
    bool txn_ops = false;   // BEGIN/COMMIT/ROLLBACK/savepoints too: which side are they on?
    bool rollback = false;  // ROLLBACK / ABORT
    bool rollback_to_savepoint = false;  // ROLLBACK TO SAVEPOINT
    uint64_t seq = 0;                    // its number among the segments sent
  };
  uint64_t sent_count_ = 0;      // segments sent
  uint64_t answered_count_ = 0;  // ReadyForQuerys seen
  Segment open_;                 // the segment being sent
  // Sent, awaiting ReadyForQuery, oldest first. A Fifo: a std::deque allocates ~500 bytes
  // when constructed, in every session (docs/performance.md, idle clients).
  Fifo<Segment> sent_;
  std::vector<Change> txn_;       // assignments of the open transaction block
  bool txn_rolled_back_ = false;  // the open block can only end rolled back
  bool untracked_ = false;        // assignments whose fate sluice cannot know
};

}  // namespace sluice::pgproxy
