#include "routing/classifier.h"

#include <algorithm>
#include <array>

#include "routing/keywords.h"

namespace sluice::routing {
namespace {

// PostgreSQL functions a SELECT may call and still go to a replica: built-in, without
// side effects, and not reading session state that lives on one backend connection.
// Any other call in a pg read (a user function may write) sends the statement to the
// writer. Type names appear because "numeric(10,2)" lexes like a call. Upper case.
constexpr auto kPgPureFunctions = [] {
  std::array<std::string_view, 134> a = {
      "ABS",
      "AGE",
      "ARRAY_AGG",
      "ARRAY_LENGTH",
      "ARRAY_TO_STRING",
      "AVG",
      "BIT_LENGTH",
      "BOOL_AND",
      "BOOL_OR",
      "BPCHAR",
      "BTRIM",
      "CARDINALITY",
      "CAST",
      "CBRT",
      "CEIL",
      "CEILING",
      "CHAR",
      "CHARACTER",
      "CHAR_LENGTH",
      "CHR",
      "CLOCK_TIMESTAMP",
      "COALESCE",
      "CONCAT",
      "CONCAT_WS",
      "COUNT",
      "CURRENT_DATABASE",
      "CURRENT_DATE",
      "CURRENT_SCHEMA",
      "CURRENT_SCHEMAS",
      "CURRENT_SETTING",
      "CURRENT_TIMESTAMP",
      "CURRENT_USER",
      "DATE",
      "DATE_PART",
      "DATE_TRUNC",
      "DECIMAL",
      "DECODE",
      "DENSE_RANK",
      "ENCODE",
      "EXP",
      "EXTRACT",
      "FIRST_VALUE",
      "FLOAT",
      "FLOOR",
      "FORMAT",
      "GENERATE_SERIES",
      "GREATEST",
      "INET_SERVER_ADDR",
      "INET_SERVER_PORT",
      "INITCAP",
      "INT",
      "INT4",
      "INT8",
      "INTEGER",
      "INTERVAL",
      "JSONB_AGG",
      "JSONB_ARRAY_LENGTH",
      "JSONB_BUILD_ARRAY",
      "JSONB_BUILD_OBJECT",
      "JSONB_EXTRACT_PATH_TEXT",
      "JSONB_OBJECT_AGG",
      "JSON_AGG",
      "JSON_BUILD_ARRAY",
      "JSON_BUILD_OBJECT",
      "JSON_OBJECT_AGG",
      "LAG",
      "LAST_VALUE",
      "LEAD",
      "LEAST",
      "LEFT",
      "LENGTH",
      "LN",
      "LOCALTIMESTAMP",
      "LOG",
      "LOWER",
      "LPAD",
      "LTRIM",
      "MAX",
      "MD5",
      "MIN",
      "MOD",
      "NOW",
      "NTILE",
      "NULLIF",
      "NUMERIC",
      "OCTET_LENGTH",
      "OVERLAY",
      "PERCENTILE_CONT",
      "PERCENTILE_DISC",
      "PG_IS_IN_RECOVERY",
      "PG_LAST_WAL_RECEIVE_LSN",
      "PG_LAST_WAL_REPLAY_LSN",
      "PG_LAST_XACT_REPLAY_TIMESTAMP",
      "POSITION",
      "POWER",
      "RANK",
      "REGEXP_MATCH",
      "REGEXP_MATCHES",
      "REGEXP_REPLACE",
      "REPEAT",
      "REPLACE",
      "REVERSE",
      "RIGHT",
      "ROUND",
      "ROW_NUMBER",
      "RPAD",
      "RTRIM",
      "SIGN",
      "SPLIT_PART",
      "SQRT",
      "STATEMENT_TIMESTAMP",
      "STDDEV",
      "STRING_AGG",
      "STRPOS",
      "SUBSTR",
      "SUBSTRING",
      "SUM",
      "TIME",
      "TIMESTAMP",
      "TIMESTAMPTZ",
      "TO_CHAR",
      "TO_DATE",
      "TO_JSON",
      "TO_JSONB",
      "TO_NUMBER",
      "TO_TIMESTAMP",
      "TRANSACTION_TIMESTAMP",
      "TRIM",
      "TRUNC",
      "UNNEST",
      "UPPER",
      "VARCHAR",
      "VARIANCE",
      "VERSION",
  };
  std::sort(a.begin(), a.end());
  return a;
}();

constexpr size_t kMaxFunctionName = 40;

bool IsPurePgFunction(std::string_view name) {
  if (name.size() > kMaxFunctionName) return false;
  char buf[kMaxFunctionName];
  for (size_t i = 0; i < name.size(); ++i) {
    char ch = name[i];
    buf[i] = (ch >= 'a' && ch <= 'z') ? static_cast<char>(ch - 'a' + 'A') : ch;
  }
  return std::binary_search(kPgPureFunctions.begin(), kPgPureFunctions.end(),
                            std::string_view(buf, name.size()));
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view lower_prefix) {
  if (text.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i) {
    char ch = text[i];
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    if (ch != lower_prefix[i]) return false;
  }
  return true;
}

bool ContainsIgnoreCase(std::string_view text, std::string_view lower_needle) {
  for (size_t i = 0; i + lower_needle.size() <= text.size(); ++i)
    if (StartsWithIgnoreCase(text.substr(i), lower_needle)) return true;
  return false;
}

// Text from the start of `first` to the end of `last` (both views into one statement).
std::string_view Span(const Token& first, const Token& last) {
  const char* b = first.text.data();
  const char* e = last.text.data() + last.text.size();
  return e > b ? std::string_view(b, static_cast<size_t>(e - b)) : std::string_view();
}

std::string_view StripQuotes(std::string_view s) {
  if (s.size() >= 2 && (s.front() == '`' || s.front() == '"' || s.front() == '\'') &&
      s.back() == s.front())
    return s.substr(1, s.size() - 2);
  return s;
}

// The token stream of one text with the two previous tokens and the paren depth, which is
// all the context the decisions below need.
struct Cursor {
  Cursor(std::string_view sql, Dialect d) : lx(sql, d), dialect(d) { Advance(); }

  void Advance() {
    if (tok.kind == TokenKind::kLParen) ++depth;
    if (tok.kind == TokenKind::kRParen && depth > 0) --depth;
    prev2 = prev;
    prev2_kw = prev_kw;
    prev = tok;
    prev_kw = kw;
    tok = lx.Next();
    kw = tok.kind == TokenKind::kWord ? LookupKeyword(tok.text) : Kw::kNone;
  }
  bool AtEnd() const { return tok.kind == TokenKind::kEnd || tok.kind == TokenKind::kSemicolon; }
  bool Is(Kw k) const { return kw == k; }
  bool IsOp(std::string_view op) const {
    return tok.kind == TokenKind::kOperator && tok.text == op;
  }
  Kw PeekKw() const {
    Token t = lx.Peek();
    return t.kind == TokenKind::kWord ? LookupKeyword(t.text) : Kw::kNone;
  }
  bool mysql() const { return dialect == Dialect::kMysql; }

  SqlLexer lx;
  Dialect dialect;
  Token tok, prev, prev2;
  Kw kw = Kw::kNone, prev_kw = Kw::kNone, prev2_kw = Kw::kNone;
  int depth = 0;
};

// What the rest of a statement contains, gathered in one pass.
struct Facts {
  bool locking = false;       // FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE ...
  bool into = false;          // SELECT ... INTO
  bool dml = false;           // INSERT / UPDATE / DELETE / MERGE anywhere (pg writable CTE)
  bool unsafe_call = false;   // a call that locks, writes or reads connection state
  bool read_only = false;     // READ ONLY
  bool saw_to = false;        // ROLLBACK ... TO
  bool saw_prepared = false;  // COMMIT/ROLLBACK PREPARED
  bool from_depth0 = false;   // COPY t FROM
  bool read_lock = false;     // ... WITH READ LOCK
  bool with_hold = false;     // DECLARE ... WITH HOLD
};

enum ScanMode : unsigned {
  kReadContext = 1u << 0,  // a read: look for what demotes it
  kCteList = 1u << 1,      // starts in a WITH list
  kCompound = 1u << 2,     // MySQL CREATE: a BEGIN ... END body keeps its ';'
  kInCompound = 1u << 3,   // MySQL BEGIN NOT ATOMIC: already inside such a body
};

void CheckCall(Cursor& c, unsigned mode, Facts* f, uint32_t* pins) {
  // c.tok is '(' and c.prev the word before it.
  const Token& name = c.prev;
  switch (c.prev_kw) {
    case Kw::kGetLock:
    case Kw::kReleaseLock:
    case Kw::kReleaseAllLocks:
    case Kw::kIsFreeLock:
    case Kw::kIsUsedLock:
      *pins |= kPinUserLock;
      f->unsafe_call = true;
      return;
    case Kw::kFoundRows:
      *pins |= kPinFoundRows;
      f->unsafe_call = true;
      return;
    case Kw::kLastInsertId:
    case Kw::kCurrval:
    case Kw::kLastval:
      *pins |= kPinPreviousConnection;
      f->unsafe_call = true;
      return;
    case Kw::kNextval:
    case Kw::kSetval:
      f->unsafe_call = true;
      return;
    default:
      break;
  }
  if (c.dialect != Dialect::kPostgres) return;
  if (name.kind == TokenKind::kWord && (StartsWithIgnoreCase(name.text, "pg_advisory_") ||
                                        StartsWithIgnoreCase(name.text, "pg_try_advisory_"))) {
    f->unsafe_call = true;
    // Transaction-level advisory locks end with the transaction: nothing to pin.
    if (!ContainsIgnoreCase(name.text, "xact")) *pins |= kPinUserLock;
    return;
  }
  if (!(mode & kReadContext)) return;
  if (name.kind == TokenKind::kQuotedIdent) {
    f->unsafe_call = true;
    return;
  }
  // "x AS t(a)", "x::numeric(10,2)", "f() g(a)": a type or an alias column list.
  if (c.prev2_kw == Kw::kAs || c.prev2.kind == TokenKind::kRParen ||
      (c.prev2.kind == TokenKind::kOperator && c.prev2.text == "::"))
    return;
  if (IsPurePgFunction(name.text)) return;
  if (c.prev_kw != Kw::kNone && !(KeywordFlags(c.prev_kw) & kFunc)) return;  // IN (, OVER (
  f->unsafe_call = true;
}

// Consumes the rest of the statement (up to ';' or the end) and reports what it holds.
Facts ScanBody(Cursor& c, unsigned mode, uint32_t* pins) {
  Facts f;
  bool in_cte_list = mode & kCteList;
  bool compound = mode & kInCompound;
  const bool mysql = c.mysql();
  for (; !(c.tok.kind == TokenKind::kEnd || (c.tok.kind == TokenKind::kSemicolon && !compound));
       c.Advance()) {
    const bool after_dot = c.prev.kind == TokenKind::kDot;
    switch (c.tok.kind) {
      case TokenKind::kUserVar:
        // 'app'@'%' and root@localhost name an account, not a variable.
        if (c.tok.space_before ||
            (c.prev.kind != TokenKind::kString && c.prev.kind != TokenKind::kQuotedIdent &&
             c.prev.kind != TokenKind::kWord))
          *pins |= kPinUserVariable;
        break;
      case TokenKind::kOperator:
        if (mysql && c.tok.text == ":=") *pins |= kPinUserVariable;
        break;
      case TokenKind::kLParen:
        if (in_cte_list && c.depth == 0) break;  // WITH x(a, b) AS (...)
        if (c.prev.kind == TokenKind::kWord || c.prev.kind == TokenKind::kQuotedIdent)
          CheckCall(c, mode, &f, pins);
        break;
      case TokenKind::kWord:
        if (after_dot) break;
        switch (c.kw) {
          case Kw::kUpdate:
            if (c.prev_kw == Kw::kFor || c.prev_kw == Kw::kKey) {
              f.locking = true;
            } else {
              f.dml = true;
            }
            break;
          case Kw::kShare:
            if (c.prev_kw == Kw::kFor || c.prev_kw == Kw::kKey ||
                (c.prev_kw == Kw::kIn && c.prev2_kw == Kw::kLock))
              f.locking = true;
            break;
          case Kw::kInsert:
          case Kw::kDelete:
          case Kw::kMerge:
            f.dml = true;
            break;
          case Kw::kInto:
            f.into = true;
            break;
          case Kw::kTemp:
          case Kw::kTemporary:
            if (c.prev_kw == Kw::kInto) *pins |= kPinTempTable;
            break;
          case Kw::kSqlCalcFoundRows:
            *pins |= kPinFoundRows;
            break;
          case Kw::kValue:
            if (c.prev_kw == Kw::kNext) f.unsafe_call = true;  // MariaDB NEXT VALUE FOR s
            break;
          case Kw::kOnly:
            if (c.prev_kw == Kw::kRead) f.read_only = true;
            break;
          case Kw::kLock:
            if (c.prev_kw == Kw::kRead) f.read_lock = true;
            break;
          case Kw::kHold:
            if (c.prev_kw == Kw::kWith) f.with_hold = true;
            break;
          case Kw::kTo:
            if (c.depth == 0) f.saw_to = true;
            break;
          case Kw::kPrepared:
            f.saw_prepared = true;
            break;
          case Kw::kFrom:
            if (c.depth == 0) f.from_depth0 = true;
            break;
          case Kw::kBegin:
            if (mode & kCompound) compound = true;
            break;
          default:
            break;
        }
        if (in_cte_list && c.depth == 0 &&
            (c.kw == Kw::kSelect || c.kw == Kw::kInsert || c.kw == Kw::kUpdate ||
             c.kw == Kw::kDelete || c.kw == Kw::kMerge || c.kw == Kw::kValues ||
             c.kw == Kw::kTable))
          in_cte_list = false;
        break;
      default:
        break;
    }
  }
  return f;
}

struct Stmt {
  StatementKind kind = StatementKind::kOther;
  TxnOp txn = TxnOp::kNone;
  bool read_only = false;
  std::string_view first_keyword;
};

constexpr int kMaxNesting = 4;  // EXPLAIN / SET STATEMENT ... FOR nest a statement

Stmt ClassifyStatement(Cursor& c, Classification* out, int nesting);

Stmt Read(Cursor& c, Stmt s, unsigned mode, uint32_t* pins) {
  Facts f = ScanBody(c, mode | kReadContext, pins);
  s.kind = (f.locking || f.into || f.dml || f.unsafe_call) ? StatementKind::kWrite
                                                           : StatementKind::kRead;
  return s;
}

bool StartsStatement(Kw kw) {
  switch (kw) {
    case Kw::kSelect:
    case Kw::kInsert:
    case Kw::kUpdate:
    case Kw::kDelete:
    case Kw::kReplace:
    case Kw::kMerge:
    case Kw::kWith:
    case Kw::kValues:
    case Kw::kTable:
    case Kw::kExecute:
    case Kw::kDeclare:
    case Kw::kCreate:
      return true;
    default:
      return false;
  }
}

// EXPLAIN / DESCRIBE / DESC, and MariaDB's ANALYZE <statement>. Only an analysing explain
// runs the statement, so only then does the statement's own kind count.
Stmt Explain(Cursor& c, Classification* out, Stmt s, bool analyze, int nesting) {
  for (int i = 0; !c.AtEnd() && !StartsStatement(c.kw); ++i, c.Advance()) {
    if (c.kw != Kw::kAnalyze) continue;
    Token next = c.lx.Peek();
    analyze =
        !(EqualsKeyword(next.text, "FALSE") || EqualsKeyword(next.text, "OFF") || next.text == "0");
  }
  s.kind = StatementKind::kRead;
  if (c.AtEnd()) return s;
  if (nesting >= kMaxNesting) {
    ScanBody(c, 0, &out->pins);
    s.kind = StatementKind::kWrite;
    return s;
  }
  Stmt inner = ClassifyStatement(c, out, nesting + 1);
  if (analyze) s.kind = inner.kind;
  return s;
}

bool IsFalseValue(std::string_view v) {
  v = StripQuotes(v);
  return v == "0" || EqualsKeyword(v, "OFF") || EqualsKeyword(v, "FALSE");
}

std::string_view ValueUntilComma(Cursor& c, uint32_t* pins) {
  // The expression ends at a comma outside parentheses or at the statement's end.
  const int base = c.depth;
  Token first = c.tok, last = c.tok;
  bool any = false;
  for (; !c.AtEnd() && !(c.tok.kind == TokenKind::kComma && c.depth == base); c.Advance()) {
    if (c.tok.kind == TokenKind::kUserVar) *pins |= kPinUserVariable;
    last = c.tok;
    any = true;
  }
  return any ? Span(first, last) : std::string_view();
}

std::string_view ValueUntilEnd(Cursor& c) {
  Token first = c.tok, last = c.tok;
  bool any = false;
  for (; !c.AtEnd(); c.Advance()) {
    last = c.tok;
    any = true;
  }
  return any ? Span(first, last) : std::string_view();
}

SetScope ScopeOf(Kw kw) {
  switch (kw) {
    case Kw::kGlobal:
      return SetScope::kGlobal;
    case Kw::kPersist:
    case Kw::kPersistOnly:
      return SetScope::kPersist;
    default:
      return SetScope::kSession;
  }
}

// MySQL: SET [scope] a = expr [, ...], SET NAMES cs [COLLATE c], SET CHARACTER SET cs,
// SET @u = expr, SET @@scope.a = expr, SET [scope] TRANSACTION ..., MariaDB SET STATEMENT.
Stmt SetMysql(Cursor& c, Classification* out, Stmt s, int nesting) {
  s.kind = StatementKind::kSession;
  if (c.Is(Kw::kStatement)) {  // SET STATEMENT a=1 FOR <statement>: statement-scoped
    while (!c.AtEnd() && !(c.Is(Kw::kFor) && c.depth == 0)) c.Advance();
    if (c.AtEnd() || nesting >= kMaxNesting) return s;
    c.Advance();
    Stmt inner = ClassifyStatement(c, out, nesting + 1);
    s.kind = inner.kind;
    s.txn = inner.txn;
    return s;
  }
  if (c.Is(Kw::kPassword) || (c.Is(Kw::kDefault) && c.PeekKw() == Kw::kRole)) {
    ScanBody(c, 0, &out->pins);  // changes the grant tables
    s.kind = StatementKind::kWrite;
    return s;
  }
  bool global = false, autocommit = false;
  for (int i = 0; i < 4096 && !c.AtEnd(); ++i) {
    SetVar v;
    bool explicit_scope = false;
    if (c.Is(Kw::kGlobal) || c.Is(Kw::kSession) || c.Is(Kw::kLocal) || c.Is(Kw::kPersist) ||
        c.Is(Kw::kPersistOnly)) {
      v.scope = ScopeOf(c.kw);
      explicit_scope = true;
      c.Advance();
    }
    if (c.Is(Kw::kTransaction)) {
      if (!explicit_scope) {
        s.kind = StatementKind::kTransaction;
        s.txn = TxnOp::kSetTransaction;
      } else {
        v.name = "TRANSACTION";
        c.Advance();
        v.value = ValueUntilEnd(c);
        global |= v.scope != SetScope::kSession;
        out->set_vars.push_back(v);
      }
      ScanBody(c, 0, &out->pins);
      break;
    }
    bool assignment = true;
    if (c.tok.kind == TokenKind::kSysVar) {
      std::string_view n = c.tok.text.substr(2);
      size_t dot = n.find('.');
      if (dot != std::string_view::npos) {
        Kw scope = LookupKeyword(n.substr(0, dot));
        v.scope = ScopeOf(scope);
        n = n.substr(dot + 1);
      }
      v.name = StripQuotes(n);
      c.Advance();
    } else if (c.tok.kind == TokenKind::kUserVar) {
      v.name = StripQuotes(c.tok.text.substr(1));
      v.scope = SetScope::kUser;
      out->pins |= kPinUserVariable;
      c.Advance();
    } else if (c.Is(Kw::kNames)) {
      v.name = "NAMES";
      assignment = false;
      c.Advance();
    } else if (c.Is(Kw::kCharset) || (c.Is(Kw::kCharacter) && c.PeekKw() == Kw::kSet)) {
      v.name = "CHARACTER SET";
      assignment = false;
      if (c.Is(Kw::kCharacter)) c.Advance();
      c.Advance();
    } else if (c.tok.kind == TokenKind::kWord || c.tok.kind == TokenKind::kQuotedIdent) {
      Token first = c.tok;
      c.Advance();
      while (c.tok.kind == TokenKind::kDot) {  // component variables: validate_password.length
        c.Advance();
        if (c.AtEnd()) break;
        c.Advance();
      }
      v.name = StripQuotes(Span(first, c.prev));
    } else {
      ScanBody(c, 0, &out->pins);
      break;
    }
    if (assignment && (c.IsOp("=") || c.IsOp(":="))) c.Advance();
    v.value = ValueUntilComma(c, &out->pins);
    if (v.scope != SetScope::kUser) {
      if (EqualsKeyword(v.name, "AUTOCOMMIT") && v.scope == SetScope::kSession) {
        autocommit = true;
        s.txn = IsFalseValue(v.value) ? TxnOp::kAutocommitOff : TxnOp::kAutocommitOn;
      }
      if (EqualsKeyword(v.name, "SQL_LOG_BIN")) out->pins |= kPinSqlLogBin;
      if (v.scope == SetScope::kGlobal || v.scope == SetScope::kPersist) global = true;
    }
    out->set_vars.push_back(v);
    if (c.tok.kind != TokenKind::kComma) break;
    c.Advance();
  }
  if (!c.AtEnd()) ScanBody(c, 0, &out->pins);
  if (autocommit) {
    s.kind = StatementKind::kTransaction;
  } else if (global) {
    s.kind = StatementKind::kWrite;  // server-wide: runs on the writer, not replayed
  }
  return s;
}

// PostgreSQL: SET [SESSION | LOCAL] name {TO | =} value [, ...], SET TIME ZONE v,
// SET SESSION AUTHORIZATION u, SET ROLE r, SET TRANSACTION ..., SET CONSTRAINTS ...
Stmt SetPostgres(Cursor& c, Classification* out, Stmt s) {
  s.kind = StatementKind::kSession;
  SetVar v;
  if (c.Is(Kw::kLocal)) {
    v.scope = SetScope::kLocal;
    c.Advance();
  } else if (c.Is(Kw::kSession) && c.PeekKw() != Kw::kAuthorization) {
    c.Advance();
  }
  if (c.Is(Kw::kTransaction) || c.Is(Kw::kConstraints)) {
    s.kind = StatementKind::kTransaction;
    s.txn = TxnOp::kSetTransaction;
    ScanBody(c, 0, &out->pins);
    return s;
  }
  if (c.Is(Kw::kCharacteristics)) {  // SET SESSION CHARACTERISTICS AS TRANSACTION ...
    c.Advance();
    if (c.Is(Kw::kAs)) c.Advance();
    if (c.Is(Kw::kTransaction)) c.Advance();
    v.name = "TRANSACTION";
  } else if ((c.Is(Kw::kTime) && c.PeekKw() == Kw::kZone) ||
             (c.Is(Kw::kSession) && c.PeekKw() == Kw::kAuthorization)) {
    Token first = c.tok;
    c.Advance();
    v.name = Span(first, c.tok);
    c.Advance();
  } else if (c.tok.kind == TokenKind::kWord || c.tok.kind == TokenKind::kQuotedIdent) {
    Token first = c.tok;
    c.Advance();
    while (c.tok.kind == TokenKind::kDot) {  // custom options: myapp.tenant_id
      c.Advance();
      if (c.AtEnd()) break;
      c.Advance();
    }
    v.name = StripQuotes(Span(first, c.prev));
    if (c.Is(Kw::kTo) || c.IsOp("=")) c.Advance();
  } else {
    ScanBody(c, 0, &out->pins);
    return s;
  }
  v.value = ValueUntilEnd(c);
  out->set_vars.push_back(v);
  if (v.scope != SetScope::kLocal) out->pins |= kPinSessionSet;
  return s;
}

Stmt ResetPostgres(Cursor& c, Classification* out, Stmt s) {
  s.kind = StatementKind::kSession;
  SetVar v;
  v.reset = true;
  if (!c.AtEnd()) {
    Token first = c.tok;
    Token last = c.tok;
    for (; !c.AtEnd(); c.Advance()) last = c.tok;
    v.name = StripQuotes(Span(first, last));
  }
  out->set_vars.push_back(v);
  return s;
}

Stmt Transaction(Cursor& c, Classification* out, Stmt s, TxnOp op) {
  Facts f = ScanBody(c, 0, &out->pins);
  s.kind = StatementKind::kTransaction;
  s.txn = op;
  if (f.saw_prepared) {  // pg two-phase COMMIT/ROLLBACK PREPARED 'gid': any session may
    s.kind = StatementKind::kWrite;
    s.txn = TxnOp::kNone;
  } else if (op == TxnOp::kRollback && f.saw_to) {
    s.txn = TxnOp::kRollbackToSavepoint;
  } else if (op == TxnOp::kBegin) {
    s.read_only = f.read_only;
  }
  return s;
}

Stmt Write(Cursor& c, Classification* out, Stmt s, uint32_t pin = 0, unsigned mode = 0) {
  ScanBody(c, mode, &out->pins);
  out->pins |= pin;
  s.kind = StatementKind::kWrite;
  return s;
}

Stmt ClassifyStatement(Cursor& c, Classification* out, int nesting) {
  Stmt s;
  while (c.tok.kind == TokenKind::kLParen) c.Advance();  // (SELECT ...) UNION (SELECT ...)
  if (c.AtEnd()) return s;
  const Kw head = c.kw;
  s.first_keyword = head == Kw::kNone ? "UNKNOWN" : KeywordText(head);
  const bool mysql = c.mysql();
  const bool pg = !mysql;
  c.Advance();
  switch (head) {
    case Kw::kSelect:
    case Kw::kValues:
    case Kw::kTable:
      return Read(c, s, 0, &out->pins);
    case Kw::kWith:
      return Read(c, s, kCteList, &out->pins);
    case Kw::kShow:
      ScanBody(c, 0, &out->pins);
      s.kind = StatementKind::kRead;
      return s;
    case Kw::kExplain:
    case Kw::kDescribe:
    case Kw::kDesc:
      return Explain(c, out, s, false, nesting);
    case Kw::kAnalyze:
      if (mysql && c.kw != Kw::kTable && StartsStatement(c.kw))  // MariaDB ANALYZE SELECT
        return Explain(c, out, s, true, nesting);
      return Write(c, out, s);
    case Kw::kInsert:
    case Kw::kUpdate:
    case Kw::kDelete:
    case Kw::kReplace:
    case Kw::kMerge:
    case Kw::kAlter:
    case Kw::kDrop:
    case Kw::kTruncate:
    case Kw::kRename:
    case Kw::kGrant:
    case Kw::kRevoke:
    case Kw::kCall:
    case Kw::kDo:
    case Kw::kVacuum:
    case Kw::kCluster:
    case Kw::kReindex:
    case Kw::kComment:
    case Kw::kRefresh:
    case Kw::kCheckpoint:
    case Kw::kSecurity:
    case Kw::kImport:
    case Kw::kInstall:
    case Kw::kKill:
    case Kw::kPurge:
    case Kw::kChange:
    case Kw::kStop:
    case Kw::kOptimize:
    case Kw::kRepair:
    case Kw::kCheck:
    case Kw::kNotify:
      return Write(c, out, s);
    case Kw::kCreate: {
      // CREATE [OR REPLACE] [GLOBAL | LOCAL] TEMP[ORARY] TABLE / VIEW / SEQUENCE
      uint32_t pin = 0;
      for (int i = 0; i < 4 && !c.AtEnd(); ++i, c.Advance()) {
        if (c.Is(Kw::kTemp) || c.Is(Kw::kTemporary)) pin = kPinTempTable;
        if (c.Is(Kw::kTable) || c.tok.kind != TokenKind::kWord) break;
      }
      return Write(c, out, s, pin, mysql ? unsigned{kCompound} : 0u);
    }
    case Kw::kLoad:
      return Write(c, out, s,
                   mysql && (c.Is(Kw::kData) || EqualsKeyword(c.tok.text, "XML"))
                       ? uint32_t{kPinLoadData}
                       : 0u);
    case Kw::kCopy: {
      Facts f = ScanBody(c, 0, &out->pins);
      s.kind = f.from_depth0 ? StatementKind::kWrite : StatementKind::kRead;
      return s;
    }
    case Kw::kLock:
      return Write(c, out, s, mysql ? uint32_t{kPinLockTables} : 0u);
    case Kw::kUnlock:
      return Write(c, out, s, kPinUnlockTables);
    case Kw::kFlush: {
      Facts f = ScanBody(c, 0, &out->pins);
      if (f.read_lock) out->pins |= kPinLockTables;
      s.kind = StatementKind::kWrite;
      return s;
    }
    case Kw::kHandler:
      return Write(c, out, s, kPinHandler);
    case Kw::kPrepare:
      if (pg && c.Is(Kw::kTransaction)) return Write(c, out, s);  // two-phase commit
      return Write(c, out, s, kPinPrepare);
    case Kw::kExecute:
    case Kw::kDeallocate:
      return Write(c, out, s, kPinPrepare);
    case Kw::kListen:
    case Kw::kUnlisten:
      return Write(c, out, s, pg ? uint32_t{kPinListen} : 0u);
    case Kw::kDeclare: {
      if (mysql) return Write(c, out, s);
      Facts f = ScanBody(c, 0, &out->pins);
      out->pins |= kPinDeclareCursor | (f.with_hold ? uint32_t{kPinCursorHold} : 0u);
      s.kind = StatementKind::kWrite;
      return s;
    }
    case Kw::kBegin:
      if (mysql && c.Is(Kw::kNot)) return Write(c, out, s, 0, kInCompound);  // BEGIN NOT ATOMIC
      return Transaction(c, out, s, TxnOp::kBegin);
    case Kw::kStart:
      if (c.Is(Kw::kTransaction)) return Transaction(c, out, s, TxnOp::kBegin);
      return Write(c, out, s);  // START SLAVE / REPLICA
    case Kw::kCommit:
      return Transaction(c, out, s, TxnOp::kCommit);
    case Kw::kEnd:
      if (pg) return Transaction(c, out, s, TxnOp::kCommit);
      break;
    case Kw::kRollback:
      return Transaction(c, out, s, TxnOp::kRollback);
    case Kw::kAbort:
      if (pg) return Transaction(c, out, s, TxnOp::kRollback);
      break;
    case Kw::kSavepoint:
      return Transaction(c, out, s, TxnOp::kSavepoint);
    case Kw::kRelease:
      return Transaction(c, out, s, TxnOp::kReleaseSavepoint);
    case Kw::kXa: {
      TxnOp op = TxnOp::kNone;
      if (c.Is(Kw::kStart) || c.Is(Kw::kBegin)) op = TxnOp::kBegin;
      if (c.Is(Kw::kCommit)) op = TxnOp::kCommit;
      if (c.Is(Kw::kRollback)) op = TxnOp::kRollback;
      return Transaction(c, out, s, op);
    }
    case Kw::kSet:
      return mysql ? SetMysql(c, out, s, nesting) : SetPostgres(c, out, s);
    case Kw::kReset:
      if (pg) return ResetPostgres(c, out, s);
      return Write(c, out, s);  // RESET MASTER / SLAVE / QUERY CACHE
    case Kw::kUse:
      if (c.tok.kind == TokenKind::kWord || c.tok.kind == TokenKind::kQuotedIdent)
        out->schema = StripQuotes(c.tok.text);
      ScanBody(c, 0, &out->pins);
      s.kind = StatementKind::kSession;
      return s;
    case Kw::kDiscard:
      ScanBody(c, 0, &out->pins);
      s.kind = StatementKind::kSession;
      return s;
    default:
      break;
  }
  ScanBody(c, 0, &out->pins);
  s.kind = StatementKind::kOther;
  return s;
}

}  // namespace

Classification Classify(std::string_view sql, Dialect dialect) {
  Classification out;
  Cursor c(sql, dialect);
  bool first = true;
  bool kinds_agree = true;
  // Each round consumes at least one token, so the loop ends with the text.
  while (c.tok.kind != TokenKind::kEnd) {
    if (c.tok.kind == TokenKind::kSemicolon) {
      c.Advance();
      continue;
    }
    Stmt s = ClassifyStatement(c, &out, 0);
    if (first) {
      out.kind = s.kind;
      out.txn = s.txn;
      out.read_only_txn_start = s.read_only;
      out.first_keyword = s.first_keyword;
      first = false;
    } else {
      out.multi_statement = true;
      if (s.kind != out.kind) kinds_agree = false;
    }
  }
  if (!kinds_agree) {
    // The proxy learns the transaction state of a multi-statement text from the reply.
    out.kind = StatementKind::kWrite;
    out.txn = TxnOp::kNone;
    out.read_only_txn_start = false;
  }
  return out;
}

const char* StatementKindName(StatementKind kind) {
  switch (kind) {
    case StatementKind::kRead:
      return "read";
    case StatementKind::kWrite:
      return "write";
    case StatementKind::kTransaction:
      return "transaction";
    case StatementKind::kSession:
      return "session";
    case StatementKind::kOther:
      return "other";
  }
  return "?";
}

}  // namespace sluice::routing
