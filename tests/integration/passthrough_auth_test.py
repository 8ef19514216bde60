#!/usr/bin/python3
"""Passthrough authentication (issue #18; PgBouncer's auth_user/auth_query): users that exist
only on the servers log in through sluice.

A MariaDB user that exists only in mysql.user (mysql_native_password) and a PostgreSQL user
that exists only in pg_authid (SCRAM-SHA-256) log in and run queries (PyMySQL, the mariadb CLI
on libmariadb, psycopg2, psql); a wrong password and a user that does not exist are refused
with the protocol's usual error (1045 / 28P01); after ALTER USER the cache's TTL expiry picks
the new password up; a configured user keeps winning over the lookup; a lookup that fails (a
refused lookup user, a server that is down) refuses the client with a log line, never a hang;
the lookups are counted in /metrics and stats_auth_lookups.

Usage: passthrough_auth_test.py SLUICE_BINARY [unittest args]. Needs both harness clusters.
"""
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import psycopg2
import pymysql
from pymysql import _auth as pymysql_auth

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_common import http_get, mariadb_cli, wait_until  # noqa: E402
from sluice_proc import admin_query, free_port, read_cluster_env, wait_port  # noqa: E402

SLUICE = None
TTL_MS = 1500
SUFFIX = secrets.token_hex(3)
MY_USER, PG_USER = "pt_my_" + SUFFIX, "pt_pg_" + SUFFIX
PG_MD5_USER = "pt_md5_" + SUFFIX
PW1, PW2 = "first-Pw-1", "second-Pw-2"


def my_admin(env):
    return pymysql.connect(host="127.0.0.1", port=int(env["PRIMARY_PORT"]),
                           user=env["ADMIN_USER"], password=env["ADMIN_PASSWORD"],
                           connect_timeout=5, autocommit=True)


def pg_admin(env):
    c = psycopg2.connect(host="127.0.0.1", port=int(env["PRIMARY_PORT"]), user=env["ADMIN_USER"],
                         password=env["ADMIN_PASSWORD"], dbname="postgres", connect_timeout=5)
    c.autocommit = True
    return c


def run(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)


def change_user(conn, user, password, database):
    """COM_CHANGE_USER on an open PyMySQL connection (PyMySQL has no call for it): the
    mysql_native_password token over the handshake's scramble, then an AuthSwitchRequest
    answered if one comes. Raises pymysql's OperationalError on an ERR packet."""
    token = pymysql_auth.scramble_native_password(password.encode(), conn.salt)
    payload = (user.encode() + b"\0" + bytes([len(token)]) + token + database.encode() + b"\0" +
               (33).to_bytes(2, "little") + b"mysql_native_password\0")
    conn._execute_command(0x11, payload)  # COM_CHANGE_USER
    pkt = conn._read_packet()
    if pkt.is_auth_switch_request():
        pkt.read_uint8()
        plugin = pkt.read_string()
        salt = pkt.read_all().rstrip(b"\0")
        assert plugin == b"mysql_native_password", plugin
        conn.write_packet(pymysql_auth.scramble_native_password(password.encode(), salt))
        pkt = conn._read_packet()
    assert pkt.is_ok_packet(), pkt.get_all_data()


class PassthroughAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        my = read_cluster_env(os.environ["SLUICE_MARIADB_CLUSTER_DIR"])
        pg = read_cluster_env(os.environ["SLUICE_PG_CLUSTER_DIR"])
        cls.my, cls.pg = my, pg
        # The users exist only on the servers; sluice's config never names them.
        c = my_admin(my)
        run(c, "CREATE USER '%s'@'%%' IDENTIFIED BY '%s'" % (MY_USER, PW1))
        run(c, "GRANT SELECT ON %s.* TO '%s'@'%%'" % (my["DATABASE"], MY_USER))
        c.close()
        c = pg_admin(pg)
        run(c, "CREATE ROLE %s LOGIN PASSWORD '%s'" % (PG_USER, PW1))
        # A role whose pg_authid entry is an md5 hash, which the primary's pg_hba.conf asks
        # md5 for (a line for this role alone, ahead of the harness's scram lines).
        run(c, "SET password_encryption = 'md5'")
        run(c, "CREATE ROLE %s LOGIN PASSWORD '%s'" % (PG_MD5_USER, PW1))
        with c.cursor() as cur:
            cur.execute("SHOW hba_file")
            cls.hba_file = cur.fetchone()[0]
        with open(cls.hba_file) as f:
            cls.hba_before = f.read()
        with open(cls.hba_file, "w") as f:  # rewritten in place: owner and mode stay
            f.write("host all %s 127.0.0.1/32 md5\n%s" % (PG_MD5_USER, cls.hba_before))
        run(c, "SELECT pg_reload_conf()")
        c.close()
        ports = [free_port() for _ in range(6)]
        cls.my_port, cls.pg_port, cls.bad_my_port, cls.down_pg_port = ports[:4]
        cls.admin_port, cls.metrics_port = ports[4:]
        cls.tmp = tempfile.mkdtemp(prefix="sluice-passthru-test-")
        cfg = os.path.join(cls.tmp, "sluice.toml")
        with open(cfg, "w") as f:
            f.write("""[sluice]
workers = 2
drain_timeout_ms = 1000
[admin]
listen = "127.0.0.1:%(admin)d"
password = "admin_pw"
[metrics]
listen = "127.0.0.1:%(metrics)d"
[[cluster]]
name = "m"
protocol = "mysql"
listen = "127.0.0.1:%(my_port)d"
monitor_user = "%(my_mon)s"
monitor_password = "%(my_mon_pw)s"
auth_user = "%(my_admin)s"
auth_password = "%(my_admin_pw)s"
auth_cache_ttl_ms = %(ttl)d
  [[cluster.server]]
  host = "127.0.0.1"
  port = %(my_primary)s
  role = "primary"
[[cluster]]
name = "p"
protocol = "postgresql"
listen = "127.0.0.1:%(pg_port)d"
writer_hostgroup = 10
reader_hostgroup = 11
monitor_user = "%(pg_mon)s"
monitor_password = "%(pg_mon_pw)s"
auth_user = "%(pg_admin)s"
auth_password = "%(pg_admin_pw)s"
auth_cache_ttl_ms = %(ttl)d
  [[cluster.server]]
  host = "127.0.0.1"
  port = %(pg_primary)s
  role = "primary"
[[cluster]]
name = "mbad"
protocol = "mysql"
listen = "127.0.0.1:%(bad_my_port)d"
writer_hostgroup = 20
reader_hostgroup = 21
monitor_user = "%(my_mon)s"
monitor_password = "%(my_mon_pw)s"
auth_user = "%(my_admin)s"
auth_password = "not-the-password"
  [[cluster.server]]
  host = "127.0.0.1"
  port = %(my_primary)s
  role = "primary"
[[cluster]]
name = "pdown"
protocol = "postgresql"
listen = "127.0.0.1:%(down_pg_port)d"
writer_hostgroup = 30
reader_hostgroup = 31
connect_timeout_ms = 500
monitor_user = "%(pg_mon)s"
monitor_password = "%(pg_mon_pw)s"
auth_user = "%(pg_admin)s"
auth_password = "%(pg_admin_pw)s"
  [[cluster.server]]
  host = "127.0.0.1"
  port = %(closed_port)d
  role = "primary"
[[user]]
name = "%(my_app)s"
password = "configured-in-sluice"
cluster = "m"
backend_password = "%(my_app_pw)s"
""" % dict(admin=cls.admin_port, metrics=cls.metrics_port, my_port=cls.my_port,
           pg_port=cls.pg_port, bad_my_port=cls.bad_my_port, down_pg_port=cls.down_pg_port,
           closed_port=free_port(), ttl=TTL_MS,
           my_mon=my["MONITOR_USER"], my_mon_pw=my["MONITOR_PASSWORD"],
           pg_mon=pg["MONITOR_USER"], pg_mon_pw=pg["MONITOR_PASSWORD"],
           my_admin=my["ADMIN_USER"], my_admin_pw=my["ADMIN_PASSWORD"],
           pg_admin=pg["ADMIN_USER"], pg_admin_pw=pg["ADMIN_PASSWORD"],
           my_primary=my["PRIMARY_PORT"], pg_primary=pg["PRIMARY_PORT"],
           my_app=my["APP_USER"], my_app_pw=my["APP_PASSWORD"]))
        check = subprocess.run([SLUICE, "--config", cfg, "--check"], capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        cls.log_path = os.path.join(cls.tmp, "sluice.log")
        cls.log = open(cls.log_path, "w")
        cls.proc = subprocess.Popen([SLUICE, "--config", cfg], stdout=cls.log, stderr=cls.log)
        for port in (cls.my_port, cls.pg_port, cls.bad_my_port, cls.down_pg_port):
            wait_port(port, 30, cls.proc)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(20)
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)  # the config and the log: ours to remove
        c = my_admin(cls.my)
        run(c, "DROP USER IF EXISTS '%s'@'%%'" % MY_USER)
        c.close()
        with open(cls.hba_file, "w") as f:
            f.write(cls.hba_before)
        c = pg_admin(cls.pg)
        run(c, "SELECT pg_reload_conf()")
        run(c, "DROP ROLE IF EXISTS %s" % PG_USER)
        run(c, "DROP ROLE IF EXISTS %s" % PG_MD5_USER)
        c.close()

    # -- helpers ---------------------------------------------------------------------------

    def my_query(self, password, sql, port=None, user=MY_USER):
        c = pymysql.connect(host="127.0.0.1", port=port or self.my_port, user=user,
                            password=password, database=self.my["DATABASE"], connect_timeout=5,
                            read_timeout=10)
        try:
            with c.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            c.close()

    def pg_query(self, password, sql, port=None, user=PG_USER):
        c = psycopg2.connect(host="127.0.0.1", port=port or self.pg_port, user=user,
                             password=password, dbname=self.pg["DATABASE"], connect_timeout=5)
        try:
            with c.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            c.close()

    def my_refused(self, password, user=MY_USER, port=None):
        with self.assertRaises(pymysql.err.OperationalError) as e:
            self.my_query(password, "SELECT 1", port=port, user=user)
        return e.exception.args[0]

    def pg_refused(self, password, user=PG_USER, port=None):
        with self.assertRaises(psycopg2.OperationalError) as e:
            self.pg_query(password, "SELECT 1", port=port, user=user)
        return str(e.exception)

    def metric(self, name, labels):
        status, body = http_get(self.metrics_port, "/metrics")
        self.assertEqual(status, 200)
        want = "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in sorted(labels.items())))
        for line in body.splitlines():
            if line.startswith(name + "{"):
                series, value = line.rsplit(" ", 1)
                parts = sorted(re.findall(r'(\w+)="([^"]*)"', series))
                if "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in parts)) == want:
                    return float(value)
        return None

    # -- tests -----------------------------------------------------------------------------

    def test_1_mariadb_user_only_in_mysql_user_logs_in(self):
        rows = self.my_query(PW1, "SELECT CURRENT_USER(), 40 + 2")
        self.assertEqual(rows, (("%s@%%" % MY_USER, 42),))
        # libmariadb (the mariadb CLI) as well, twice: the second from the cache.
        for _ in range(2):
            rc, out, err = mariadb_cli(self.my_port, MY_USER, PW1, "SELECT CURRENT_USER()",
                                       self.my["DATABASE"])
            self.assertEqual((rc, out.strip()), (0, "%s@%%" % MY_USER), err)

    def test_1_postgres_user_only_in_pg_authid_logs_in(self):
        rows = self.pg_query(PW1, "SELECT current_user, 40 + 2")
        self.assertEqual(rows, [(PG_USER, 42)])
        for _ in range(2):
            p = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", PG_USER,
                                "-d", self.pg["DATABASE"], "-tAc", "SELECT current_user"],
                               capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, PGPASSWORD=PW1, PGCONNECT_TIMEOUT="5"))
            self.assertEqual((p.returncode, p.stdout.strip()), (0, PG_USER), p.stderr)

    def test_2_wrong_password_and_unknown_user_are_refused(self):
        self.assertEqual(self.my_refused("wrong"), 1045)
        self.assertEqual(self.my_refused(PW1, user="pt_nobody_" + SUFFIX), 1045)
        rc, _, err = mariadb_cli(self.my_port, MY_USER, "wrong", "SELECT 1")
        self.assertNotEqual(rc, 0)
        self.assertIn("1045", err)
        for user in (PG_USER, "pt_nobody_" + SUFFIX):
            msg = self.pg_refused("wrong" if user == PG_USER else PW1, user=user)
            self.assertIn('password authentication failed for user "%s"' % user, msg)
        p = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", PG_USER,
                            "-d", self.pg["DATABASE"], "-tAc", "SELECT 1"],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, PGPASSWORD="wrong", PGCONNECT_TIMEOUT="5"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("password authentication failed", p.stderr)

    def test_3_configured_users_win_over_the_lookup(self):
        app, app_pw = self.my["APP_USER"], self.my["APP_PASSWORD"]
        self.assertEqual(self.my_query("configured-in-sluice", "SELECT 1", user=app), ((1,),))
        # The server's own password is not looked up for a user sluice has.
        self.assertEqual(self.my_refused(app_pw, user=app), 1045)

    def test_4_alter_user_is_picked_up_after_the_ttl(self):
        self.assertEqual(self.my_query(PW1, "SELECT 1"), ((1,),))
        self.assertEqual(self.pg_query(PW1, "SELECT 1"), [(1,)])
        c = my_admin(self.my)
        run(c, "ALTER USER '%s'@'%%' IDENTIFIED BY '%s'" % (MY_USER, PW2))
        c.close()
        c = pg_admin(self.pg)
        run(c, "ALTER ROLE %s PASSWORD '%s'" % (PG_USER, PW2))
        c.close()
        start = time.monotonic()

        def my_new_works():
            try:
                return self.my_query(PW2, "SELECT CURRENT_USER()") == (("%s@%%" % MY_USER,),)
            except pymysql.err.OperationalError as e:
                self.assertEqual(e.args[0], 1045)
                return False

        def pg_new_works():
            try:
                return self.pg_query(PW2, "SELECT current_user") == [(PG_USER,)]
            except psycopg2.OperationalError:
                return False

        wait_until("the new MariaDB password", my_new_works, timeout=TTL_MS / 1000 + 10)
        wait_until("the new PostgreSQL password", pg_new_works, timeout=TTL_MS / 1000 + 10)
        self.assertLess(time.monotonic() - start, TTL_MS / 1000 + 10)
        self.assertEqual(self.my_refused(PW1), 1045)
        self.assertIn("password authentication failed", self.pg_refused(PW1))

    def test_5_a_failed_lookup_refuses_with_a_log_line(self):
        # The lookup user is refused by the server: 1045 for the client, never a hang.
        t0 = time.monotonic()
        self.assertEqual(self.my_refused(PW1, port=self.bad_my_port), 1045)
        # The server is down: PostgreSQL's 08006-class answer.
        msg = self.pg_refused(PW1, port=self.down_pg_port)
        self.assertIn("could not look up user", msg)
        self.assertLess(time.monotonic() - t0, 15)
        with open(self.log_path) as f:
            log = f.read()
        self.assertIn("cluster mbad: passthrough lookup of user '%s'" % MY_USER, log)
        self.assertIn("cluster pdown: passthrough lookup of user '%s'" % PG_USER, log)
        self.assertGreaterEqual(self.metric("sluice_auth_lookup_failures_total",
                                            {"cluster": "mbad"}), 1)
        self.assertGreaterEqual(self.metric("sluice_auth_lookup_failures_total",
                                            {"cluster": "pdown"}), 1)

    def test_6_lookups_are_counted(self):
        my_pw = self.working_password(self.my_query, pymysql.err.OperationalError)
        self.assertGreaterEqual(self.metric("sluice_auth_lookups_total",
                                            {"cluster": "m", "result": "miss"}), 1)
        pg_pw = self.working_password(self.pg_query, psycopg2.OperationalError)
        # Back-to-back logins within the TTL: the second is answered from the cache. (Up to
        # three pairs, should a loaded machine let the entry expire in between.)
        for _ in range(3):
            hits = self.metric("sluice_auth_lookups_total", {"cluster": "p", "result": "hit"})
            self.pg_query(pg_pw, "SELECT 1")
            self.pg_query(pg_pw, "SELECT 1")
            if self.metric("sluice_auth_lookups_total",
                           {"cluster": "p", "result": "hit"}) > hits:
                break
        else:
            self.fail("no passthrough login of cluster p was a cache hit")
        self.my_query(my_pw, "SELECT 1")
        self.assertEqual(self.my_refused(PW1 + "x"), 1045)
        self.assertGreaterEqual(self.metric("sluice_auth_cache_entries", {"cluster": "m"}), 1)
        rows = admin_query(self.admin_port, "admin_pw",
                           "SELECT cluster, hits, misses, failures FROM stats_auth_lookups "
                           "ORDER BY cluster", dicts=True)
        by = {r["cluster"]: r for r in rows}
        self.assertGreaterEqual(int(by["p"]["hits"]), 1)
        self.assertGreaterEqual(int(by["m"]["misses"]), 1)

    def test_7_change_user_to_a_passthrough_user_and_back(self):
        app = self.my["APP_USER"]
        pw = self.working_password(self.my_query, pymysql.err.OperationalError)
        c = pymysql.connect(host="127.0.0.1", port=self.my_port, user=app,
                            password="configured-in-sluice", database=self.my["DATABASE"],
                            connect_timeout=5, read_timeout=10)
        try:
            change_user(c, MY_USER, pw, self.my["DATABASE"])
            with c.cursor() as cur:
                cur.execute("SELECT CURRENT_USER()")
                self.assertEqual(cur.fetchall(), (("%s@%%" % MY_USER,),))
            # Back to the configured user (sluice's password, not the server's).
            change_user(c, app, "configured-in-sluice", self.my["DATABASE"])
            with c.cursor() as cur:
                cur.execute("SELECT CURRENT_USER()")
                self.assertTrue(cur.fetchall()[0][0].startswith(app + "@"))
            with self.assertRaises(pymysql.err.OperationalError) as e:
                change_user(c, MY_USER, pw + "-wrong", self.my["DATABASE"])
            self.assertEqual(e.exception.args[0], 1045)
        finally:
            c.close()

    def test_8_postgres_md5_verifier_passes_through(self):
        c = pg_admin(self.pg)
        with c.cursor() as cur:
            cur.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (PG_MD5_USER,))
            self.assertTrue(cur.fetchone()[0].startswith("md5"))
        c.close()
        # Directly, the server asks md5 for this role; through sluice the client proves the
        # password against the looked-up md5 hash and sluice answers the server's challenge.
        self.assertEqual(self.pg_query(PW1, "SELECT current_user", user=PG_MD5_USER),
                         [(PG_MD5_USER,)])
        p = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", PG_MD5_USER,
                            "-d", self.pg["DATABASE"], "-tAc", "SELECT 6 * 7"],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, PGPASSWORD=PW1, PGCONNECT_TIMEOUT="5"))
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "42"), p.stderr)
        msg = self.pg_refused("wrong", user=PG_MD5_USER)
        self.assertIn('password authentication failed for user "%s"' % PG_MD5_USER, msg)

    def working_password(self, query, error):
        """PW2 after test_4 ran, PW1 before (the tests may run one by one)."""
        for pw in (PW2, PW1):
            try:
                query(pw, "SELECT 1")
                return pw
            except error:
                pass
        self.fail("neither password logs in")


if __name__ == "__main__":
    SLUICE = sys.argv.pop(1)
    unittest.main()
