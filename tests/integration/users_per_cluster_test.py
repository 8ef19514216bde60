#!/usr/bin/python3
"""One user name on both protocols (issue #18): users are keyed by (cluster, name). The same
name `app` is configured on a MariaDB cluster and a PostgreSQL cluster with different
passwords; each password logs in only on its own cluster (PyMySQL, the mariadb CLI,
psycopg2 and psql).

Usage: users_per_cluster_test.py SLUICE_BINARY [unittest args]. Needs both harness clusters.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import psycopg2
import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_common import mariadb_cli  # noqa: E402
from sluice_proc import admin_query, free_port, read_cluster_env, wait_port  # noqa: E402

SLUICE = None
MY_PW, PG_PW = "app-on-mariadb", "app-on-postgres"


class UsersPerClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        my = read_cluster_env(os.environ["SLUICE_MARIADB_CLUSTER_DIR"])
        pg = read_cluster_env(os.environ["SLUICE_PG_CLUSTER_DIR"])
        cls.my, cls.pg = my, pg
        cls.my_port, cls.pg_port, cls.admin_port = free_port(), free_port(), free_port()
        cls.tmp = tempfile.mkdtemp(prefix="sluice-users-test-")
        cfg = os.path.join(cls.tmp, "sluice.toml")
        with open(cfg, "w") as f:
            f.write("""[sluice]
workers = 2
drain_timeout_ms = 1000
[admin]
listen = "127.0.0.1:%(admin)d"
password = "admin_pw"
[[cluster]]
name = "m"
protocol = "mysql"
listen = "127.0.0.1:%(my_port)d"
monitor_user = "%(my_mon)s"
monitor_password = "%(my_mon_pw)s"
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
  [[cluster.server]]
  host = "127.0.0.1"
  port = %(pg_primary)s
  role = "primary"
[[user]]
name = "app"
password = "%(my_pw)s"
cluster = "m"
default_schema = "%(my_db)s"
backend_user = "%(my_user)s"
backend_password = "%(my_user_pw)s"
[[user]]
name = "app"
password = "%(pg_pw)s"
cluster = "p"
backend_user = "%(pg_user)s"
backend_password = "%(pg_user_pw)s"
""" % dict(admin=cls.admin_port, my_port=cls.my_port, pg_port=cls.pg_port,
           my_mon=my["MONITOR_USER"], my_mon_pw=my["MONITOR_PASSWORD"],
           pg_mon=pg["MONITOR_USER"], pg_mon_pw=pg["MONITOR_PASSWORD"],
           my_primary=my["PRIMARY_PORT"], pg_primary=pg["PRIMARY_PORT"], my_pw=MY_PW, pg_pw=PG_PW,
           my_db=my["DATABASE"], my_user=my["APP_USER"], my_user_pw=my["APP_PASSWORD"],
           pg_user=pg["APP_USER"], pg_user_pw=pg["APP_PASSWORD"]))
        check = subprocess.run([SLUICE, "--config", cfg, "--check"], capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        cls.log = open(os.path.join(cls.tmp, "sluice.log"), "w")
        cls.proc = subprocess.Popen([SLUICE, "--config", cfg], stdout=cls.log, stderr=cls.log)
        wait_port(cls.my_port, 30, cls.proc)
        wait_port(cls.pg_port, 30, cls.proc)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(20)
        cls.log.close()

    def mysql_login(self, password):
        c = pymysql.connect(host="127.0.0.1", port=self.my_port, user="app", password=password,
                            database=self.my["DATABASE"], connect_timeout=5)
        with c.cursor() as cur:
            cur.execute("SELECT 1")
            v = cur.fetchone()[0]
        c.close()
        return v

    def pg_login(self, password):
        c = psycopg2.connect(host="127.0.0.1", port=self.pg_port, user="app", password=password,
                             dbname=self.pg["DATABASE"], connect_timeout=5)
        with c.cursor() as cur:
            cur.execute("SELECT 1")
            v = cur.fetchone()[0]
        c.close()
        return v

    def test_each_password_works_on_its_own_cluster_only(self):
        self.assertEqual(self.mysql_login(MY_PW), 1)
        self.assertEqual(self.pg_login(PG_PW), 1)
        with self.assertRaises(pymysql.err.OperationalError) as e:
            self.mysql_login(PG_PW)
        self.assertEqual(e.exception.args[0], 1045)
        with self.assertRaises(psycopg2.OperationalError) as e:
            self.pg_login(MY_PW)
        self.assertIn("password authentication failed", str(e.exception))

    def test_cli_clients(self):
        rc, out, err = mariadb_cli(self.my_port, "app", MY_PW, "SELECT 41 + 1", self.my["DATABASE"])
        self.assertEqual((rc, out.strip()), (0, "42"), err)
        rc, out, err = mariadb_cli(self.my_port, "app", PG_PW, "SELECT 1", self.my["DATABASE"])
        self.assertNotEqual(rc, 0)
        self.assertIn("1045", err)
        for pw, ok in ((PG_PW, True), (MY_PW, False)):
            p = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "app",
                                "-d", self.pg["DATABASE"], "-tAc", "SELECT 40 + 2"],
                               capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, PGPASSWORD=pw, PGCONNECT_TIMEOUT="5"))
            if ok:
                self.assertEqual((p.returncode, p.stdout.strip()), (0, "42"), p.stderr)
            else:
                self.assertNotEqual(p.returncode, 0)
                self.assertIn("password authentication failed", p.stderr)

    def test_admin_tables_hold_both_rows(self):
        rows = admin_query(self.admin_port, "admin_pw",
                           "SELECT cluster, name, password FROM runtime_users ORDER BY cluster")
        self.assertEqual(rows, (("m", "app", MY_PW), ("p", "app", PG_PW)))
        # The key is (cluster, name): a second row for the same pair is refused.
        with self.assertRaises(pymysql.err.MySQLError) as e:
            admin_query(self.admin_port, "admin_pw",
                        "INSERT INTO users (name, password, cluster) VALUES ('app', 'x', 'm')")
        self.assertIn("UNIQUE", str(e.exception))


if __name__ == "__main__":
    SLUICE = sys.argv.pop(1)
    unittest.main()
