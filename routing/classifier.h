// Classifier: tells what a statement does (read, write, transaction control, session
// setting), what pins its backend connection, and which session variables it sets.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "routing/sql_lexer.h"

namespace sluice::routing {

// The router sends kRead outside a transaction to readers; everything else that is not
// handled by the proxy itself (kTransaction, kSession) goes to the writer, kOther included.
enum class StatementKind : uint8_t { kRead, kWrite, kTransaction, kSession, kOther };

enum class TxnOp : uint8_t {
  kNone,
  kBegin,                // BEGIN, START TRANSACTION, XA START
  kCommit,               // COMMIT, END (pg), XA COMMIT
  kRollback,             // ROLLBACK, ABORT (pg), XA ROLLBACK
  kSavepoint,            // SAVEPOINT x
  kReleaseSavepoint,     // RELEASE [SAVEPOINT] x
  kRollbackToSavepoint,  // ROLLBACK TO [SAVEPOINT] x: the transaction stays open
  kSetTransaction,       // SET TRANSACTION ..., pg SET CONSTRAINTS
  kAutocommitOff,        // MySQL SET autocommit=0
  kAutocommitOn,         // MySQL SET autocommit=1
};

// Why the session's backend connection may not go back to the pool after this statement.
// Connection-scoped state that a fresh backend connection would not have.
enum Pin : uint32_t {
  kPinLockTables = 1u << 0,    // LOCK TABLES, FLUSH TABLES WITH READ LOCK, LOCK INSTANCE
  kPinUnlockTables = 1u << 1,  // UNLOCK TABLES: candidate to unpin
  kPinUserLock = 1u << 2,      // GET_LOCK & co, pg session-level advisory locks
  kPinTempTable = 1u << 3,     // CREATE TEMPORARY TABLE, pg SELECT INTO TEMP
  kPinUserVariable = 1u << 4,  // @x assigned (SET @x, :=, INTO @x) or read
  kPinFoundRows = 1u << 5,     // SQL_CALC_FOUND_ROWS, FOUND_ROWS()
  kPinPrepare = 1u << 6,       // text PREPARE / EXECUTE / DEALLOCATE
  kPinSqlLogBin = 1u << 7,     // SET SQL_LOG_BIN
  kPinHandler = 1u << 8,       // HANDLER t OPEN/READ/CLOSE
  kPinLoadData = 1u << 9,      // LOAD DATA [LOCAL] INFILE, LOAD XML
  kPinListen = 1u << 10,       // pg LISTEN / UNLISTEN
  kPinSessionSet = 1u << 11,   // pg SET without LOCAL: session-scoped setting
  kPinCursorHold = 1u << 12,   // pg DECLARE ... WITH HOLD
  // pg DECLARE: the classifier does not know the transaction state; the proxy pins when
  // this arrives outside a transaction.
  kPinDeclareCursor = 1u << 13,
  // LAST_INSERT_ID(), pg currval()/lastval(): must run on the connection that ran the
  // previous statement (it reads that connection's state) but does not pin afterwards.
  kPinPreviousConnection = 1u << 14,
};

enum class SetScope : uint8_t {
  kSession,  // SET x, SET SESSION x, @@session.x, @@x, pg SET / SET SESSION
  kGlobal,   // SET GLOBAL x, @@global.x
  kPersist,  // MySQL 8 SET PERSIST / PERSIST_ONLY
  kLocal,    // pg SET LOCAL: this transaction only
  kUser,     // MySQL user variable @x
};

// One assignment of a SET (or pg RESET). Views into the classified text: copy them to keep.
struct SetVar {
  std::string_view name;   // as written, without @@session. / @ prefixes; "NAMES",
                           // "CHARACTER SET", "TIME ZONE", "TRANSACTION" for the
                           // multi-word forms; "ALL" for RESET ALL
  std::string_view value;  // expression text as written; for NAMES "utf8mb4 COLLATE x"
  SetScope scope = SetScope::kSession;
  bool reset = false;  // pg RESET name / RESET ALL: back to the default
};

struct Classification {
  StatementKind kind = StatementKind::kOther;
  TxnOp txn = TxnOp::kNone;
  bool read_only_txn_start = false;  // START TRANSACTION READ ONLY, BEGIN READ ONLY
  bool multi_statement = false;      // more than one statement in the text
  uint32_t pins = 0;                 // bitmask of Pin
  // Upper-case statement keyword from a fixed set (static storage), "UNKNOWN" for a word
  // outside it, "" for an empty text. Bounded so it can label per-command statistics.
  std::string_view first_keyword;
  std::string_view schema;       // USE db: db without quotes
  std::vector<SetVar> set_vars;  // empty (no allocation) unless the text is a SET / RESET
};

// Classifies the whole text. With several statements: pins and SET assignments of all of
// them, kind of the first when all agree, otherwise kWrite.
Classification Classify(std::string_view sql, Dialect dialect);

const char* StatementKindName(StatementKind kind);

}  // namespace sluice::routing
