// Keywords: the fixed set of SQL words that the classifier and the digest act on, looked up
// case-insensitively without allocating. Words outside the set are Kw::kNone.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::routing {

// X(enum name, text, flags). kFunc marks words normally written as a call, "nextval(".
// clang-format off
#define SLUICE_KEYWORDS(X)                                                                     \
  X(Abort, "ABORT", 0) X(All, "ALL", 0) X(Alter, "ALTER", 0) X(Analyze, "ANALYZE", 0)          \
  X(And, "AND", 0) X(Any, "ANY", 0) X(Array, "ARRAY", 0) X(As, "AS", 0)                         \
  X(Authorization, "AUTHORIZATION", 0) X(Autocommit, "AUTOCOMMIT", 0) X(Begin, "BEGIN", 0)     \
  X(Between, "BETWEEN", 0) X(By, "BY", 0) X(Call, "CALL", 0) X(Case, "CASE", 0)                 \
  X(Cast, "CAST", kFunc) X(Chain, "CHAIN", 0) X(Change, "CHANGE", 0)                            \
  X(Character, "CHARACTER", 0) X(Characteristics, "CHARACTERISTICS", 0)                         \
  X(Charset, "CHARSET", 0) X(Check, "CHECK", 0) X(Checkpoint, "CHECKPOINT", 0)                  \
  X(Close, "CLOSE", 0) X(Cluster, "CLUSTER", 0) X(Collate, "COLLATE", 0)                        \
  X(Comment, "COMMENT", 0) X(Commit, "COMMIT", 0) X(Consistent, "CONSISTENT", 0)                \
  X(Constraints, "CONSTRAINTS", 0) X(Copy, "COPY", 0) X(Create, "CREATE", 0)                    \
  X(Cross, "CROSS", 0) X(Cube, "CUBE", 0) X(Currval, "CURRVAL", kFunc) X(Data, "DATA", 0)       \
  X(Deallocate, "DEALLOCATE", 0) X(Declare, "DECLARE", 0) X(Default, "DEFAULT", 0)             \
  X(Delete, "DELETE", 0) X(Desc, "DESC", 0) X(Describe, "DESCRIBE", 0)                          \
  X(Discard, "DISCARD", 0) X(Distinct, "DISTINCT", 0) X(Do, "DO", 0) X(Drop, "DROP", 0)         \
  X(Dumpfile, "DUMPFILE", 0) X(Else, "ELSE", 0) X(End, "END", 0) X(Escape, "ESCAPE", 0)         \
  X(Except, "EXCEPT", 0) X(Execute, "EXECUTE", 0) X(Exists, "EXISTS", 0)                        \
  X(Explain, "EXPLAIN", 0) X(Fetch, "FETCH", 0) X(Filter, "FILTER", 0) X(Flush, "FLUSH", 0)     \
  X(For, "FOR", 0) X(FoundRows, "FOUND_ROWS", kFunc) X(From, "FROM", 0) X(Full, "FULL", 0)      \
  X(GetLock, "GET_LOCK", kFunc) X(Global, "GLOBAL", 0) X(Grant, "GRANT", 0)                     \
  X(Group, "GROUP", 0) X(Grouping, "GROUPING", 0) X(Handler, "HANDLER", 0)                      \
  X(Having, "HAVING", 0) X(Help, "HELP", 0) X(Hold, "HOLD", 0) X(Ilike, "ILIKE", 0)             \
  X(Import, "IMPORT", 0) X(In, "IN", 0) X(Inner, "INNER", 0) X(Insert, "INSERT", 0)             \
  X(Install, "INSTALL", 0) X(Intersect, "INTERSECT", 0) X(Into, "INTO", 0) X(Is, "IS", 0)       \
  X(IsFreeLock, "IS_FREE_LOCK", kFunc) X(IsUsedLock, "IS_USED_LOCK", kFunc)                     \
  X(Isolation, "ISOLATION", 0) X(Join, "JOIN", 0) X(Key, "KEY", 0) X(Kill, "KILL", 0)           \
  X(LastInsertId, "LAST_INSERT_ID", kFunc) X(Lastval, "LASTVAL", kFunc)                         \
  X(Lateral, "LATERAL", 0) X(Left, "LEFT", kFunc) X(Level, "LEVEL", 0) X(Like, "LIKE", 0)       \
  X(Limit, "LIMIT", 0) X(Listen, "LISTEN", 0) X(Load, "LOAD", 0) X(Local, "LOCAL", 0)           \
  X(Lock, "LOCK", 0) X(Materialized, "MATERIALIZED", 0) X(Merge, "MERGE", 0)                    \
  X(Mode, "MODE", 0) X(Move, "MOVE", 0) X(Names, "NAMES", 0) X(Next, "NEXT", 0)                 \
  X(Nextval, "NEXTVAL", kFunc) X(No, "NO", 0) X(Not, "NOT", 0) X(Notify, "NOTIFY", 0)           \
  X(Offset, "OFFSET", 0) X(On, "ON", 0) X(Only, "ONLY", 0) X(Optimize, "OPTIMIZE", 0)           \
  X(Or, "OR", 0) X(Order, "ORDER", 0) X(Outer, "OUTER", 0) X(Outfile, "OUTFILE", 0)             \
  X(Over, "OVER", 0) X(Partition, "PARTITION", 0) X(Password, "PASSWORD", 0)                    \
  X(Persist, "PERSIST", 0) X(PersistOnly, "PERSIST_ONLY", 0) X(Prepare, "PREPARE", 0)           \
  X(Prepared, "PREPARED", 0) X(Purge, "PURGE", 0) X(Read, "READ", 0)                            \
  X(Recursive, "RECURSIVE", 0) X(Refresh, "REFRESH", 0) X(Reindex, "REINDEX", 0)                \
  X(Release, "RELEASE", 0) X(ReleaseAllLocks, "RELEASE_ALL_LOCKS", kFunc)                       \
  X(ReleaseLock, "RELEASE_LOCK", kFunc) X(Rename, "RENAME", 0) X(Repair, "REPAIR", 0)           \
  X(Replace, "REPLACE", kFunc) X(Reset, "RESET", 0) X(Returning, "RETURNING", 0)                \
  X(Revoke, "REVOKE", 0) X(Right, "RIGHT", kFunc) X(Role, "ROLE", 0)                            \
  X(Rollback, "ROLLBACK", 0) X(Rollup, "ROLLUP", 0) X(Row, "ROW", 0)                            \
  X(Savepoint, "SAVEPOINT", 0) X(Schema, "SCHEMA", 0) X(Security, "SECURITY", 0)                \
  X(Select, "SELECT", 0) X(Session, "SESSION", 0) X(Set, "SET", 0) X(Sets, "SETS", 0)           \
  X(Setval, "SETVAL", kFunc) X(Share, "SHARE", 0) X(Show, "SHOW", 0) X(Similar, "SIMILAR", 0)   \
  X(Snapshot, "SNAPSHOT", 0) X(Some, "SOME", 0) X(SqlCalcFoundRows, "SQL_CALC_FOUND_ROWS", 0)   \
  X(SqlLogBin, "SQL_LOG_BIN", 0) X(Start, "START", 0) X(Statement, "STATEMENT", 0)              \
  X(Stop, "STOP", 0) X(Table, "TABLE", 0) X(Tables, "TABLES", 0) X(Temp, "TEMP", 0)             \
  X(Temporary, "TEMPORARY", 0) X(Then, "THEN", 0) X(Time, "TIME", 0) X(To, "TO", 0)             \
  X(Transaction, "TRANSACTION", 0) X(Truncate, "TRUNCATE", 0) X(Union, "UNION", 0)              \
  X(Unlisten, "UNLISTEN", 0) X(Unlock, "UNLOCK", 0) X(Update, "UPDATE", 0) X(Use, "USE", 0)     \
  X(Using, "USING", 0) X(Vacuum, "VACUUM", 0) X(Value, "VALUE", 0) X(Values, "VALUES", 0)       \
  X(When, "WHEN", 0) X(Where, "WHERE", 0) X(Window, "WINDOW", 0) X(With, "WITH", 0)             \
  X(Within, "WITHIN", 0) X(Work, "WORK", 0) X(Write, "WRITE", 0) X(Xa, "XA", 0)                 \
  X(Zone, "ZONE", 0)
// clang-format on

enum KeywordFlag : uint8_t { kFunc = 1 };

enum class Kw : uint16_t {
  kNone,
#define SLUICE_KW_ENUM(e, s, f) k##e,
  SLUICE_KEYWORDS(SLUICE_KW_ENUM)
#undef SLUICE_KW_ENUM
};

// Kw::kNone for a word outside the set (or longer than any keyword).
Kw LookupKeyword(std::string_view word);
// The upper-case text of a keyword (static storage); "" for kNone.
std::string_view KeywordText(Kw kw);
uint8_t KeywordFlags(Kw kw);

}  // namespace sluice::routing
