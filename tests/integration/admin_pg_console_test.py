#!/usr/bin/python3
"""The PostgreSQL-protocol admin console (admin.pg_listen, admin/admin_pg_listener.h) against
the harness MariaDB cluster: psql and psycopg2 run the admin statements the MySQL-protocol
port runs (SHOW POOLS, SELECT * FROM stats_sessions, LOAD ... TO RUNTIME, KILL), on the
databases `sluice` and `pgbouncer`, under the same login bounds (login timeout, the
wrong-password back-off shared with the MySQL port); malformed startup packets are closed
with a protocol error (08P01).

Usage: admin_pg_console_test.py SLUICE_BINARY [unittest args].
"""
import os
import socket
import struct
import subprocess
import sys
import time
import unittest

import psycopg2
import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_common import wait_until  # noqa: E402
from sluice_proc import Sluice, free_port, read_cluster_env  # noqa: E402

SLUICE = None
LOGIN_TIMEOUT_MS = 1500


def read_messages(sock, timeout=10.0):
    """Every backend message until EOF, as (type, payload); raises if the peer stays open."""
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    out = []
    while len(data) >= 5:
        t, n = data[:1], struct.unpack("!I", data[1:5])[0]
        out.append((t, data[5:1 + n]))
        data = data[1 + n:]
    return out


def error_fields(payload):
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[part[:1].decode()] = part[1:].decode()
    return fields


class PgConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = read_cluster_env(os.environ["SLUICE_MARIADB_CLUSTER_DIR"])
        cls.pg_port = free_port()
        cls.s = Sluice(SLUICE, cls.env, workers=1,
                       admin_options={"pg_listen": "127.0.0.1:%d" % cls.pg_port,
                                      "login_timeout_ms": LOGIN_TIMEOUT_MS}).start()
        wait_until("the pg console", lambda: cls.try_connect(), timeout=20)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    @classmethod
    def try_connect(cls):
        try:
            socket.create_connection(("127.0.0.1", cls.pg_port), timeout=1).close()
            return True
        except OSError:
            return False

    def pg(self, dbname="sluice", password=None, user="admin"):
        c = psycopg2.connect(host="127.0.0.1", port=self.pg_port, user=user,
                             password=password or self.s.admin_password, dbname=dbname,
                             connect_timeout=5)
        self.addCleanup(c.close)
        return c

    def psql(self, sql, dbname="sluice", password=None):
        env = dict(os.environ, PGPASSWORD=password or self.s.admin_password, PGCONNECT_TIMEOUT="5")
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "admin",
                               "-X", "-A", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", sql, dbname],
                              capture_output=True, text=True, timeout=60, env=env)

    def app(self):
        c = pymysql.connect(host="127.0.0.1", port=self.s.port, user=self.env["APP_USER"],
                            password=self.env["APP_PASSWORD"], database=self.env["DATABASE"],
                            connect_timeout=5, autocommit=True)
        self.addCleanup(c.close)
        return c

    def test_psql_show_pools_on_both_database_names(self):
        app = self.app()
        with app.cursor() as cur:
            cur.execute("SELECT 1")
        for db in ("sluice", "pgbouncer"):
            out = self.psql("SHOW POOLS", dbname=db)
            self.assertEqual(out.returncode, 0, out.stderr)
            lines = out.stdout.strip().splitlines()
            header = lines[0].split("|")
            self.assertEqual(header[:5], ["database", "server", "role", "state", "cl_waiting"])
            rows = [dict(zip(header, line.split("|"))) for line in lines[1:-1]]
            self.assertEqual(lines[-1], "(%d rows)" % len(rows))
            servers = sorted(r["server"] for r in rows)
            ports = [int(self.env["PRIMARY_PORT"])] + self.env["REPLICA_PORTS_LIST"]
            self.assertEqual(servers, sorted("127.0.0.1:%d" % p for p in ports))
            self.assertTrue(all(r["database"] == "test" for r in rows))
        # Several statements in one Query, as psql sends a -c with semicolons.
        out = self.psql("SELECT 1 AS a; SELECT 2 AS b")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("b\n2\n(1 row)", out.stdout)

    def test_psycopg2_sessions_load_and_kill(self):
        app = self.app()
        c = self.pg()  # psycopg2 opens a transaction (BEGIN) first: the console answers it
        with c.cursor() as cur:
            cur.execute("SELECT id, user, protocol, cluster FROM stats_sessions WHERE id = %d"
                        % app.thread_id())
            self.assertEqual(cur.fetchall(), [(str(app.thread_id()), self.env["APP_USER"],
                                               "mysql", "test")])
            self.assertEqual([d[0] for d in cur.description], ["id", "user", "protocol",
                                                               "cluster"])
            cur.execute("SELECT * FROM stats_sessions")
            self.assertGreaterEqual(cur.rowcount, 1)
        c.commit()
        c.autocommit = True
        replica = self.env["REPLICA_PORTS_LIST"][0]
        with c.cursor() as cur:
            cur.execute("UPDATE servers SET weight = 7 WHERE port = %d" % replica)
            self.assertEqual(cur.rowcount, 1)
            cur.execute("SELECT weight FROM runtime_servers WHERE port = %d" % replica)
            self.assertNotEqual(cur.fetchone()[0], "7")
            cur.execute("LOAD SERVERS TO RUNTIME")
            cur.execute("SELECT weight FROM runtime_servers WHERE port = %d" % replica)
            self.assertEqual(cur.fetchone()[0], "7")
            cur.execute("UPDATE servers SET weight = 1 WHERE port = %d" % replica)
            cur.execute("LOAD SERVERS TO RUNTIME")
            # An admin error is an ERROR, the session goes on.
            with self.assertRaises(psycopg2.Error) as e:
                cur.execute("KILL 4000000005")
            self.assertEqual(e.exception.pgcode, "42704")
            self.assertIn("Unknown thread id: 4000000005", str(e.exception))
            with self.assertRaises(psycopg2.Error) as e:
                cur.execute("SELECT * FROM no_such_admin_table")
            self.assertIn("no_such_admin_table", str(e.exception))
            # KILL of a real session, over this console.
            cur.execute("KILL CONNECTION %d" % app.thread_id())
        with self.assertRaises(pymysql.err.OperationalError):
            for _ in range(50):
                with app.cursor() as cur:
                    cur.execute("SELECT 1")
                time.sleep(0.1)

    def test_other_database_and_wrong_user(self):
        with self.assertRaises(psycopg2.OperationalError) as e:
            self.pg(dbname="postgres")
        self.assertIn('database "postgres" does not exist', str(e.exception))
        with self.assertRaises(psycopg2.OperationalError) as e:
            self.pg(user="app_not_admin")
        self.assertIn('password authentication failed for user "app_not_admin"', str(e.exception))
        self.pg()  # a good login forgets that failure

    def test_malformed_startup_is_a_protocol_error(self):
        for packet in (struct.pack("!I", 4),                       # length below 8
                       struct.pack("!II", 8, 0x00020000),          # protocol 2.0
                       struct.pack("!II", 18, 196608) + b"user\0admin",  # no terminator
                       struct.pack("!II", 200000, 196608)):        # over the bound
            with socket.create_connection(("127.0.0.1", self.pg_port), timeout=5) as sock:
                sock.sendall(packet)
                msgs = read_messages(sock)
            self.assertEqual(len(msgs), 1, (packet, msgs))
            self.assertEqual(msgs[0][0], b"E", packet)
            f = error_fields(msgs[0][1])
            self.assertEqual((f["S"], f["C"]), ("FATAL", "08P01"), (packet, f))
        # The console still serves a good client.
        c = self.pg()
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("SELECT 5 AS five")
            self.assertEqual(cur.fetchone(), ("5",))

    def test_login_timeout(self):
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.pg_port), timeout=10) as sock:
            msgs = read_messages(sock, timeout=LOGIN_TIMEOUT_MS / 1000 + 5)
        took = time.monotonic() - t0
        self.assertEqual(msgs, [])
        self.assertGreaterEqual(took, LOGIN_TIMEOUT_MS / 1000 - 0.1)
        self.assertLess(took, LOGIN_TIMEOUT_MS / 1000 + 3)

    def test_zz_wrong_passwords_back_off_on_both_ports(self):
        # Three failures are free; the fourth starts the lockout (1 s, doubling).
        for _ in range(4):
            with self.assertRaises(psycopg2.OperationalError) as e:
                self.pg(password="wrong")
            self.assertIn("password authentication failed", str(e.exception))
        # The next try is refused before a password is asked for, on either admin port.
        with self.assertRaises(psycopg2.OperationalError) as e:
            self.pg(password="wrong")
        self.assertIn("is blocked", str(e.exception))
        with self.assertRaises(pymysql.err.OperationalError) as e:
            pymysql.connect(host="127.0.0.1", port=self.s.admin_port, user="admin",
                            password=self.s.admin_password, connect_timeout=5)
        self.assertEqual(e.exception.args[0], 1129)
        # After the window a good login works again (and forgets the address).
        wait_until("a login after the back-off", lambda: self.try_login(), timeout=20, step=0.3)

    def try_login(self):
        try:
            self.pg()
            return True
        except psycopg2.OperationalError:
            return False


if __name__ == "__main__":
    SLUICE = sys.argv.pop(1)
    unittest.main(verbosity=2)
