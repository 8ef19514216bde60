#!/usr/bin/python3
"""Hostile clients and careless operators (issue #13), outside the sessions.

Each class starts its own sluice (tests/integration/sluice_proc.py) in front of a harness
cluster and stops it by PID:
  FdExhaustionTest   accept() out of file descriptors: CPU and log stay small, sessions go on
  AdminGuardTest     the admin port: one statement per query, no ATTACH/PRAGMA/DDL, the
                     store's mode, the login timeout, the unauthenticated bound, back-off
  MysqlLimitsTest    per-user max_connections (1226) and the connection counters, MariaDB
  PgsqlLimitsTest    the same for PostgreSQL (53300)
  MysqlVerifierTest  a MariaDB user and the admin configured by stored verifier only
  PgsqlVerifierTest  a PostgreSQL user configured by a SCRAM-SHA-256 verifier only
Usage: hardening_test.py SLUICE_BINARY TestClass [...]
Environment: SLUICE_MARIADB_CLUSTER_DIR or SLUICE_PG_CLUSTER_DIR.
"""
import os
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import pymysql
from pymysql.constants import CLIENT

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sluice_proc import Sluice, admin_query, free_port, read_cluster_env  # noqa: E402

SLUICE = None


def cluster_env(var):
    d = os.environ.get(var, "")
    if not d or not os.path.exists(os.path.join(d, "cluster.env")):
        raise RuntimeError("%s does not name a running harness cluster" % var)
    return read_cluster_env(d)


def wait_until(what, fn, timeout=20.0, step=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except Exception as e:  # noqa: BLE001 - the last error is reported on timeout
            last = e
        if last is True or (last and not isinstance(last, Exception)):
            return last
        time.sleep(step)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def cpu_seconds(pid):
    """utime + stime of PID, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def admin_connect(s, **kw):
    args = dict(host="127.0.0.1", port=s.admin_port, user="admin", password=s.admin_password,
                connect_timeout=5, read_timeout=30, autocommit=True)
    args.update(kw)
    return pymysql.connect(**args)


def global_stats(s):
    return {name: int(v) for name, v in admin_query(s.admin_port, s.admin_password,
                                                    "SELECT name, value FROM stats_global")}


def user_connections(s, user):
    rows = admin_query(s.admin_port, s.admin_password,
                       "SELECT client_connections FROM stats_users WHERE username = '%s'" % user)
    return int(rows[0][0]) if rows else 0


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


class FdExhaustionTest(unittest.TestCase):
    """Item 4: out of file descriptors, sluice backs off instead of spinning."""

    def test_accept_backs_off_and_recovers(self):
        env = cluster_env("SLUICE_MARIADB_CLUSTER_DIR")
        with Sluice(SLUICE, env, workers=1) as s:
            app = pymysql.connect(host="127.0.0.1", port=s.port, user=env["APP_USER"],
                                  password=env["APP_PASSWORD"], database=env["DATABASE"],
                                  connect_timeout=10, read_timeout=30, autocommit=True)
            with app.cursor() as c:  # a pooled backend connection exists from now on
                c.execute("SELECT 1")
            admin = admin_connect(s)
            # A small headroom over what sluice holds now, lowered on the running process.
            limit = open_fds(s.pid) + 16
            subprocess.run(["prlimit", "--pid", str(s.pid), "--nofile=%d:%d" % (limit, limit)],
                           check=True)
            socks = []
            try:
                for port in [s.port] * 60 + [s.admin_port] * 10:
                    socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                wait_until("sluice to run out of descriptors",
                           lambda: open_fds(s.pid) >= limit - 1)
                log_before = os.path.getsize(s.log_path)
                cpu_before = cpu_seconds(s.pid)
                t0 = time.monotonic()
                time.sleep(3.0)  # the window over which CPU and log growth are measured
                cpu = cpu_seconds(s.pid) - cpu_before
                elapsed = time.monotonic() - t0
                log_growth = os.path.getsize(s.log_path) - log_before
                sys.stderr.write("out of descriptors: %.2f CPU-s in %.1f s, log +%d bytes\n"
                                 % (cpu, elapsed, log_growth))
                self.assertLess(cpu, 0.25 * elapsed,
                                "sluice used %.2f CPU-s in %.1f s while out of descriptors"
                                % (cpu, elapsed))
                self.assertLess(log_growth, 16 * 1024, "the log grew %d bytes" % log_growth)
                with open(s.log_path, errors="replace") as f:
                    self.assertIn("not accepting for", f.read())
                # Open sessions go on: the client and the operator.
                with app.cursor() as c:
                    c.execute("SELECT 2")
                    self.assertEqual(c.fetchone(), (2,))
                with admin.cursor() as c:
                    c.execute("SELECT count(*) FROM servers")
                    self.assertGreater(int(c.fetchone()[0]), 0)
            finally:
                for k in socks:
                    k.close()
            # Descriptors back: new logins work again, on both listeners.
            def login():
                c = pymysql.connect(host="127.0.0.1", port=s.port, user=env["APP_USER"],
                                    password=env["APP_PASSWORD"], database=env["DATABASE"],
                                    connect_timeout=3, read_timeout=10, autocommit=True)
                with c.cursor() as cur:
                    cur.execute("SELECT 3")
                    ok = cur.fetchone() == (3,)
                c.close()
                return ok
            wait_until("a new login after the descriptors came back", login, timeout=20)
            wait_until("an admin login after the descriptors came back",
                       lambda: admin_query(s.admin_port, s.admin_password, "SELECT 1") == (("1",),),
                       timeout=20)
            app.close()
            admin.close()
            self.assertTrue(s.alive())


class AdminGuardTest(unittest.TestCase):
    """Item 11 (and the store's mode of item 12)."""

    @classmethod
    def setUpClass(cls):
        env = cluster_env("SLUICE_MARIADB_CLUSTER_DIR")
        workdir = tempfile.mkdtemp(prefix="sluice-hardening-")
        cls.s = Sluice(SLUICE, env, workers=1, workdir=workdir,
                       admin_options={"data_dir": os.path.join(workdir, "data"),
                                      "login_timeout_ms": 1500})
        cls.s.start()

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def query(self, sql, **kw):
        c = admin_connect(self.s, **kw)
        try:
            with c.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            c.close()

    def test_stacked_statements_refused_without_multi_statements(self):
        with self.assertRaises(pymysql.err.MySQLError) as cm:
            self.query("SELECT 1; DROP TABLE servers")
        self.assertEqual(cm.exception.args[0], 1064)
        self.assertGreater(int(self.query("SELECT count(*) FROM servers")[0][0]), 0)
        # Asked for, several statements run and each gets its result.
        c = admin_connect(self.s, client_flag=CLIENT.MULTI_STATEMENTS)
        try:
            with c.cursor() as cur:
                cur.execute("SELECT 1; SELECT 2, 3")
                self.assertEqual(cur.fetchall(), (("1",),))
                self.assertTrue(cur.nextset())
                self.assertEqual(cur.fetchall(), (("2", "3"),))
                self.assertFalse(cur.nextset())
        finally:
            c.close()

    def test_engine_access_and_schema_changes_refused(self):
        target = os.path.join(self.s.workdir, "attached.db")
        for sql in ("ATTACH DATABASE '%s' AS x" % target, "DETACH DATABASE disk",
                    "PRAGMA writable_schema = 1", "VACUUM INTO '%s'" % target,
                    "DROP TABLE servers", "DROP TABLE disk.servers",
                    "ALTER TABLE users RENAME TO u2", "CREATE TABLE main.t (x INT)",
                    "CREATE VIEW v AS SELECT 1", "CREATE INDEX i ON servers (host)"):
            with self.assertRaises(pymysql.err.MySQLError, msg=sql) as cm:
                self.query(sql)
            self.assertIn("not allowed on the admin port", str(cm.exception), sql)
        self.assertFalse(os.path.exists(target))
        # The tables are all there and LOAD/SAVE still work.
        self.assertGreater(int(self.query("SELECT count(*) FROM servers")[0][0]), 0)
        self.query("SAVE SERVERS TO DISK")
        self.query("LOAD SERVERS FROM DISK")
        self.query("LOAD SERVERS TO RUNTIME")

    def test_store_is_private(self):
        self.query("SAVE ALL TO DISK")
        d = self.s.admin_options["data_dir"]
        names = [n for n in os.listdir(d) if n.startswith("sluice.db")]
        self.assertIn("sluice.db", names)
        for n in names:
            mode = stat.S_IMODE(os.stat(os.path.join(d, n)).st_mode)
            self.assertEqual(mode, 0o600, "%s has mode %o" % (n, mode))

    def test_login_timeout_closes_idle_sockets(self):
        k = socket.create_connection(("127.0.0.1", self.s.admin_port), timeout=10)
        try:
            self.assertTrue(k.recv(4096))  # the greeting
            t0 = time.monotonic()
            rest = k.recv(4096)  # nothing until the login timeout closes the socket
            waited = time.monotonic() - t0
            self.assertEqual(rest, b"")
            self.assertLess(waited, 8.0)
        finally:
            k.close()

    def test_idle_sockets_cannot_lock_the_operator_out(self):
        socks = [socket.create_connection(("127.0.0.1", self.s.admin_port), timeout=5)
                 for _ in range(20)]
        try:
            time.sleep(0.3)
            self.assertEqual(self.query("SELECT 1"), (("1",),))
        finally:
            for k in socks:
                k.close()

    def test_zz_wrong_password_back_off(self):
        # Last in the class (zz): it locks 127.0.0.1 out for a while.
        for _ in range(4):
            with self.assertRaises(pymysql.err.OperationalError) as cm:
                admin_connect(self.s, password="wrong")
            self.assertEqual(cm.exception.args[0], 1045)
        with self.assertRaises(pymysql.err.OperationalError) as cm:
            admin_connect(self.s)  # the right password, inside the lockout window
        self.assertEqual(cm.exception.args[0], 1129)
        wait_until("the lockout to end", lambda: self.query("SELECT 1") == (("1",),), timeout=10)


class MysqlLimitsTest(unittest.TestCase):
    """Items 9 and 13 on MariaDB: per-user max_connections and the connection counters."""

    def test_user_limit_and_counters(self):
        env = cluster_env("SLUICE_MARIADB_CLUSTER_DIR")
        metrics_port = free_port()
        users = [{"name": env["APP_USER"], "password": env["APP_PASSWORD"],
                  "default_schema": env["DATABASE"], "max_connections": 2}]
        with Sluice(SLUICE, env, users=users, max_client_connections=4,
                    extra_toml='[metrics]\nlisten = "127.0.0.1:%d"' % metrics_port) as s:
            def connect(**kw):
                return pymysql.connect(host="127.0.0.1", port=s.port, user=env["APP_USER"],
                                       password=kw.pop("password", env["APP_PASSWORD"]),
                                       database=env["DATABASE"], connect_timeout=10,
                                       read_timeout=30, autocommit=True)
            held = [connect(), connect()]
            with self.assertRaises(pymysql.err.OperationalError) as cm:
                connect()
            self.assertEqual(cm.exception.args[0], 1226)
            self.assertIn("max_user_connections", str(cm.exception))
            # libmariadb (the mariadb CLI) gets the same error.
            cli = subprocess.run(["mariadb", "-h127.0.0.1", "-P%d" % s.port, "-u" + env["APP_USER"],
                                  "-p" + env["APP_PASSWORD"], env["DATABASE"], "-e", "SELECT 1"],
                                 capture_output=True, text=True, timeout=30)
            self.assertNotEqual(cli.returncode, 0)
            self.assertIn("1226", cli.stderr)
            with self.assertRaises(pymysql.err.OperationalError) as cm:
                connect(password="wrong")
            self.assertEqual(cm.exception.args[0], 1045)
            # The gauge per user, in stats_users, and the counters in stats_global and /metrics.
            wait_until("stats_users.client_connections = 2",
                       lambda: user_connections(s, env["APP_USER"]) == 2)
            g = wait_until("the counters", lambda: (lambda g: g if g["client_connections_refused"] >= 3
                                                     else None)(global_stats(s)))
            self.assertGreaterEqual(g["client_connections_accepted"], 5)
            self.assertEqual(g["client_connections_refused"], 3)
            m = metrics(metrics_port)
            self.assertGreaterEqual(m["sluice_client_connections_accepted_total"], 5)
            self.assertEqual(m["sluice_client_connections_refused_total"], 3)
            # max_client_connections (4) counts logged-in clients only: sockets that never
            # log in do not fill it (janitor_test.py has the 1040 of a full cluster).
            extra = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(6)]
            for k in extra:
                k.recv(4096)
            # A connection given back makes room again.
            held.pop().close()
            c = wait_until("a login after one closed", lambda: connect())
            with c.cursor() as cur:
                cur.execute("SELECT 1")
            wait_until("stats_users.client_connections = 2 again",
                       lambda: user_connections(s, env["APP_USER"]) == 2)
            c.close()
            for k in extra:
                k.close()
            for h in held:
                h.close()
            wait_until("stats_users.client_connections = 0",
                       lambda: user_connections(s, env["APP_USER"]) == 0)


class PgsqlLimitsTest(unittest.TestCase):
    """Items 9 and 13 on PostgreSQL."""

    def test_user_limit_and_counters(self):
        import psycopg2
        env = cluster_env("SLUICE_PG_CLUSTER_DIR")
        users = [{"name": env["APP_USER"], "password": env["APP_PASSWORD"],
                  "max_connections": 2}]
        metrics_port = free_port()
        with Sluice(SLUICE, env, users=users,
                    extra_toml='[metrics]\nlisten = "127.0.0.1:%d"' % metrics_port) as s:
            def connect(password=env["APP_PASSWORD"]):
                return psycopg2.connect(host="127.0.0.1", port=s.port, user=env["APP_USER"],
                                        password=password, dbname=env["DATABASE"],
                                        sslmode="disable", connect_timeout=10)
            held = [connect(), connect()]
            with self.assertRaises(psycopg2.OperationalError) as cm:
                connect()
            self.assertIn('too many connections for role "%s"' % env["APP_USER"],
                          str(cm.exception))
            psql = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(s.port), "-U",
                                   env["APP_USER"], "-d", env["DATABASE"], "-c", "SELECT 1"],
                                  capture_output=True, text=True, timeout=30,
                                  env=dict(os.environ, PGPASSWORD=env["APP_PASSWORD"],
                                           PGSSLMODE="disable"))
            self.assertNotEqual(psql.returncode, 0)
            self.assertIn("too many connections for role", psql.stderr)
            with self.assertRaises(psycopg2.OperationalError):
                connect(password="wrong")
            wait_until("stats_users.client_connections = 2",
                       lambda: user_connections(s, env["APP_USER"]) == 2)
            g = wait_until("the counters", lambda: (lambda g: g if g["client_connections_refused"] >= 3
                                                     else None)(global_stats(s)))
            self.assertGreaterEqual(g["client_connections_accepted"], 5)
            self.assertEqual(g["client_connections_refused"], 3)
            m = metrics(metrics_port)
            self.assertGreaterEqual(m["sluice_client_connections_accepted_total"], 5)
            self.assertEqual(m["sluice_client_connections_refused_total"], 3)
            held.pop().close()
            c = wait_until("a login after one closed", lambda: connect())
            with c.cursor() as cur:
                cur.execute("SELECT 1")
                self.assertEqual(cur.fetchone(), (1,))
            c.close()
            for h in held:
                h.close()
            wait_until("stats_users.client_connections = 0",
                       lambda: user_connections(s, env["APP_USER"]) == 0)


def native_verifier(password):
    import hashlib
    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def scram_verifier(password, iterations=4096):
    """pg_authid's SCRAM-SHA-256 text for PASSWORD, computed here (hashlib, hmac)."""
    import base64
    import hashlib
    import hmac
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, b64(salt),
                                          b64(hashlib.sha256(client_key).digest()), b64(server_key))


class MysqlVerifierTest(unittest.TestCase):
    """Item 12 on MariaDB: the user and the admin configured by verifier only."""

    def test_login_with_stored_verifiers(self):
        env = cluster_env("SLUICE_MARIADB_CLUSTER_DIR")
        pw = env["APP_PASSWORD"]
        users = [{"name": env["APP_USER"], "password": native_verifier(pw),
                  "backend_password": pw, "default_schema": env["DATABASE"]}]
        s = Sluice(SLUICE, env, users=users)
        s.admin_password = "adm1n-secret"
        s.config = s.config.replace('password = "admin_pw"',
                                    'password = "%s"' % native_verifier("adm1n-secret"))
        self.assertNotIn(pw, s.config.split("[[user]]")[1].split("backend_password")[0])
        with s:
            c = pymysql.connect(host="127.0.0.1", port=s.port, user=env["APP_USER"], password=pw,
                                database=env["DATABASE"], connect_timeout=10, autocommit=True)
            with c.cursor() as cur:
                cur.execute("SELECT 1")
                self.assertEqual(cur.fetchone(), (1,))
            c.close()
            # libmariadb, and a caching_sha2_password client switched to native.
            for extra in ([], ["--default-auth=caching_sha2_password"]):
                cli = subprocess.run(["mariadb", "-h127.0.0.1", "-P%d" % s.port,
                                      "-u" + env["APP_USER"], "-p" + pw] + extra +
                                     [env["DATABASE"], "-N", "-e", "SELECT 41+1"],
                                     capture_output=True, text=True, timeout=30)
                self.assertEqual(cli.returncode, 0, cli.stderr)
                self.assertEqual(cli.stdout.strip(), "42")
            with self.assertRaises(pymysql.err.OperationalError) as cm:
                pymysql.connect(host="127.0.0.1", port=s.port, user=env["APP_USER"],
                                password=pw + "x", connect_timeout=10)
            self.assertEqual(cm.exception.args[0], 1045)
            # The admin password is a verifier too.
            self.assertEqual(admin_query(s.admin_port, "adm1n-secret", "SELECT 1"), (("1",),))
            with self.assertRaises(pymysql.err.OperationalError) as cm:
                admin_query(s.admin_port, "admin_pw", "SELECT 1")
            self.assertEqual(cm.exception.args[0], 1045)


class PgsqlVerifierTest(unittest.TestCase):
    """Item 12 on PostgreSQL: the user configured by a SCRAM-SHA-256 verifier only."""

    def test_login_with_stored_verifier(self):
        import psycopg2
        env = cluster_env("SLUICE_PG_CLUSTER_DIR")
        pw = env["APP_PASSWORD"]
        users = [{"name": env["APP_USER"], "password": scram_verifier(pw),
                  "backend_password": pw}]
        with Sluice(SLUICE, env, users=users) as s:
            def connect(password):
                return psycopg2.connect(host="127.0.0.1", port=s.port, user=env["APP_USER"],
                                        password=password, dbname=env["DATABASE"],
                                        sslmode="disable", connect_timeout=10)
            c = connect(pw)
            with c.cursor() as cur:
                cur.execute("SELECT 1")
                self.assertEqual(cur.fetchone(), (1,))
            c.close()
            psql = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(s.port), "-U",
                                   env["APP_USER"], "-d", env["DATABASE"], "-tAc", "SELECT 41+1"],
                                  capture_output=True, text=True, timeout=30,
                                  env=dict(os.environ, PGPASSWORD=pw, PGSSLMODE="disable"))
            self.assertEqual(psql.returncode, 0, psql.stderr)
            self.assertEqual(psql.stdout.strip(), "42")
            with self.assertRaises(psycopg2.OperationalError) as cm:
                connect(pw + "x")
            self.assertIn('password authentication failed for user "%s"' % env["APP_USER"],
                          str(cm.exception))
            self.assertTrue(s.alive())


if __name__ == "__main__":
    SLUICE = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
