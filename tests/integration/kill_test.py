"""KILL through sluice and the admin port's process list (issues #14 and #18), real clients.

MysqlKillTest: the connection id a client is given (PyMySQL's thread_id, libmariadb's
mysql_thread_id) is what CONNECTION_ID() returns; KILL QUERY <id> from a second connection
interrupts the first one's statement on its server (1317) and leaves the session usable;
KILL <id> and COM_PROCESS_KILL (libmariadb's mysql_kill) end it and its server connection;
another user's id gets 1095, an unknown one 1094, a server thread id of a direct client is
never forwarded; the mariadb CLI's Ctrl-C stops its query.
AdminSessionsTest: stats_sessions, stats_mysql_processlist and SHOW CLIENTS show a running
statement with its backend thread id (checked in the server's own processlist), KILL QUERY /
KILL CONNECTION on the admin port, and the session metrics on /metrics.
PgKillTest: a psycopg2 session in stats_sessions, cancelled (57014) and ended (57P01) from
the admin port.

    kill_test.py SLUICE_BINARY CLASS
"""
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sluice_proc import Sluice, admin_query, free_port, read_cluster_env  # noqa: E402

SLUICE = None
OTHER_USER, OTHER_PASSWORD = "other_app", "other_pw"


def poll(what, fn, timeout=10.0):
    """fn() until it returns something true, or fails the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


class Background:
    """Runs fn() on a thread; .wait() returns (result, exception, seconds)."""

    def __init__(self, fn):
        self.result = self.error = None
        self.seconds = None
        self._t = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._start = time.monotonic()
        self._t.start()

    def _run(self, fn):
        try:
            self.result = fn()
        except Exception as e:  # the test inspects it
            self.error = e
        self.seconds = time.monotonic() - self._start

    def wait(self, timeout=20.0):
        self._t.join(timeout)
        if self._t.is_alive():
            raise AssertionError("the statement did not end within %.0fs" % timeout)
        return self.result, self.error, self.seconds


def interrupt_client(argv, ready, interrupt, env=None):
    """Runs the client ARGV until ready() (polled), calls interrupt(), and returns (output,
    exit status, seconds from the interrupt to the client's exit); the client is killed by
    its PID if it outlives the bound."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        poll("the client's statement on the server", ready)
        start = time.monotonic()
        interrupt(proc)
        out, _ = proc.communicate(timeout=15)
        return out, proc.returncode, time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class LibMariadb:
    """The few libmariadb calls the tests need, through ctypes (the real C client)."""

    def __init__(self):
        self.lib = ctypes.CDLL("libmariadb.so.3")
        L = self.lib
        L.mysql_init.restype = ctypes.c_void_p
        L.mysql_init.argtypes = [ctypes.c_void_p]
        L.mysql_real_connect.restype = ctypes.c_void_p
        L.mysql_real_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                         ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint,
                                         ctypes.c_char_p, ctypes.c_ulong]
        L.mysql_thread_id.restype = ctypes.c_ulong
        L.mysql_thread_id.argtypes = [ctypes.c_void_p]
        L.mysql_kill.restype = ctypes.c_int
        L.mysql_kill.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        L.mysql_query.restype = ctypes.c_int
        L.mysql_query.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        L.mysql_store_result.restype = ctypes.c_void_p
        L.mysql_store_result.argtypes = [ctypes.c_void_p]
        L.mysql_fetch_row.restype = ctypes.POINTER(ctypes.c_char_p)
        L.mysql_fetch_row.argtypes = [ctypes.c_void_p]
        L.mysql_free_result.argtypes = [ctypes.c_void_p]
        L.mysql_errno.restype = ctypes.c_uint
        L.mysql_errno.argtypes = [ctypes.c_void_p]
        L.mysql_error.restype = ctypes.c_char_p
        L.mysql_error.argtypes = [ctypes.c_void_p]
        L.mysql_close.argtypes = [ctypes.c_void_p]

    def connect(self, port, user, password, db):
        m = self.lib.mysql_init(None)
        if not self.lib.mysql_real_connect(m, b"127.0.0.1", user.encode(), password.encode(),
                                           db.encode(), port, None, 0):
            raise AssertionError("libmariadb connect: %s" % self.lib.mysql_error(m))
        return m

    def scalar(self, m, sql):
        if self.lib.mysql_query(m, sql.encode()) != 0:
            return None, self.lib.mysql_errno(m)
        res = self.lib.mysql_store_result(m)
        row = self.lib.mysql_fetch_row(res)
        value = row[0].decode() if row and row[0] is not None else None
        self.lib.mysql_free_result(res)
        return value, 0


class MysqlBase(unittest.TestCase):
    extra_toml = ""

    @classmethod
    def setUpClass(cls):
        import pymysql
        cls.pymysql = pymysql
        cls.env = read_cluster_env(os.environ["SLUICE_MARIADB_CLUSTER_DIR"])
        env = cls.env
        users = [{"name": env["APP_USER"], "password": env["APP_PASSWORD"],
                  "default_schema": env["DATABASE"]},
                 # Another sluice user on the same backend login: its sessions are not ours.
                 {"name": OTHER_USER, "password": OTHER_PASSWORD, "backend_user": env["APP_USER"],
                  "backend_password": env["APP_PASSWORD"], "default_schema": env["DATABASE"]}]
        cls.s = Sluice(SLUICE, env, kind="mysql", workers=2, users=users, replicas=False,
                       extra_toml=cls.extra_toml).start()

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def connect(self, user=None, password=None, **kw):
        c = self.pymysql.connect(host="127.0.0.1", port=self.s.port,
                                 user=user or self.env["APP_USER"],
                                 password=password or self.env["APP_PASSWORD"],
                                 database=self.env["DATABASE"], connect_timeout=5,
                                 read_timeout=30, autocommit=True, **kw)
        self.addCleanup(c.close)
        return c

    def direct(self, port=None):
        """A connection straight to a server (the primary) as the cluster's admin (root)."""
        c = self.pymysql.connect(host="127.0.0.1", port=port or int(self.env["PRIMARY_PORT"]),
                                 user=self.env["ADMIN_USER"], password=self.env["ADMIN_PASSWORD"],
                                 connect_timeout=5, read_timeout=30, autocommit=True)
        self.addCleanup(c.close)
        return c

    def query(self, c, sql):
        with c.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def server_threads(self, info):
        """(port, thread id) of every server connection running INFO, on any node (a read
        may go to a replica, and discovery finds them)."""
        out = []
        for port in [int(self.env["PRIMARY_PORT"])] + self.env["REPLICA_PORTS_LIST"]:
            for (tid,) in self.query(self.direct(port), "SELECT id FROM "
                                     "information_schema.processlist WHERE info = '%s'" % info):
                out.append((port, tid))
        return out

    def server_thread_alive(self, port, tid):
        return bool(self.query(self.direct(port), "SELECT id FROM information_schema.processlist "
                               "WHERE id = %d" % tid))

    def sessions(self, where="1"):
        return admin_query(self.s.admin_port, self.s.admin_password,
                           "SELECT id, user, state, backend, backend_thread_id, digest_text, "
                           "protocol, cluster, schema, client_addr, time_in_state_ms FROM "
                           "stats_sessions WHERE " + where)


class MysqlKillTest(MysqlBase):
    def test_connection_id_is_the_handshake_id(self):
        a, b = self.connect(), self.connect()
        self.assertNotEqual(a.thread_id(), b.thread_id())
        for c in (a, b):
            self.assertEqual(self.query(c, "SELECT CONNECTION_ID()")[0][0], c.thread_id())
            # In an expression and a prepared statement too; a string is left alone.
            self.assertEqual(self.query(c, "SELECT connection_id() + 0, 'CONNECTION_ID()'")[0],
                             (c.thread_id(), "CONNECTION_ID()"))
        lib = LibMariadb()
        m = lib.connect(self.s.port, self.env["APP_USER"], self.env["APP_PASSWORD"],
                        self.env["DATABASE"])
        try:
            tid = lib.lib.mysql_thread_id(m)
            self.assertEqual(lib.scalar(m, "SELECT CONNECTION_ID()"), (str(tid), 0))
        finally:
            lib.lib.mysql_close(m)

    def test_kill_query_from_another_connection(self):
        a, b = self.connect(), self.connect()
        run = Background(lambda: self.query(a, "SELECT SLEEP(20)"))
        poll("the sleep on the server", lambda: self.server_threads("SELECT SLEEP(20)"))
        self.assertEqual(self.query(b, "KILL QUERY %d" % a.thread_id()), ())
        _, err, secs = run.wait()
        self.assertIsNotNone(err, "the statement was not interrupted")
        self.assertEqual(err.args[0], 1317, err)
        self.assertLess(secs, 10)
        self.assertEqual(self.query(a, "SELECT 7"), ((7,),))  # the session goes on
        self.assertEqual(self.server_threads("SELECT SLEEP(20)"), [])

    def test_kill_connection_ends_session_and_server_work(self):
        a, b = self.connect(), self.connect()
        run = Background(lambda: self.query(a, "SELECT SLEEP(21)"))
        server = poll("the sleep on the server", lambda: self.server_threads("SELECT SLEEP(21)"))
        self.query(b, "KILL CONNECTION %d" % a.thread_id())
        _, err, secs = run.wait()
        self.assertIsInstance(err, self.pymysql.err.OperationalError)
        self.assertIn(err.args[0], (2013, 2006), err)
        self.assertLess(secs, 10)
        poll("the server connection %s to go" % (server,),
             lambda: not self.server_thread_alive(*server[0]))
        poll("the session to leave stats_sessions",
             lambda: not self.sessions("id = %d" % a.thread_id()))
        # KILL of itself: 1927, then the connection is gone.
        with self.assertRaises(self.pymysql.err.OperationalError) as e:
            self.query(b, "KILL %d" % b.thread_id())
        self.assertEqual(e.exception.args[0], 1927)

    def test_com_process_kill_with_libmariadb(self):
        lib = LibMariadb()
        env = self.env
        victim = lib.connect(self.s.port, env["APP_USER"], env["APP_PASSWORD"], env["DATABASE"])
        killer = lib.connect(self.s.port, env["APP_USER"], env["APP_PASSWORD"], env["DATABASE"])
        try:
            self.assertEqual(lib.scalar(victim, "SELECT 1"), ("1", 0))
            vid = lib.lib.mysql_thread_id(victim)
            self.assertEqual(lib.lib.mysql_kill(killer, vid), 0, lib.lib.mysql_error(killer))
            _, errno = poll("the victim's connection to be gone",
                            lambda: (lambda r: r if r[1] else None)(lib.scalar(victim, "SELECT 1")))
            self.assertIn(errno, (2006, 2013))
            # An unknown id: the server's 1094.
            self.assertNotEqual(lib.lib.mysql_kill(killer, 4000000000), 0)
            self.assertEqual(lib.lib.mysql_errno(killer), 1094)
        finally:
            lib.lib.mysql_close(victim)
            lib.lib.mysql_close(killer)

    def test_kill_refusals(self):
        mine, theirs = self.connect(), self.connect(user=OTHER_USER, password=OTHER_PASSWORD)
        with self.assertRaises(self.pymysql.err.OperationalError) as e:
            self.query(mine, "KILL %d" % theirs.thread_id())
        self.assertEqual(e.exception.args[0], 1095)
        with self.assertRaises(self.pymysql.err.OperationalError) as e:
            self.query(mine, "KILL QUERY %d" % theirs.thread_id())
        self.assertEqual(e.exception.args[0], 1095)
        self.assertEqual(self.query(theirs, "SELECT 1"), ((1,),))
        with self.assertRaises(self.pymysql.err.OperationalError) as e:
            self.query(mine, "KILL 4000000001")
        self.assertEqual(e.exception.args[0], 1094)
        # A server thread id of a direct client (the bug of #14): never forwarded. Whatever
        # sluice answers, that connection lives.
        d = self.direct()
        server_id = self.query(d, "SELECT CONNECTION_ID()")[0][0]
        try:
            self.query(mine, "KILL %d" % server_id)
        except self.pymysql.err.OperationalError as e:
            self.assertIn(e.args[0], (1094, 1095))
        self.assertEqual(self.query(d, "SELECT 1"), ((1,),))
        # Server-wide forms stay refused.
        for sql in ("KILL USER %s" % self.env["APP_USER"], "KILL QUERY ID 3"):
            with self.assertRaises(self.pymysql.err.MySQLError) as e:
                self.query(mine, sql)
            self.assertEqual(e.exception.args[0], 1235, sql)
        self.assertEqual(self.query(mine, "SELECT 2"), ((2,),))

    def test_mariadb_cli_ctrl_c(self):
        env = self.env
        # The CLI's SIGINT handler sends KILL QUERY <its id> on a new connection.
        out, _, secs = interrupt_client(
            ["mariadb", "-h127.0.0.1", "-P%d" % self.s.port, "-u" + env["APP_USER"],
             "-p" + env["APP_PASSWORD"], env["DATABASE"], "-e", "SELECT SLEEP(22)"],
            lambda: self.server_threads("SELECT SLEEP(22)"),
            lambda proc: proc.send_signal(signal.SIGINT))
        self.assertLess(secs, 10)
        self.assertIn(b"Query execution was interrupted", out, out)
        self.assertEqual(self.server_threads("SELECT SLEEP(22)"), [])


class AdminSessionsTest(MysqlBase):
    metrics_port = free_port()
    extra_toml = '[metrics]\nlisten = "127.0.0.1:%d"\n' % metrics_port

    def metric(self, name, labels):
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                      timeout=10).read().decode()
        for line in text.splitlines():
            if line.startswith(name + "{") and all('%s="%s"' % kv in line for kv in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return None

    def admin(self, sql):
        return admin_query(self.s.admin_port, self.s.admin_password, sql)

    def test_process_list_and_admin_kill(self):
        a = self.connect()
        idle = self.connect()
        kills_before = self.metric("sluice_session_kills_total", {"kind": "query"}) or 0
        run = Background(lambda: self.query(a, "SELECT SLEEP(23)"))
        server = poll("the sleep on the server", lambda: self.server_threads("SELECT SLEEP(23)"))
        row = poll("an active row", lambda: [r for r in self.sessions("id = %d" % a.thread_id())
                                             if r[2] == "active"])[0]
        (sid, user, state, backend, backend_tid, digest, protocol, cluster, schema, client,
         _) = row
        self.assertEqual((user, protocol, cluster, schema), (self.env["APP_USER"], "mysql", "test",
                                                             self.env["DATABASE"]))
        self.assertEqual(backend, "127.0.0.1:%d" % server[0][0])
        self.assertEqual(int(backend_tid), server[0][1])  # the server's own id for it
        self.assertEqual(digest, "SELECT SLEEP(?)")
        self.assertRegex(client, r"^127\.0\.0\.1:\d+$")
        self.assertEqual(self.sessions("id = %d" % idle.thread_id())[0][2], "idle")
        # ProxySQL's and PgBouncer's names for it.
        pl = self.admin("SELECT SessionID, user, db, srv_host, srv_port, command, info FROM "
                        "stats_mysql_processlist WHERE SessionID = %d" % a.thread_id())
        self.assertEqual(pl, ((str(a.thread_id()), self.env["APP_USER"], self.env["DATABASE"],
                               "127.0.0.1", str(server[0][0]), "active", "SELECT SLEEP(?)"),))
        clients = self.admin("SHOW CLIENTS")
        self.assertIn(str(a.thread_id()), [r[7] for r in clients])
        self.assertGreaterEqual(self.metric("sluice_client_sessions",
                                            {"cluster": "test", "state": "active"}), 1)
        # KILL QUERY on the admin port: the statement ends (1317), the session goes on.
        self.admin("KILL QUERY %d" % a.thread_id())
        _, err, secs = run.wait()
        self.assertEqual(err.args[0], 1317, err)
        self.assertLess(secs, 10)
        self.assertEqual(self.query(a, "SELECT 3"), ((3,),))
        self.assertEqual(self.metric("sluice_session_kills_total", {"kind": "query"}),
                         kills_before + 1)
        # KILL CONNECTION on the admin port: any user's session.
        self.admin("KILL CONNECTION %d" % idle.thread_id())
        poll("the killed session to leave", lambda: not self.sessions("id = %d" % idle.thread_id()))
        with self.assertRaises(self.pymysql.err.OperationalError):
            self.query(idle, "SELECT 1")
        refused = self.metric("sluice_session_kills_total", {"kind": "refused"})
        # An unknown id is the server's own error: 1094 (Unknown thread id), for KILL and
        # KILL QUERY alike, through PyMySQL and the mariadb CLI (libmariadb).
        with self.assertRaises(self.pymysql.err.MySQLError) as e:
            self.admin("KILL 4000000002")
        self.assertEqual(e.exception.args[0], 1094, e.exception)
        self.assertIn("Unknown thread id: 4000000002", str(e.exception))
        with self.assertRaises(self.pymysql.err.MySQLError) as e:
            self.admin("KILL QUERY 4000000003")
        self.assertEqual(e.exception.args[0], 1094, e.exception)
        out = subprocess.run(["mariadb", "-h127.0.0.1", "-P%d" % self.s.admin_port, "-uadmin",
                              "-p" + self.s.admin_password, "-e", "KILL CONNECTION 4000000004"],
                             capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("ERROR 1094 (HY000)", out.stderr)
        self.assertIn("Unknown thread id: 4000000004", out.stderr)
        self.assertEqual(self.metric("sluice_session_kills_total", {"kind": "refused"}),
                         refused + 3)


class PgKillTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import psycopg2
        cls.psycopg2 = psycopg2
        cls.env = read_cluster_env(os.environ["SLUICE_PG_CLUSTER_DIR"])
        cls.s = Sluice(SLUICE, cls.env, kind="postgres", workers=2, replicas=False,
                       pool_mode="session").start()

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def connect(self):
        c = self.psycopg2.connect(host="127.0.0.1", port=self.s.port, user=self.env["APP_USER"],
                                  password=self.env["APP_PASSWORD"], dbname=self.env["DATABASE"],
                                  connect_timeout=5)
        c.autocommit = True
        self.addCleanup(c.close)
        return c

    def admin(self, sql):
        return admin_query(self.s.admin_port, self.s.admin_password, sql)

    def active_row(self, digest_like):
        rows = self.admin("SELECT id, user, state, backend, backend_thread_id, digest_text FROM "
                          "stats_sessions WHERE protocol = 'pgsql' AND state = 'active' AND "
                          "digest_text LIKE '%s'" % digest_like)
        return rows[0] if rows else None

    def test_admin_cancel_and_terminate(self):
        c = self.connect()
        with c.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            backend_pid = cur.fetchone()[0]

        def sleep(n):
            with c.cursor() as cur:
                cur.execute("SELECT pg_sleep(%d)" % n)

        run = Background(lambda: sleep(24))
        row = poll("the pg session active", lambda: self.active_row("%pg_sleep%"))
        self.assertEqual(row[1], self.env["APP_USER"])
        self.assertEqual(row[3], "127.0.0.1:%s" % self.env["PRIMARY_PORT"])
        self.assertEqual(int(row[4]), backend_pid)
        self.admin("KILL QUERY %s" % row[0])
        _, err, secs = run.wait()
        self.assertIsInstance(err, self.psycopg2.errors.QueryCanceled)
        self.assertLess(secs, 10)
        with c.cursor() as cur:
            cur.execute("SELECT 5")
            self.assertEqual(cur.fetchone(), (5,))
        # KILL CONNECTION: psql is told as by the server itself (FATAL 57P01), and the
        # server's connection ends too.
        rows = []
        out, status, secs = interrupt_client(
            ["psql", "-h127.0.0.1", "-p%d" % self.s.port, "-U", self.env["APP_USER"],
             self.env["DATABASE"], "-c", "SELECT pg_sleep(25)"],
            lambda: rows.append(self.active_row("%pg_sleep%")) or rows[-1],
            lambda proc: self.admin("KILL CONNECTION %s" % rows[-1][0]),
            env=dict(os.environ, PGPASSWORD=self.env["APP_PASSWORD"]))
        self.assertLess(secs, 10)
        self.assertNotEqual(status, 0)
        self.assertIn(b"FATAL:  terminating connection due to administrator command", out, out)
        with c.cursor() as cur:
            poll("the server's pg_sleep to end", lambda: (cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(25)' AND "
                "state = 'active'"), cur.fetchone()[0] == 0)[1])


if __name__ == "__main__":
    SLUICE = sys.argv[1]
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
