#!/usr/bin/python3
"""PostgreSQL clients cannot tell sluice from the server (issue #14), and session settings
survive transaction pooling (issue #21), with psql, psycopg2 and a raw-protocol client.

Each class starts its own sluice (tests/integration/sluice_proc.py) in front of the harness
cluster in $SLUICE_PG_CLUSTER_DIR and stops it by PID:
  PgTransactionCompatTest  transaction pooling: Terminate before startup, replication
                           connections, application_name, startup options, a server FATAL
                           between transactions, SET/RESET replayed over pooled connections,
                           and the pins that remain, counted by reason
  PgSessionCompatTest      session pooling: the server's pid in BackendKeyData (pg_backend_pid,
                           pg_stat_activity, NOTIFY, cancel), a server FATAL as it came
Usage: pgsql_compat_test.py SLUICE_BINARY [TestClass ...]
"""
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

import psycopg2
import psycopg2.errors

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hardening_test import cluster_env, metrics, wait_until  # noqa: E402
from pgsql_proxy_test import (error_fields, msg, raw_login, recv_msg,  # noqa: E402
                               terminate_matching)
from sluice_proc import Sluice, admin_query, free_port  # noqa: E402

SLUICE = None


class PgCompatBase(unittest.TestCase):
    pool_mode = None

    @classmethod
    def setUpClass(cls):
        cls.env = cluster_env("SLUICE_PG_CLUSTER_DIR")
        cls.metrics_port = free_port()
        # No read-your-writes window: reads go to the replicas, so pooled connections of
        # several servers serve a client. One worker: one pool per server, which clients share.
        cls.s = Sluice(SLUICE, cls.env, pool_mode=cls.pool_mode, workers=1,
                       extra_toml='[metrics]\nlisten = "127.0.0.1:%d"' % cls.metrics_port)
        cls.s.start()
        # The monitor's first round puts the replicas in service.
        wait_until("the replicas in service", cls.replicas_serve, timeout=30)
        cls.user, cls.password = cls.env["APP_USER"], cls.env["APP_PASSWORD"]
        cls.db = cls.env["DATABASE"]
        cls.nodes = [int(cls.env["PRIMARY_PORT"])] + [int(p) for p in cls.env["REPLICA_PORTS_LIST"]]

    @classmethod
    def replicas_serve(cls):
        rows = admin_query(cls.s.admin_port, cls.s.admin_password,
                           "SELECT count(*) FROM stats_servers WHERE role = 'replica' "
                           "AND state = 'ONLINE'")
        return int(rows[0][0]) == 2

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        sys.stderr.write("--- sluice log tail ---\n" + cls.s.log_tail(30) + "\n")

    def connect(self, **kw):
        return psycopg2.connect(host="127.0.0.1", port=self.s.port, user=self.user,
                                password=self.password, dbname=self.db, sslmode="disable",
                                connect_timeout=10, **kw)

    def autocommit(self, **kw):
        """A psycopg2 connection in autocommit, and its cursor."""
        c = self.connect(**kw)
        c.autocommit = True
        return c, c.cursor()

    def direct(self, port=None):
        c = psycopg2.connect(host=self.env["SOCKET_DIR"], port=port or self.nodes[0],
                             user="postgres", dbname=self.db)
        c.autocommit = True
        return c

    def schema_with_table(self, schema, table):
        """schema.table holding one row, the schema's name, readable by the app user on
        every node (the replicas replay it; polled with a deadline)."""
        d = self.direct()
        d.cursor().execute(
            "CREATE SCHEMA IF NOT EXISTS {0}; CREATE TABLE IF NOT EXISTS {0}.{2} (v text); "
            "TRUNCATE {0}.{2}; INSERT INTO {0}.{2} VALUES ('{0}'); "
            "GRANT USAGE ON SCHEMA {0} TO {1}; GRANT SELECT ON {0}.{2} TO {1}"
            .format(schema, self.user, table))
        d.close()
        for port in self.nodes[1:]:
            def replayed():
                r = self.direct(port)
                try:
                    cur = r.cursor()
                    cur.execute("SELECT count(*) FROM %s.%s" % (schema, table))
                    return cur.fetchone()[0] == 1
                finally:
                    r.close()
            wait_until("%s.%s on the replica %d" % (schema, table, port), replayed)

    def psql(self, sql, conninfo_extra="", env_extra=None):
        env = dict(os.environ, PGPASSWORD=self.password, PGSSLMODE="disable")
        env.update(env_extra or {})
        conninfo = "host=127.0.0.1 port=%d user=%s dbname=%s %s" % (
            self.s.port, self.user, self.db, conninfo_extra)
        return subprocess.run(["psql", conninfo, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                              env=env, capture_output=True, text=True, timeout=60)

    def terminate_while_running(self, cur, marker):
        """Runs a long statement tagged marker; pg_terminate_backend ends it on its node."""
        t = threading.Thread(target=terminate_matching, args=(self.direct, self.nodes, marker))
        t.start()
        try:
            with self.assertRaises(psycopg2.OperationalError) as cm:
                cur.execute("SELECT pg_sleep(20), '%s'" % marker)
        finally:
            t.join()
        return cm.exception


class PgTransactionCompatTest(PgCompatBase):
    pool_mode = "transaction"

    def test_terminate_before_startup_closes_quietly(self):
        sock = socket.create_connection(("127.0.0.1", self.s.port), timeout=10)
        sock.sendall(b"X\x00\x00\x00\x04")
        self.assertEqual(sock.recv(100), b"")  # closed, without an ErrorResponse
        sock.close()

    def test_replication_connection_is_refused_clearly(self):
        for mode in ("database", "true"):
            r = self.psql("IDENTIFY_SYSTEM", "replication=%s" % mode)
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertIn("does not proxy replication connections", r.stderr)
            self.assertNotIn("syntax error", r.stderr)
        # replication=false is an ordinary session.
        r = self.psql("SELECT 1", "replication=false")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "1"), r.stderr)

    def test_application_name_is_the_clients(self):
        c, cur = self.autocommit()
        cur.execute("SHOW application_name")
        self.assertEqual(cur.fetchone()[0], "")
        c.close()
        for name in ("compat_app", "another one"):
            c, cur = self.autocommit(application_name=name)
            for _ in range(3):  # reads on any pooled connection, of any node
                cur.execute("SELECT current_setting('application_name'), "
                            "(SELECT application_name FROM pg_stat_activity "
                            " WHERE pid = pg_backend_pid())")
                self.assertEqual(cur.fetchone(), (name, name))
            c.close()

    def test_startup_options_are_applied_and_kept(self):
        self.schema_with_table("compat_opt", "where_am_i")
        opts = (r"-c search_path=compat_opt,public --statement-timeout=4321 "
                r"-cIntervalStyle=postgres_verbose")
        # Built-in functions only: a read goes to a replica, a transaction to the primary.
        sql = ("SELECT v, current_setting('statement_timeout'), current_setting('IntervalStyle'), "
               "inet_server_port() FROM where_am_i")
        c, cur = self.autocommit(options=opts)
        pids = set()
        for i in range(60):
            if i % 2:
                cur.execute("BEGIN")  # the writer, in a transaction
            cur.execute(sql)
            v, timeout, style, port = cur.fetchone()
            if i % 2:
                cur.execute("COMMIT")
            self.assertEqual((v, timeout, style), ("compat_opt", "4321ms", "postgres_verbose"))
            pids.add(port)
        self.assertEqual(len(pids), 3, "the statements ran on %s only" % pids)
        # RESET goes back to the startup value, as it would directly.
        cur.execute("SET statement_timeout = 99")
        cur.execute("RESET statement_timeout")
        cur.execute("SHOW statement_timeout")
        self.assertEqual(cur.fetchone()[0], "4321ms")
        c.close()
        # libpq's PGOPTIONS, through psql.
        r = self.psql("SHOW statement_timeout", env_extra={"PGOPTIONS": "-c statement_timeout=777"})
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "777ms"), r.stderr)
        # A setting the server refuses fails the login, with the server's error.
        with self.assertRaises(psycopg2.OperationalError) as cm:
            self.connect(options="-c TimeZone=Mars/Olympus_Mons")
        self.assertIn('invalid value for parameter "TimeZone"', str(cm.exception))
        with self.assertRaises(psycopg2.OperationalError) as cm:
            self.connect(options="-B 100")
        self.assertIn("invalid command-line argument", str(cm.exception))

    def test_server_fatal_between_transactions_keeps_its_sqlstate(self):
        c, cur = self.autocommit()
        e = self.terminate_while_running(cur, "compat_fatal_tx_%d" % os.getpid())
        self.assertEqual(e.pgcode, "57P01")  # admin_shutdown, not 08006
        self.assertIn("terminating connection due to administrator command", e.pgerror)
        self.assertNotIn("sluice", e.pgerror)
        cur.execute("SELECT 2")  # transaction pooling: the session goes on
        self.assertEqual(cur.fetchone()[0], 2)
        c.close()

    def test_session_settings_follow_the_client_over_pooled_connections(self):
        for name in ("compat_a", "compat_b"):
            self.schema_with_table(name, "mine")
        want = {"compat_a": ("Asia/Tokyo", "4321ms"), "compat_b": ("America/Lima", "1234ms")}
        conns = {}
        for schema, (tz, timeout) in want.items():
            c, cur = self.autocommit()
            cur.execute("SET search_path = %s, public" % schema)
            cur.execute("SET TimeZone = '%s'" % tz)
            cur.execute("SET statement_timeout = '%s'" % timeout)
            conns[schema] = c
        ports = {k: set() for k in want}
        primary_pids = {k: set() for k in want}

        def check(schema, cur, in_txn):
            cur.execute("SELECT v, current_setting('TimeZone'), current_setting('statement_timeout'), "
                        "inet_server_port()%s FROM mine" % (", pg_backend_pid()" if in_txn else ""))
            row = cur.fetchone()
            self.assertEqual(row[:3], (schema,) + want[schema], "statement sees other settings")
            ports[schema].add(row[3])
            if in_txn:
                primary_pids[schema].add(row[4])

        # 1,000 transactions per client, the two clients taking turns on one pool: reads
        # (built-in functions only) on the replicas, transactions on the primary (where
        # pg_backend_pid() names the pooled connection); every tenth round the two hold
        # transactions at once, so the primary's pool has more than one connection.
        for i in range(1000):
            for schema, c in conns.items():
                cur = c.cursor()
                if i % 2 == 0:
                    check(schema, cur, False)
                else:
                    cur.execute("BEGIN")
                    check(schema, cur, True)
                    cur.execute("COMMIT")
            if i % 10 == 9:
                curs = {k: c.cursor() for k, c in conns.items()}
                for schema, cur in curs.items():
                    cur.execute("BEGIN")
                    check(schema, cur, True)
                for cur in curs.values():
                    cur.execute("COMMIT")
        for schema, c in conns.items():
            c.close()
            self.assertEqual(ports[schema], set(self.nodes), "%s: %s only" % (schema, ports[schema]))
            self.assertGreater(len(primary_pids[schema]), 1, schema)
        self.assertTrue(primary_pids["compat_a"] & primary_pids["compat_b"],
                        "the two clients shared no backend connection of the primary")

    def test_rolled_back_set_is_forgotten(self):
        c = self.connect()
        cur = c.cursor()
        cur.execute("SET search_path = rolled_back_schema")  # opens a transaction (psycopg2)
        c.rollback()
        c.autocommit = True
        cur.execute("SET work_mem = '3MB'")
        cur.execute("BEGIN")
        cur.execute("SET work_mem = '5MB'")
        cur.execute("ROLLBACK")
        for _ in range(5):
            cur.execute("SELECT current_setting('search_path'), current_setting('work_mem')")
            self.assertEqual(cur.fetchone(), ('"$user", public', "3MB"))
        cur.execute("RESET ALL")
        cur.execute("SHOW work_mem")
        d = self.direct()
        dc = d.cursor()
        dc.execute("SHOW work_mem")
        self.assertEqual(cur.fetchone()[0], dc.fetchone()[0])
        d.close()
        c.close()

    def test_what_cannot_be_replayed_pins_and_is_counted(self):
        c, cur = self.autocommit()
        cur.execute("SET ROLE NONE")
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        for _ in range(5):
            cur.execute("SELECT pg_backend_pid()")
            self.assertEqual(cur.fetchone()[0], pid)
        c.close()
        c, cur = self.autocommit()
        cur.execute("SELECT pg_advisory_lock(4242)")
        cur.execute("SELECT pg_advisory_unlock(4242)")
        c.close()

        def pins():
            rows = admin_query(self.s.admin_port, self.s.admin_password,
                               "SELECT reason, sessions_pinned FROM stats_session_pins "
                               "WHERE cluster = 'test'")
            got = {r: int(n) for r, n in rows}
            return got if got.get("set_role", 0) >= 1 and got.get("advisory_lock", 0) >= 1 else None

        got = wait_until("pins counted by reason", pins)
        self.assertNotIn("set_session", got)  # ordinary SETs do not pin
        m = metrics(self.metrics_port)
        self.assertGreaterEqual(
            m.get('sluice_session_pins_total{cluster="test",reason="set_role"}', 0), 1)
        self.assertGreaterEqual(
            m.get('sluice_session_pins_total{cluster="test",reason="advisory_lock"}', 0), 1)


class PgSessionCompatTest(PgCompatBase):
    pool_mode = "session"

    def test_backend_key_is_the_servers(self):
        c, cur = self.autocommit(application_name="compat_session")
        told = c.get_backend_pid()
        cur.execute("SELECT pg_backend_pid()")
        self.assertEqual(cur.fetchone()[0], told)
        d = self.direct()
        dc = d.cursor()
        dc.execute("SELECT application_name FROM pg_stat_activity WHERE pid = %s", (told,))
        self.assertEqual(dc.fetchone(), ("compat_session",))
        d.close()
        cur.execute("LISTEN compat_channel")
        cur.execute("NOTIFY compat_channel, 'hello'")
        deadline = time.time() + 10
        while not c.notifies and time.time() < deadline:
            c.poll()
            time.sleep(0.05)
        self.assertEqual([(n.pid, n.payload) for n in c.notifies], [(told, "hello")])
        # A cancel with that key reaches the statement.
        timer = threading.Timer(1.0, c.cancel)
        timer.start()
        t0 = time.time()
        with self.assertRaises(psycopg2.errors.QueryCanceled):
            cur.execute("SELECT pg_sleep(30)")
        timer.join()
        self.assertLess(time.time() - t0, 10)
        cur.execute("SELECT 1")
        self.assertEqual(cur.fetchone()[0], 1)
        # A cancel with the right pid and a wrong secret is ignored.
        s = socket.create_connection(("127.0.0.1", self.s.port), timeout=5)
        s.sendall(struct.pack("!iiii", 16, 80877102, told, 12345))
        self.assertEqual(s.recv(10), b"")
        s.close()
        cur.execute("SELECT pg_sleep(1.2), 3")
        self.assertEqual(cur.fetchone()[1], 3)
        c.close()

    def test_server_fatal_reaches_the_client_as_sent(self):
        # The raw protocol: severity FATAL, the server's fields, then the close.
        sock, err = raw_login(self.s.port, self.user, self.password, self.db)
        self.assertIsNone(err)
        sock.sendall(msg(b"Q", b"SELECT pg_backend_pid()\0"))
        pid = None
        while True:
            t, p = recv_msg(sock)
            if t == b"D":
                pid = int(p[6:].decode())
            if t == b"Z":
                break
        d = self.direct()
        d.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
        d.close()
        t, p = recv_msg(sock)
        f = error_fields(p)
        self.assertEqual((t, f["S"], f["C"]), (b"E", "FATAL", "57P01"))
        self.assertEqual(sock.recv(10), b"")
        sock.close()
        # psycopg2 mid-statement: what it says directly ("server closed the connection
        # unexpectedly", no pgcode, the connection closed), not a sluice error.
        c = self.connect()
        c.autocommit = True
        e = self.terminate_while_running(c.cursor(), "compat_fatal_session_%d" % os.getpid())
        self.assertNotIn("sluice", str(e))
        self.assertEqual(c.closed, 2)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: pgsql_compat_test.py SLUICE_BINARY [TestClass ...]")
    SLUICE = sys.argv.pop(1)
    unittest.main(verbosity=2)
