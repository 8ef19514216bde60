#!/usr/bin/python3
"""Backend TLS (issue #14) against real TLS-only servers.

Each TestCase class starts its own small cluster with cluster.sh --tls (MariaDB
require_secure_transport=ON; PostgreSQL hostssl-only pg_hba.conf), under SLUICE_SCRATCH_DIR,
and sluices in front of it with the backend_tls settings under test. The server itself says
whether sluice's session is encrypted (MariaDB Ssl_cipher, PostgreSQL pg_stat_ssl), and
stats_monitor says whether the monitor, which connects with the same settings, reaches every
node. Clients: the mariadb CLI (libmariadb) and PyMySQL; psql (libpq) and psycopg2.
Usage: backend_tls_test.py SLUICE_BINARY [TestClass[.test_method] ...]
"""
import os
import shutil
import subprocess
import sys
import time
import unittest

import psycopg2
import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from failover_test import cluster_sh  # noqa: E402  (cluster.sh, SLUICE_CLUSTER_SCRIPT)
from sluice_proc import Sluice, admin_query, read_cluster_env  # noqa: E402

SLUICE = None
SCRATCH = os.environ.get("SLUICE_SCRATCH_DIR", "/tmp/sluice-backend-tls-scratch")


class TlsCase(unittest.TestCase):
    KIND = None

    @classmethod
    def setUpClass(cls):
        cls.dir = os.path.join(SCRATCH, cls.__name__)
        shutil.rmtree(cls.dir, ignore_errors=True)
        os.makedirs(os.path.dirname(cls.dir), exist_ok=True)
        cluster_sh("start", cls.KIND, cls.dir, "--replicas", 1, "--tls", "--watch-pid", os.getpid())
        cls.env = read_cluster_env(cls.dir)
        if cls.env.get("TLS") != "1":
            raise RuntimeError("cluster.sh --tls did not record TLS=1 in cluster.env")
        cls.ca = os.path.join(cls.env["TLS_DIR"], "ca.crt")

    @classmethod
    def tearDownClass(cls):
        cluster_sh("stop", cls.dir, timeout=180)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def sluice(self, **tls):
        opts = {"monitor_interval_ms": 200, "monitor_fail_threshold": 2,
                "connect_timeout_ms": 2000}
        opts.update(tls)
        s = Sluice(SLUICE, self.env, pool_mode="transaction", cluster_options=opts,
                   workdir=os.path.join(self.dir, "sluice-%s" % self._testMethodName))
        os.makedirs(s.workdir, exist_ok=True)
        return s

    def assert_monitor_ok(self, s, want_ok=True):
        """Every node's latest stats_monitor row is ok (want_ok) or failed, within 10 s."""
        deadline = time.monotonic() + 10
        rows = ()
        while time.monotonic() < deadline:
            self.assertTrue(s.alive(), s.log_tail())
            try:
                rows = admin_query(s.admin_port, s.admin_password,
                                   "SELECT server, ok, error FROM stats_monitor")
            except pymysql.err.OperationalError as e:  # the admin port is not up yet
                rows = (str(e),)
                time.sleep(0.1)
                continue
            servers = {r[0] for r in rows}
            if len(servers) == 2 and all(bool(int(r[1])) == want_ok for r in rows):
                return rows
            time.sleep(0.2)
        self.fail("stats_monitor after 10 s (want ok=%s): %r\n%s" % (want_ok, rows, s.log_tail()))

    def check_connect(self, **tls):
        """`sluice --check --connect` with these backend_tls settings: (rc, stderr lines)."""
        s = self.sluice(**tls)
        with open(s.config_path, "w") as f:
            f.write(s.config)
        p = subprocess.run([SLUICE, "--config", s.config_path, "--check", "--connect"],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stderr.splitlines()

    def test_check_connect_logs_in_with_backend_tls(self):
        # The preflight logs in as the monitor does: over TLS to TLS-only servers. Privilege
        # findings may remain (the harness's monitor user is not an admin); no login fails.
        rc, err = self.check_connect(backend_tls="verify-full", backend_tls_ca_file=self.ca)
        self.assertEqual([l for l in err if "cannot log in" in l], [], err)
        # Without TLS the same servers refuse every login, and --check --connect says so.
        rc, err = self.check_connect(backend_tls="disable")
        self.assertEqual(rc, 2, err)
        self.assertEqual(len([l for l in err if "monitor_user" in l and "cannot log in" in l]),
                         2, err)

    def assert_servers_online(self, s):
        rows = admin_query(s.admin_port, s.admin_password, "SELECT port, status FROM runtime_servers")
        self.assertEqual(len(rows), 2, rows)
        for port, status in rows:
            self.assertEqual(status, "ONLINE", rows)


class MariadbBackendTlsTest(TlsCase):
    KIND = "mariadb"

    def app(self, port, **kw):
        e = self.env
        return pymysql.connect(host="127.0.0.1", port=port, user=e["APP_USER"],
                               password=e["APP_PASSWORD"], database=e["DATABASE"],
                               connect_timeout=5, read_timeout=20, autocommit=True, **kw)

    def cli(self, port, sql):
        """The mariadb CLI (libmariadb) through sluice, plain towards sluice."""
        e = self.env
        return subprocess.run(
            ["mariadb", "--no-defaults", "--protocol=tcp", "-h127.0.0.1", "-P%d" % port,
             "-u" + e["APP_USER"], "-p" + e["APP_PASSWORD"], "--skip-ssl", "-N", "-B",
             "--connect-timeout=5", e["DATABASE"], "-e", sql],
            capture_output=True, text=True, timeout=60)

    def test_the_servers_refuse_plain_connections(self):
        # The premise: a client without TLS is refused by the server itself.
        with self.assertRaises(pymysql.err.OperationalError) as cm:
            self.app(int(self.env["PRIMARY_PORT"])).close()
        # MariaDB 10.11 answers require_secure_transport with a plain access denial.
        self.assertIn("Access denied", str(cm.exception))

    def test_verify_full_sessions_are_encrypted_and_the_monitor_stays_up(self):
        with self.sluice(backend_tls="verify-full", backend_tls_ca_file=self.ca) as s:
            r = self.cli(s.port, "SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            self.assertEqual(r.returncode, 0, r.stderr + s.log_tail())
            name, _, cipher = r.stdout.strip().partition("\t")
            self.assertEqual(name, "Ssl_cipher")
            self.assertNotEqual(cipher.strip(), "", r.stdout)
            c = self.app(s.port)
            with c.cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS t_tls (id INT PRIMARY KEY, v TEXT)")
                cur.execute("REPLACE INTO t_tls VALUES (1, 'over tls')")
                cur.execute("SELECT v FROM t_tls WHERE id = 1 FOR UPDATE")
                self.assertEqual(cur.fetchone()[0], "over tls")
                cur.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
                self.assertRegex(cur.fetchone()[1], r"^TLSv1\.[23]$")
            c.close()
            self.assert_monitor_ok(s)
            self.assert_servers_online(s)

    def test_require_with_a_client_certificate(self):
        t = self.env["TLS_DIR"]
        with self.sluice(backend_tls="require", backend_tls_cert_file=os.path.join(t, "client.crt"),
                         backend_tls_key_file=os.path.join(t, "client.key")) as s:
            r = self.cli(s.port, "SELECT VARIABLE_VALUE <> '' FROM information_schema.SESSION_STATUS "
                                 "WHERE VARIABLE_NAME = 'SSL_CIPHER'")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "1"), r.stderr + s.log_tail())
            self.assert_monitor_ok(s)

    def test_disable_against_a_tls_only_server_fails_clearly(self):
        with self.sluice(backend_tls="disable") as s:
            r = self.cli(s.port, "SELECT 1")
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertIn("Access denied", r.stderr)
            rows = self.assert_monitor_ok(s, want_ok=False)
            self.assertIn("Access denied", rows[0][2])

    def test_verify_full_with_a_wrong_server_name_fails(self):
        with self.sluice(backend_tls="verify-full", backend_tls_ca_file=self.ca,
                         backend_tls_server_name="db.wrong.example") as s:
            r = self.cli(s.port, "SELECT 1")
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertIn("certificate verify failed", r.stderr)
            self.assertIn("hostname mismatch", r.stderr)
            self.assertIn("certificate verify failed", s.log_tail(200))


class PgBackendTlsTest(TlsCase):
    KIND = "postgres"
    SSL_SQL = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"

    def app(self, port):
        e = self.env
        c = psycopg2.connect(host="127.0.0.1", port=port, user=e["APP_USER"],
                             password=e["APP_PASSWORD"], dbname=e["DATABASE"], connect_timeout=5,
                             sslmode="disable")
        c.autocommit = True
        return c

    def psql(self, port, sql):
        e = self.env
        envp = dict(os.environ, PGPASSWORD=e["APP_PASSWORD"], PGSSLMODE="disable",
                    PGCONNECT_TIMEOUT="5")
        return subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", e["APP_USER"], "-d", e["DATABASE"],
             "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True, text=True, timeout=60, env=envp)

    def test_the_servers_refuse_plain_connections(self):
        with self.assertRaises(psycopg2.OperationalError) as cm:
            self.app(int(self.env["PRIMARY_PORT"])).close()
        self.assertIn("no encryption", str(cm.exception))

    def test_verify_full_sessions_are_encrypted_and_the_monitor_stays_up(self):
        with self.sluice(backend_tls="verify-full", backend_tls_ca_file=self.ca) as s:
            r = self.psql(s.port, self.SSL_SQL)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "t"), r.stderr + s.log_tail())
            c = self.app(s.port)
            with c.cursor() as cur:
                cur.execute("SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                self.assertRegex(cur.fetchone()[0], r"^TLSv1\.[23]$")
                cur.execute("SELECT 40 + 2")
                self.assertEqual(cur.fetchone()[0], 42)
            c.close()
            self.assert_monitor_ok(s)
            self.assert_servers_online(s)

    def test_prefer_uses_tls_when_offered(self):
        with self.sluice(backend_tls="prefer") as s:
            r = self.psql(s.port, self.SSL_SQL)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "t"), r.stderr + s.log_tail())
            self.assert_monitor_ok(s)

    # The login's backend is the primary's, and the monitor (same settings, same failure)
    # holds writes from its first failed check: the client gets the hold's bound, quickly
    # here, and the cause is in stats_monitor and the log. (MySQL reads show the data
    # plane's own error to the client: MariadbBackendTlsTest.)
    def test_disable_against_a_tls_only_server_fails_clearly(self):
        with self.sluice(backend_tls="disable", write_hold_timeout_ms=300) as s:
            rows = self.assert_monitor_ok(s, want_ok=False)
            self.assertIn("no encryption", rows[0][2])
            r = self.psql(s.port, "SELECT 1")
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertNotIn("timeout expired", r.stderr)
            self.assertIn("no encryption", s.log_tail(200))

    def test_verify_full_with_a_wrong_server_name_fails(self):
        with self.sluice(backend_tls="verify-full", backend_tls_ca_file=self.ca,
                         backend_tls_server_name="db.wrong.example",
                         write_hold_timeout_ms=300) as s:
            rows = self.assert_monitor_ok(s, want_ok=False)
            self.assertIn('does not match host name "db.wrong.example"', rows[0][2])
            r = self.psql(s.port, "SELECT 1")
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertNotIn("timeout expired", r.stderr)


if __name__ == "__main__":
    SLUICE = sys.argv[1]
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
