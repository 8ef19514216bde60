#include "routing/classifier.h"

#include <string>

#include <gtest/gtest.h>

namespace sluice::routing {
namespace {

constexpr auto R = StatementKind::kRead;
constexpr auto W = StatementKind::kWrite;
constexpr auto T = StatementKind::kTransaction;
constexpr auto S = StatementKind::kSession;
constexpr auto O = StatementKind::kOther;

struct Case {
  Dialect dialect;
  const char* sql;
  StatementKind kind;
  uint32_t pins = 0;
  TxnOp txn = TxnOp::kNone;
  bool multi = false;
};

Case My(const char* sql, StatementKind k, uint32_t pins = 0, TxnOp txn = TxnOp::kNone,
        bool multi = false) {
  return {Dialect::kMysql, sql, k, pins, txn, multi};
}
Case Pg(const char* sql, StatementKind k, uint32_t pins = 0, TxnOp txn = TxnOp::kNone,
        bool multi = false) {
  return {Dialect::kPostgres, sql, k, pins, txn, multi};
}

// Statements as real applications send them: sysbench oltp_*.lua, pgbench's TPC-B script
// and initialisation, Connector/J, Hibernate, Django, Rails, Laravel, WordPress, mysqldump,
// psycopg/SQLAlchemy, and the corner cases the router must not get wrong.
const Case kCases[] = {
    // sysbench oltp_common.lua
    My("SELECT c FROM sbtest1 WHERE id=5023", R),
    My("SELECT c FROM sbtest3 WHERE id BETWEEN 100 AND 199", R),
    My("SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN 1 AND 100", R),
    My("SELECT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c", R),
    My("SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c", R),
    My("UPDATE sbtest1 SET k=k+1 WHERE id=5", W),
    My("UPDATE sbtest1 SET c='0123-4567' WHERE id=5", W),
    My("DELETE FROM sbtest1 WHERE id=5", W),
    My("INSERT INTO sbtest1 (id, k, c, pad) VALUES (5, 4993, '8330-18', '9634-27')", W),
    My("BEGIN", T, 0, TxnOp::kBegin),
    My("COMMIT", T, 0, TxnOp::kCommit),
    My("CREATE TABLE sbtest1(\n  id INTEGER NOT NULL AUTO_INCREMENT,\n  k INTEGER DEFAULT '0' "
       "NOT NULL,\n  PRIMARY KEY (id)\n) /*! ENGINE = innodb */",
       W),
    My("CREATE INDEX k_1 ON sbtest1(k)", W),
    My("SELECT c FROM sbtest1 WHERE id=5 FOR UPDATE", W),
    My("SELECT id FROM sbtest1 WHERE id IN (1, 2, 3)", R),
    My("DROP TABLE IF EXISTS sbtest1", W),
    My("ANALYZE TABLE sbtest1", W),
    // pgbench TPC-B and -S, simple and extended protocol
    Pg("BEGIN;", T, 0, TxnOp::kBegin),
    Pg("UPDATE pgbench_accounts SET abalance = abalance + -2740 WHERE aid = 77367;", W),
    Pg("SELECT abalance FROM pgbench_accounts WHERE aid = 77367;", R),
    Pg("UPDATE pgbench_tellers SET tbalance = tbalance + -2740 WHERE tid = 3;", W),
    Pg("UPDATE pgbench_branches SET bbalance = bbalance + -2740 WHERE bid = 1;", W),
    Pg("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 77367, -2740, "
       "CURRENT_TIMESTAMP);",
       W),
    Pg("END;", T, 0, TxnOp::kCommit),
    Pg("SELECT abalance FROM pgbench_accounts WHERE aid = $1", R),
    Pg("UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2", W),
    Pg("truncate table pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers", W),
    Pg("copy pgbench_accounts from stdin", W),
    Pg("vacuum analyze pgbench_branches", W),
    Pg("alter table pgbench_branches add primary key (bid)", W),
    Pg("select count(*) from pgbench_branches", R),
    Pg("create table pgbench_history(tid int,bid int,aid    int,delta int,mtime timestamp,filler "
       "char(22))",
       W),
    // Connector/J, Hibernate, Django, Rails, Laravel, WordPress (MySQL)
    My("/* mysql-connector-java-8.0.28 (Revision: 7ff2161da3899f379fb3171b6538b191b1c5c7e2) "
       "*/SELECT  @@session.auto_increment_increment AS auto_increment_increment, "
       "@@character_set_client AS character_set_client",
       R),
    My("SELECT @@session.transaction_read_only", R),
    My("SHOW WARNINGS", R),
    My("select user0_.id as id1_0_, user0_.name as name2_0_ from users user0_ where user0_.id=?",
       R),
    My("insert into users (name, id) values (?, ?)", W),
    My("SET autocommit=0", T, 0, TxnOp::kAutocommitOff),
    My("SET autocommit=1", T, 0, TxnOp::kAutocommitOn),
    My("set autocommit = OFF", T, 0, TxnOp::kAutocommitOff),
    My("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", S),
    My("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", T, 0, TxnOp::kSetTransaction),
    My("SET NAMES utf8mb4", S),
    My("SET character_set_results = NULL", S),
    My("SET sql_mode='STRICT_TRANS_TABLES'", S),
    My("SELECT `auth_user`.`id`, `auth_user`.`password` FROM `auth_user` WHERE "
       "`auth_user`.`username` = 'admin' LIMIT 21",
       R),
    My("INSERT INTO `django_session` (`session_key`, `session_data`, `expire_date`) VALUES "
       "('abc', 'e30=', '2024-01-01 00:00:00.000000')",
       W),
    My("SELECT `users`.* FROM `users` WHERE `users`.`id` = 1 LIMIT 1", R),
    My("SET  @@SESSION.sql_mode = CONCAT(CONCAT(@@sql_mode, ',STRICT_ALL_TABLES'), "
       "',NO_AUTO_VALUE_ON_ZERO'),  @@SESSION.sql_auto_is_null = 0, @@SESSION.wait_timeout = "
       "2147483",
       S),
    My("select * from `users` where `email` = ? limit 1", R),
    My("SELECT SQL_CALC_FOUND_ROWS wp_posts.ID FROM wp_posts WHERE 1=1 LIMIT 0, 10", R,
       kPinFoundRows),
    My("SELECT FOUND_ROWS()", W, kPinFoundRows),
    My("SELECT LAST_INSERT_ID()", W, kPinPreviousConnection),
    My("SELECT GET_LOCK('migrations', 10)", W, kPinUserLock),
    My("SELECT RELEASE_LOCK('migrations')", W, kPinUserLock),
    My("select is_free_lock('x')", W, kPinUserLock),
    // locking reads
    My("SELECT * FROM t WHERE id=1 LOCK IN SHARE MODE", W),
    My("SELECT * FROM t WHERE id=1 FOR SHARE", W),
    My("SELECT * FROM t FOR UPDATE SKIP LOCKED", W),
    My("select * from t where a = 'it''s' and b = \"x\\\"y\" for update", W),
    My("SELECT * FROM t WHERE name = 'a\\'b FOR UPDATE'", R),
    My("SELECT 'FOR UPDATE' FROM t", R),
    My("select * from t where id = 1 /* FOR UPDATE */", R),
    My("select 1 -- SELECT ... FOR UPDATE", R),
    My("SELECT * FROM `for` WHERE `update` = 1", R),
    My("SELECT t.update FROM t", R),
    // user variables and SELECT ... INTO
    My("SELECT id INTO @x FROM t LIMIT 1", W, kPinUserVariable),
    My("SELECT * INTO OUTFILE '/tmp/x' FROM t", W),
    My("SELECT @x", R, kPinUserVariable),
    My("SET @x = 5", S, kPinUserVariable),
    My("SELECT @rownum := @rownum + 1 AS n FROM t", R, kPinUserVariable),
    My("UPDATE t SET a = @x", W, kPinUserVariable),
    My("CREATE USER 'app'@'%' IDENTIFIED BY 'x'", W),
    My("GRANT SELECT ON shop.* TO 'u'@'localhost'", W),
    // pins
    My("LOCK TABLES t1 WRITE, t2 READ", W, kPinLockTables),
    My("LOCK TABLE t READ", W, kPinLockTables),
    My("UNLOCK TABLES", W, kPinUnlockTables),
    My("FLUSH TABLES WITH READ LOCK", W, kPinLockTables),
    My("FLUSH PRIVILEGES", W),
    My("CREATE TEMPORARY TABLE tmp (id int)", W, kPinTempTable),
    My("CREATE OR REPLACE TEMPORARY TABLE tmp (id int)", W, kPinTempTable),
    My("CREATE TABLE t (id int)", W),
    My("DROP TEMPORARY TABLE tmp", W),
    My("PREPARE stmt FROM 'SELECT 1'", W, kPinPrepare),
    My("EXECUTE stmt USING @a", W, kPinPrepare | kPinUserVariable),
    My("DEALLOCATE PREPARE stmt", W, kPinPrepare),
    My("SET SQL_LOG_BIN=0", S, kPinSqlLogBin),
    My("HANDLER t OPEN", W, kPinHandler),
    My("LOAD DATA LOCAL INFILE '/tmp/x.csv' INTO TABLE t", W, kPinLoadData),
    // other writes
    My("REPLACE INTO t VALUES (1)", W),
    My("CALL proc(1)", W),
    My("DO SLEEP(1)", W),
    My("DO GET_LOCK('a', 1)", W, kPinUserLock),
    My("TRUNCATE TABLE t", W),
    My("ALTER TABLE t ADD COLUMN x INT", W),
    My("KILL 42", W),
    My("OPTIMIZE TABLE t", W),
    My("SET GLOBAL max_connections = 1000", W),
    My("SET @@global.read_only = 1", W),
    My("SET PASSWORD = 'x'", W),
    My("RESET QUERY CACHE", W),
    My("INSERT INTO t SELECT * FROM s", W),
    My("START SLAVE", W),
    My("SELECT NEXT VALUE FOR s", W),
    My("SELECT nextval(s)", W),
    My("CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END", W),
    My("BEGIN NOT ATOMIC SELECT 1; UPDATE t SET a = 1; END", W),
    // reads of several shapes
    My("SHOW TABLES", R),
    My("SHOW FULL PROCESSLIST", R),
    My("DESCRIBE t", R),
    My("DESC t", R),
    My("EXPLAIN SELECT * FROM t", R),
    My("EXPLAIN UPDATE t SET a=1", R),
    My("EXPLAIN ANALYZE SELECT * FROM t", R),
    My("EXPLAIN FORMAT=JSON DELETE FROM t", R),
    My("ANALYZE UPDATE t SET a = 1", W),
    My("ANALYZE SELECT * FROM t", R),
    My("(SELECT a FROM t1) UNION (SELECT a FROM t2)", R),
    My("((SELECT 1))", R),
    My("WITH cte AS (SELECT 1) SELECT * FROM cte", R),
    My("WITH cte AS (SELECT 1) UPDATE t JOIN cte SET t.a = 1", W),
    My("  -- comment\n  SELECT 1", R),
    My("# comment\nSELECT 1", R),
    My("/* leading */ select 1", R),
    My("SeLeCt 1 FrOm DUAL", R),
    My("SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM t", R),
    My("SELECT SLEEP(1)", R),
    My("SET STATEMENT max_statement_time=1 FOR SELECT * FROM t", R),
    My("SET STATEMENT max_statement_time=1 FOR UPDATE t SET a = 1", W),
    // mysqldump headers
    My("/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */", S, kPinUserVariable),
    My("/*!40101 SET NAMES utf8 */", S),
    My("/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */", S, kPinUserVariable),
    // transaction control
    My("START TRANSACTION", T, 0, TxnOp::kBegin),
    My("START TRANSACTION WITH CONSISTENT SNAPSHOT", T, 0, TxnOp::kBegin),
    My("BEGIN WORK", T, 0, TxnOp::kBegin),
    My("ROLLBACK", T, 0, TxnOp::kRollback),
    My("ROLLBACK TO SAVEPOINT sp1", T, 0, TxnOp::kRollbackToSavepoint),
    My("ROLLBACK WORK TO sp1", T, 0, TxnOp::kRollbackToSavepoint),
    My("SAVEPOINT sp1", T, 0, TxnOp::kSavepoint),
    My("RELEASE SAVEPOINT sp1", T, 0, TxnOp::kReleaseSavepoint),
    My("XA START 'x'", T, 0, TxnOp::kBegin),
    My("USE shop", S),
    My("HELP 'SELECT'", O),
    My("", O),
    My("frobnicate the database", O),
    // multi-statement texts
    My("SELECT 1; SELECT 2", R, 0, TxnOp::kNone, true),
    My("SELECT 1;", R),
    My("SELECT 1; -- trailing comment", R),
    My("SELECT ';' FROM t", R),
    My("INSERT INTO t VALUES (1); SELECT LAST_INSERT_ID()", W, kPinPreviousConnection, TxnOp::kNone,
       true),
    My("SET autocommit=0; SELECT 1", W, 0, TxnOp::kNone, true),

    // PostgreSQL: functions in reads
    Pg("SELECT * FROM users WHERE id = $1", R),
    Pg("SELECT now()", R),
    Pg("SELECT count(*) FROM t", R),
    Pg("SELECT coalesce(a, 0), lower(b) FROM t", R),
    Pg("SELECT my_func(1)", W),
    Pg("SELECT public.my_func(1)", W),
    Pg("SELECT \"MyFunc\"(1)", W),
    Pg("SELECT set_config('x', 'y', false)", W),
    Pg("SELECT nextval('seq')", W),
    Pg("SELECT currval('seq')", W, kPinPreviousConnection),
    Pg("SELECT setval('seq', 5)", W),
    Pg("SELECT pg_advisory_lock(1)", W, kPinUserLock),
    Pg("SELECT pg_try_advisory_lock(1)", W, kPinUserLock),
    Pg("SELECT pg_advisory_xact_lock(1)", W),
    Pg("SELECT pg_advisory_unlock(1)", W, kPinUserLock),
    Pg("SELECT pg_is_in_recovery()", R),
    Pg("SELECT version()", R),
    Pg("select current_schema()", R),
    Pg("SELECT x::numeric(10,2) FROM t", R),
    Pg("SELECT CAST(x AS varchar(20)) FROM t", R),
    Pg("SELECT * FROM generate_series(1, 10) AS g(i)", R),
    Pg("SELECT * FROM generate_series(1, 10) g(i)", R),
    Pg("SELECT a FROM t WHERE b IN (SELECT b FROM u) AND EXISTS (SELECT 1)", R),
    Pg("SELECT count(*) FILTER (WHERE x > 1) OVER (PARTITION BY y) FROM t", R),
    Pg("SELECT * FROM t WHERE a = ANY($1)", R),
    Pg("SELECT array_agg(x ORDER BY y) FROM t", R),
    Pg("SELECT extract(epoch FROM now())", R),
    Pg("SELECT date_trunc('day', created_at), count(*) FROM orders GROUP BY 1", R),
    Pg("SELECT * FROM a LEFT JOIN LATERAL (SELECT 1) s ON true", R),
    Pg("SELECT t.oid, typarray FROM pg_type t JOIN pg_namespace ns ON typnamespace = ns.oid "
       "WHERE typname = 'hstore'",
       R),
    Pg("SELECT \"users\".* FROM \"users\" WHERE \"users\".\"id\" = $1 LIMIT $2", R),
    Pg("SELECT \"auth_user\".\"id\" FROM \"auth_user\" WHERE \"auth_user\".\"username\" = 'admin' "
       "LIMIT 21",
       R),
    // PostgreSQL: locking reads, SELECT INTO, writable CTEs
    Pg("SELECT * FROM t FOR UPDATE", W),
    Pg("SELECT * FROM t FOR NO KEY UPDATE", W),
    Pg("SELECT * FROM t FOR KEY SHARE", W),
    Pg("SELECT * FROM t FOR SHARE OF t NOWAIT", W),
    Pg("SELECT * INTO newtable FROM t", W),
    Pg("SELECT * INTO TEMP tmp FROM t", W, kPinTempTable),
    Pg("WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved", W),
    Pg("WITH upd AS (UPDATE t SET x = 1 RETURNING id) SELECT * FROM upd", W),
    Pg("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT n "
       "FROM r",
       R),
    Pg("WITH a AS (SELECT 1), b(x) AS (SELECT 2) SELECT * FROM a, b", R),
    Pg("WITH a AS MATERIALIZED (SELECT my_func()) SELECT * FROM a", W),
    Pg("VALUES (1, 2), (3, 4)", R),
    Pg("TABLE t", R),
    Pg("SHOW search_path", R),
    Pg("SELECT E'it\\'s; FOR UPDATE'", R),
    Pg("SELECT $$a;b FOR UPDATE$$", R),
    Pg("SELECT 1 /* nested /* comment */ FOR UPDATE */", R),
    Pg("SELECT * FROM t -- FOR UPDATE", R),
    // PostgreSQL: EXPLAIN
    Pg("EXPLAIN SELECT * FROM t", R),
    Pg("EXPLAIN ANALYZE UPDATE t SET a = 1", W),
    Pg("EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t", W),
    Pg("EXPLAIN (ANALYZE false) DELETE FROM t", R),
    Pg("EXPLAIN UPDATE t SET a = 1", R),
    Pg("EXPLAIN ANALYZE SELECT * FROM t", R),
    Pg("explain analyze select my_func()", W),
    // PostgreSQL: transactions
    Pg("BEGIN", T, 0, TxnOp::kBegin),
    Pg("START TRANSACTION", T, 0, TxnOp::kBegin),
    Pg("COMMIT", T, 0, TxnOp::kCommit),
    Pg("ROLLBACK", T, 0, TxnOp::kRollback),
    Pg("ABORT", T, 0, TxnOp::kRollback),
    Pg("ROLLBACK TO SAVEPOINT a", T, 0, TxnOp::kRollbackToSavepoint),
    Pg("ROLLBACK TO a", T, 0, TxnOp::kRollbackToSavepoint),
    Pg("SAVEPOINT a", T, 0, TxnOp::kSavepoint),
    Pg("RELEASE a", T, 0, TxnOp::kReleaseSavepoint),
    Pg("COMMIT PREPARED 'gid'", W),
    Pg("PREPARE TRANSACTION 'gid'", W),
    Pg("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", T, 0, TxnOp::kSetTransaction),
    // PostgreSQL: session state
    Pg("SET search_path TO app, public", S, kPinSessionSet),
    Pg("SET LOCAL statement_timeout = '5s'", S),
    Pg("SET SESSION timezone = 'UTC'", S, kPinSessionSet),
    Pg("SET TIME ZONE 'UTC'", S, kPinSessionSet),
    Pg("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", S,
       kPinSessionSet),
    Pg("RESET ALL", S),
    Pg("RESET search_path", S),
    Pg("DISCARD ALL", S),
    Pg("LISTEN channel", W, kPinListen),
    Pg("UNLISTEN *", W, kPinListen),
    Pg("NOTIFY channel, 'x'", W),
    Pg("DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t", W, kPinDeclareCursor | kPinCursorHold),
    Pg("DECLARE c CURSOR FOR SELECT 1", W, kPinDeclareCursor),
    Pg("FETCH 10 FROM c", O),
    Pg("CLOSE c", O),
    Pg("PREPARE q(int) AS SELECT * FROM t WHERE id = $1", W, kPinPrepare),
    Pg("EXECUTE q(1)", W, kPinPrepare),
    Pg("DEALLOCATE q", W, kPinPrepare),
    Pg("CREATE TEMP TABLE tmp (id int)", W, kPinTempTable),
    Pg("CREATE GLOBAL TEMPORARY TABLE tmp (id int)", W, kPinTempTable),
    Pg("CREATE UNLOGGED TABLE t (id int)", W),
    // PostgreSQL: other writes and COPY
    Pg("COPY t FROM STDIN", W),
    Pg("COPY t (a, b) FROM STDIN WITH (FORMAT csv)", W),
    Pg("COPY t TO STDOUT", R),
    Pg("COPY (SELECT * FROM t) TO STDOUT WITH CSV", R),
    Pg("DO $$BEGIN PERFORM 1; END$$", W),
    Pg("VACUUM t", W),
    Pg("ANALYZE t", W),
    Pg("REFRESH MATERIALIZED VIEW mv", W),
    Pg("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = EXCLUDED.a RETURNING id", W),
    Pg("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v", W),
    Pg("LOCK TABLE t IN ACCESS EXCLUSIVE MODE", W),
    Pg("select 1; select 2", R, 0, TxnOp::kNone, true),
    Pg("BEGIN; UPDATE t SET a = 1; COMMIT;", W, 0, TxnOp::kNone, true),
};

TEST(RoutingClassifier, RealWorldStatements) {
  ASSERT_GE(std::size(kCases), 150u);
  for (const Case& c : kCases) {
    SCOPED_TRACE(std::string(c.dialect == Dialect::kMysql ? "mysql: " : "pg: ") + c.sql);
    Classification got = Classify(c.sql, c.dialect);
    EXPECT_STREQ(StatementKindName(got.kind), StatementKindName(c.kind));
    EXPECT_EQ(got.pins, c.pins);
    EXPECT_EQ(static_cast<int>(got.txn), static_cast<int>(c.txn));
    EXPECT_EQ(got.multi_statement, c.multi);
  }
}

TEST(RoutingClassifier, ReadOnlyTransactionStart) {
  EXPECT_TRUE(Classify("START TRANSACTION READ ONLY", Dialect::kMysql).read_only_txn_start);
  EXPECT_TRUE(Classify("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", Dialect::kMysql)
                  .read_only_txn_start);
  EXPECT_FALSE(Classify("START TRANSACTION READ WRITE", Dialect::kMysql).read_only_txn_start);
  EXPECT_FALSE(Classify("BEGIN", Dialect::kMysql).read_only_txn_start);
  EXPECT_TRUE(Classify("BEGIN READ ONLY", Dialect::kPostgres).read_only_txn_start);
  EXPECT_TRUE(
      Classify("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", Dialect::kPostgres)
          .read_only_txn_start);
  EXPECT_TRUE(Classify("START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE",
                       Dialect::kPostgres)
                  .read_only_txn_start);
  EXPECT_FALSE(
      Classify("BEGIN ISOLATION LEVEL READ COMMITTED", Dialect::kPostgres).read_only_txn_start);
}

TEST(RoutingClassifier, FirstKeywordIsUpperCaseAndBounded) {
  EXPECT_EQ(Classify("select 1", Dialect::kMysql).first_keyword, "SELECT");
  EXPECT_EQ(Classify("  /* c */ (select 1)", Dialect::kMysql).first_keyword, "SELECT");
  EXPECT_EQ(Classify("/*!40101 set names utf8 */", Dialect::kMysql).first_keyword, "SET");
  EXPECT_EQ(Classify("Explain analyze update t set a=1", Dialect::kPostgres).first_keyword,
            "EXPLAIN");
  EXPECT_EQ(Classify("frobnicate", Dialect::kMysql).first_keyword, "UNKNOWN");
  EXPECT_EQ(Classify("   ", Dialect::kMysql).first_keyword, "");
}

TEST(RoutingClassifier, UseGivesTheSchema) {
  EXPECT_EQ(Classify("USE shop", Dialect::kMysql).schema, "shop");
  EXPECT_EQ(Classify("use `my-db`;", Dialect::kMysql).schema, "my-db");
  EXPECT_EQ(Classify("SELECT 1", Dialect::kMysql).schema, "");
}

struct Var {
  std::string name, value;
  SetScope scope;
  bool reset = false;
};

void ExpectVars(std::string_view sql, Dialect d, const std::vector<Var>& want) {
  SCOPED_TRACE(std::string(sql));
  Classification c = Classify(sql, d);
  ASSERT_EQ(c.set_vars.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(c.set_vars[i].name, want[i].name);
    EXPECT_EQ(c.set_vars[i].value, want[i].value);
    EXPECT_EQ(static_cast<int>(c.set_vars[i].scope), static_cast<int>(want[i].scope));
    EXPECT_EQ(c.set_vars[i].reset, want[i].reset);
  }
}

TEST(RoutingClassifier, MysqlSetAssignments) {
  ExpectVars("SET a=1, SESSION b='x', @@session.c = CONCAT(@@c, ',y'), @@d=2, GLOBAL e = 3",
             Dialect::kMysql,
             {{"a", "1", SetScope::kSession},
              {"b", "'x'", SetScope::kSession},
              {"c", "CONCAT(@@c, ',y')", SetScope::kSession},
              {"d", "2", SetScope::kSession},
              {"e", "3", SetScope::kGlobal}});
  ExpectVars("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci", Dialect::kMysql,
             {{"NAMES", "utf8mb4 COLLATE utf8mb4_unicode_ci", SetScope::kSession}});
  ExpectVars("SET CHARACTER SET utf8", Dialect::kMysql,
             {{"CHARACTER SET", "utf8", SetScope::kSession}});
  ExpectVars("SET @x := 1, @`y` = @x + 1", Dialect::kMysql,
             {{"x", "1", SetScope::kUser}, {"y", "@x + 1", SetScope::kUser}});
  ExpectVars("SET `autocommit` = 0", Dialect::kMysql, {{"autocommit", "0", SetScope::kSession}});
  ExpectVars("/*!40101 SET character_set_client = utf8 */", Dialect::kMysql,
             {{"character_set_client", "utf8", SetScope::kSession}});
  ExpectVars("SET PERSIST max_connections = 10", Dialect::kMysql,
             {{"max_connections", "10", SetScope::kPersist}});
  ExpectVars("SET SESSION TRANSACTION READ ONLY", Dialect::kMysql,
             {{"TRANSACTION", "READ ONLY", SetScope::kSession}});
  ExpectVars("SET TRANSACTION READ ONLY", Dialect::kMysql, {});
}

TEST(RoutingClassifier, PostgresSetAndReset) {
  ExpectVars("SET search_path TO app, public", Dialect::kPostgres,
             {{"search_path", "app, public", SetScope::kSession}});
  ExpectVars("SET SESSION statement_timeout = '5s'", Dialect::kPostgres,
             {{"statement_timeout", "'5s'", SetScope::kSession}});
  ExpectVars("SET LOCAL lock_timeout TO 100", Dialect::kPostgres,
             {{"lock_timeout", "100", SetScope::kLocal}});
  ExpectVars("SET TIME ZONE 'Europe/Paris'", Dialect::kPostgres,
             {{"TIME ZONE", "'Europe/Paris'", SetScope::kSession}});
  ExpectVars("SET myapp.tenant = 42", Dialect::kPostgres,
             {{"myapp.tenant", "42", SetScope::kSession}});
  ExpectVars("SET ROLE admin", Dialect::kPostgres, {{"ROLE", "admin", SetScope::kSession}});
  ExpectVars("SET SESSION AUTHORIZATION bob", Dialect::kPostgres,
             {{"SESSION AUTHORIZATION", "bob", SetScope::kSession}});
  ExpectVars("RESET statement_timeout", Dialect::kPostgres,
             {{"statement_timeout", "", SetScope::kSession, true}});
  ExpectVars("RESET ALL", Dialect::kPostgres, {{"ALL", "", SetScope::kSession, true}});
}

TEST(RoutingClassifier, DeepNestingIsBounded) {
  std::string sql;
  for (int i = 0; i < 10000; ++i) sql += "EXPLAIN ANALYZE ";
  sql += "UPDATE t SET a = 1";
  Classification c = Classify(sql, Dialect::kPostgres);
  EXPECT_EQ(c.kind, StatementKind::kWrite);
}

TEST(RoutingClassifier, NonSetStatementsDoNotAllocateVars) {
  Classification c = Classify("SELECT c FROM sbtest1 WHERE id=5023", Dialect::kMysql);
  EXPECT_TRUE(c.set_vars.empty());
  EXPECT_EQ(c.set_vars.capacity(), 0u);
}

}  // namespace
}  // namespace sluice::routing
