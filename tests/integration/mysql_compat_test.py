#!/usr/bin/python3
"""Wire compatibility through sluice with PyMySQL and the mariadb CLI (issue #14).

Every check runs the same steps straight against the primary and through sluice and wants
the same answer: status flags of a ping, the server version, and under session pooling a
server connection that the server ends (KILL, wait_timeout). Usage:
    mysql_compat_test.py SLUICE_BINARY [TestClass[.test_method] ...]
Environment: SLUICE_MARIADB_CLUSTER_DIR.
"""
import os
import re
import subprocess
import sys
import time
import unittest

import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mysql_proxy_test import app_connect, env, query, root_connect  # noqa: E402
from sluice_proc import Sluice  # noqa: E402

SLUICE = None
CLUSTER_DIR = os.environ.get("SLUICE_MARIADB_CLUSTER_DIR", "")
# A login of its own: its server connections are the only ones of that user.
SESSION_USER = "sluice_compat_py"
SESSION_PASSWORD = "compat_py_pw"
SERVER_STATUS_IN_TRANS = 0x0001
SERVER_STATUS_AUTOCOMMIT = 0x0002


def primary_port():
    return int(env()["PRIMARY_PORT"])


def connect(port, user=None, password=None):
    e = env()
    return app_connect(port, user=user or e["APP_USER"], password=password or e["APP_PASSWORD"],
                       read_timeout=30)


def root():
    return root_connect(primary_port())


def session_user_threads():
    with root() as r:
        return [row[0] for row in query(
            r, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '%s'" % SESSION_USER)]


def outcome(conn, sql):
    """('ok', rows) or (exception class name, error code) of one statement."""
    try:
        return ("ok", query(conn, sql))
    except pymysql.err.Error as e:
        return (type(e).__name__, e.args[0] if e.args else None)


class MysqlCompatTest(unittest.TestCase):
    """Transaction pooling: what sluice writes itself looks like the server's."""

    @classmethod
    def setUpClass(cls):
        cls.s = Sluice(SLUICE, env()).start()
        with root() as r:
            query(r, "CREATE TABLE IF NOT EXISTS %s.compat_py (id INT PRIMARY KEY) ENGINE=InnoDB"
                  % env()["DATABASE"])

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def ping_flags(self, port):
        flags = []
        with connect(port) as c:
            def ping():
                c.ping(reconnect=False)
                flags.append((c.server_status & (SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS),
                              c.get_autocommit()))
            c.autocommit(False)
            ping()
            query(c, "SELECT COUNT(*) FROM compat_py")
            ping()
            c.commit()
            c.autocommit(True)
            c.begin()
            ping()
            c.commit()
            ping()
        return flags

    def test_pymysql_ping_status_follows_the_session(self):
        want = [(0, False), (SERVER_STATUS_IN_TRANS, False),
                (SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS, True),
                (SERVER_STATUS_AUTOCOMMIT, True)]
        self.assertEqual(self.ping_flags(primary_port()), want)  # the server itself
        self.assertEqual(self.ping_flags(self.s.port), want)

    def test_pymysql_server_version_is_the_servers(self):
        with connect(primary_port()) as d, connect(self.s.port) as c:
            self.assertEqual(c.get_server_info(), d.get_server_info())
            self.assertTrue(c.get_server_info().startswith("5.5.5-"), c.get_server_info())

    def test_cli_status_shows_the_servers_version(self):
        def server_line(port):
            e = env()
            r = subprocess.run(
                ["mariadb", "--no-defaults", "--protocol=tcp", "-h127.0.0.1", "-P%d" % port,
                 "-u" + e["APP_USER"], "-p" + e["APP_PASSWORD"], "--connect-timeout=10",
                 e["DATABASE"], "-e", "status"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            m = re.search(r"^Server version:\s*(.+)$", r.stdout, re.M)
            self.assertIsNotNone(m, r.stdout)
            return m.group(1)
        self.assertEqual(server_line(self.s.port), server_line(primary_port()))


    def cli(self, port, *args):
        e = env()
        return subprocess.run(
            ["mariadb", "--no-defaults", "--protocol=tcp", "-h127.0.0.1", "-P%d" % port,
             "-u" + e["APP_USER"], "-p" + e["APP_PASSWORD"], "--connect-timeout=10",
             e["DATABASE"]] + list(args), capture_output=True, text=True, timeout=60)

    def test_cli_compressed_protocol(self):
        for port in (primary_port(), self.s.port):
            r = self.cli(port, "--compress", "-e", "status")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"(?m)^Protocol:\s+Compressed$", port)
        # A result of many frames, and statements after it, through the compressed protocol.
        r = self.cli(self.s.port, "--compress", "--batch", "--skip-column-names", "-e",
                     "SELECT REPEAT('ab', 3000000); SELECT 7; SELECT 8")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split("\n")[1:], ["7", "8", ""])
        self.assertEqual(r.stdout.split("\n")[0], "ab" * 3000000)


class MysqlSessionPoolingTest(unittest.TestCase):
    """Session pooling: the server ending the client's connection is the client's loss."""

    @classmethod
    def setUpClass(cls):
        e = env()
        with root() as r:
            query(r, "CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s'"
                  % (SESSION_USER, SESSION_PASSWORD))
            query(r, "GRANT ALL PRIVILEGES ON %s.* TO '%s'@'%%'" % (e["DATABASE"], SESSION_USER))
        cls.s = Sluice(SLUICE, env(), pool_mode="session", users=[
            {"name": SESSION_USER, "password": SESSION_PASSWORD,
             "default_schema": e["DATABASE"]}]).start()

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def wait_threads(self, want, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ids = session_user_threads()
            if len(ids) == want:
                return ids
            time.sleep(0.1)
        self.fail("%s has %d server connections, not %d" % (SESSION_USER, len(ids), want))

    def killed(self, port):
        """What the client sees of a KILL of its (idle) server connection."""
        c = connect(port, SESSION_USER, SESSION_PASSWORD)
        try:
            query(c, "SET @kept = 7")
            self.assertEqual(query(c, "SELECT @kept"), ((7,),))
            (tid,) = self.wait_threads(1)
            with root() as r:
                query(r, "KILL %d" % tid)
            self.wait_threads(0)
            return outcome(c, "SELECT @kept"), outcome(c, "SELECT 1")
        finally:
            c.close()

    def timed_out(self, port):
        """What the client sees when wait_timeout ends its server connection."""
        c = connect(port, SESSION_USER, SESSION_PASSWORD)
        try:
            query(c, "SET SESSION wait_timeout = 1")
            self.wait_threads(1)
            self.wait_threads(0)  # the server closed it
            return outcome(c, "SELECT 1")
        finally:
            c.close()

    def test_a_session_keeps_its_server_connection(self):
        with connect(self.s.port, SESSION_USER, SESSION_PASSWORD) as c:
            query(c, "SET @v = 5")
            (tid,) = self.wait_threads(1)
            for _ in range(20):
                self.assertEqual(query(c, "SELECT @v, CONNECTION_ID() > 0"), ((5, 1),))
            self.assertEqual(session_user_threads(), [tid])

    def test_killed_server_connection_is_lost_as_directly(self):
        direct = self.killed(primary_port())
        self.assertNotEqual(direct[0][0], "ok", direct)
        self.assertEqual(self.killed(self.s.port), direct)

    def test_wait_timeout_is_lost_as_directly(self):
        direct = self.timed_out(primary_port())
        self.assertNotEqual(direct[0], "ok", direct)
        self.assertEqual(self.timed_out(self.s.port), direct)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: mysql_compat_test.py SLUICE_BINARY [unittest args]")
    SLUICE = sys.argv[1]
    if not CLUSTER_DIR:
        sys.exit("SLUICE_MARIADB_CLUSTER_DIR is not set")
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[2:])
