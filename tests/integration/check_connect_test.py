#!/usr/bin/python3
"""`sluice --check --connect` against the harness clusters: the harness's monitor logins
pass; a login that cannot log in, a MariaDB login without the replication privileges and a
PostgreSQL login without pg_monitor each give one line naming the cluster, the server, the
login and what is missing, and exit status 2.

Usage: check_connect_test.py SLUICE_BINARY [unittest args]. Needs both harness clusters.
"""
import os
import subprocess
import sys
import tempfile
import unittest

import psycopg2
import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sluice_proc import read_cluster_env  # noqa: E402

SLUICE = None


def config(my, pg, my_login, pg_login):
    return """[admin]
password = "pw"
[[cluster]]
name = "m"
protocol = "mysql"
listen = "127.0.0.1:1"
monitor_user = "%s"
monitor_password = "%s"
  [[cluster.server]]
  host = "127.0.0.1"
  port = %s
  role = "primary"
[[cluster]]
name = "p"
protocol = "postgresql"
listen = "127.0.0.1:2"
writer_hostgroup = 10
reader_hostgroup = 11
monitor_user = "%s"
monitor_password = "%s"
  [[cluster.server]]
  host = "127.0.0.1"
  port = %s
  role = "primary"
""" % (my_login[0], my_login[1], my["PRIMARY_PORT"], pg_login[0], pg_login[1], pg["PRIMARY_PORT"])


class CheckConnectTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.my = read_cluster_env(os.environ["SLUICE_MARIADB_CLUSTER_DIR"])
        cls.pg = read_cluster_env(os.environ["SLUICE_PG_CLUSTER_DIR"])
        cls.tmp = tempfile.mkdtemp(prefix="sluice-check-connect-")
        # Logins without the privileges, made with the harness's superusers.
        c = pymysql.connect(host="127.0.0.1", port=int(cls.my["PRIMARY_PORT"]),
                            user=cls.my["ADMIN_USER"], password=cls.my["ADMIN_PASSWORD"],
                            autocommit=True)
        with c.cursor() as cur:
            cur.execute("CREATE USER IF NOT EXISTS 'ops_weak'@'%' IDENTIFIED BY 'weak_pw'")
        c.close()
        c = psycopg2.connect(host="127.0.0.1", port=int(cls.pg["PRIMARY_PORT"]),
                             user=cls.pg["ADMIN_USER"], password=cls.pg["ADMIN_PASSWORD"],
                             dbname="postgres")
        c.autocommit = True
        with c.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = 'ops_weak'")
            if not cur.fetchone():
                cur.execute("CREATE ROLE ops_weak LOGIN PASSWORD 'weak_pw'")
        c.close()

    def run_check(self, my_login, pg_login):
        path = os.path.join(self.tmp, "sluice.toml")
        with open(path, "w") as f:
            f.write(config(self.my, self.pg, my_login, pg_login))
        p = subprocess.run([SLUICE, "--config", path, "--check", "--connect"],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr.splitlines(), path

    def test_harness_logins_pass(self):
        rc, out, err, _ = self.run_check((self.my["MONITOR_USER"], self.my["MONITOR_PASSWORD"]),
                                         (self.pg["ADMIN_USER"], self.pg["ADMIN_PASSWORD"]))
        self.assertEqual((rc, err), (0, []), out)
        self.assertIn("configuration is valid", out)

    def test_wrong_password_and_missing_privileges(self):
        rc, out, err, path = self.run_check(("ops_weak", "weak_pw"), ("ops_weak", "wrong"))
        self.assertEqual(rc, 2, err)
        my_srv = "127.0.0.1:%s" % self.my["PRIMARY_PORT"]
        pg_srv = "127.0.0.1:%s" % self.pg["PRIMARY_PORT"]
        mine = [l for l in err if l.startswith("%s: cluster m: server %s: monitor_user ops_weak: "
                                              % (path, my_srv))]
        self.assertTrue(any("cannot run SHOW SLAVE STATUS" in l and "(1227)" in l for l in mine),
                        err)
        self.assertTrue(any("lacks what failover needs: SUPER" in l for l in mine), err)
        self.assertTrue(any(l.startswith("%s: cluster p: server %s: monitor_user ops_weak: "
                                         "cannot log in: " % (path, pg_srv)) for l in err), err)
        self.assertEqual(err[-1], "%s: %d problems" % (path, len(err) - 1))

    def test_postgres_login_without_pg_monitor(self):
        rc, out, err, path = self.run_check((self.my["MONITOR_USER"], self.my["MONITOR_PASSWORD"]),
                                            ("ops_weak", "weak_pw"))
        self.assertEqual(rc, 2, err)
        prefix = "%s: cluster p: server 127.0.0.1:%s: monitor_user ops_weak: " % (
            path, self.pg["PRIMARY_PORT"])
        self.assertIn(prefix + "lacks pg_monitor (replication state and lag are hidden without "
                      "it)", err)
        self.assertTrue(any(l.startswith(prefix + "lacks what failover needs: superuser")
                            for l in err), err)


if __name__ == "__main__":
    SLUICE = sys.argv.pop(1)
    unittest.main()
