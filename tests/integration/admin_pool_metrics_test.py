#!/usr/bin/python3
"""Pool-wait and per-user statistics (issue #18) on the admin port and /metrics, against the
harness MariaDB cluster.

PoolWaitTest: a pool of one connection (workers = 1, the primary's max_connections = 1), a
client holding it in an open transaction and a second client (the mariadb CLI, libmariadb)
whose statement has to wait: stats_servers / SHOW POOLS / sluice_pool_clients_waiting show
the waiting client and how long it has waited (PgBouncer's cl_waiting and maxwait); once the
transaction ends the wait is counted with its time (SHOW STATS avg_wait_time,
sluice_pool_wait_seconds).

UsersTest: two configured users on the cluster; their connections, statements and errors
per (cluster, user) in stats_users, ProxySQL's stats_mysql_users and sluice_user_*; a login
of an unknown user adds no series.

Usage: admin_pool_metrics_test.py SLUICE_BINARY [unittest args].
"""
import os
import subprocess
import sys
import unittest
import urllib.request

import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_common import wait_until  # noqa: E402
from sluice_proc import Sluice, admin_query, free_port, read_cluster_env, wait_port  # noqa: E402

SLUICE = None


def metric(port, name, labels=None):
    """The value of the series NAME{LABELS...} on /metrics, or None when it is not there."""
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read().decode()
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all('%s="%s"' % kv in line for kv in (labels or {}).items()):
            return float(line.rsplit(" ", 1)[1])
    return None


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = read_cluster_env(os.environ["SLUICE_MARIADB_CLUSTER_DIR"])
        cls.metrics_port = free_port()
        env = cls.env
        users = [{"name": env["APP_USER"], "password": env["APP_PASSWORD"],
                  "default_schema": env["DATABASE"]},
                 {"name": "reporter", "password": "reporter_pw", "default_schema": env["DATABASE"],
                  "backend_user": env["APP_USER"], "backend_password": env["APP_PASSWORD"]}]
        cls.s = Sluice(SLUICE, env, workers=1, replicas=False, server_max_connections=1,
                       users=users,
                       extra_toml='[metrics]\nlisten = "127.0.0.1:%d"\n' % cls.metrics_port).start()
        cls.server = "127.0.0.1:%s" % env["PRIMARY_PORT"]
        wait_port(cls.s.admin_port, 20, cls.s.proc)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def connect(self, user=None, password=None):
        c = pymysql.connect(host="127.0.0.1", port=self.s.port, user=user or self.env["APP_USER"],
                            password=password or self.env["APP_PASSWORD"],
                            database=self.env["DATABASE"], connect_timeout=5, read_timeout=60,
                            autocommit=True)
        self.addCleanup(lambda: c.open and c.close())
        return c

    def admin(self, sql):
        return admin_query(self.s.admin_port, self.s.admin_password, sql, dicts=True)

    def metric(self, name, labels=None):
        return metric(self.metrics_port, name, labels)


class PoolWaitTest(Base):
    def pool(self):
        return [r for r in self.admin("SHOW POOLS") if r["server"] == self.server][0]

    def test_a_client_waiting_for_the_only_connection(self):
        labels = {"cluster": "test", "server": self.server}
        before = self.admin("SELECT pool_waits, pool_wait_sum_us FROM stats_servers WHERE server "
                            "= '%s'" % self.server)[0]
        hist_before = self.metric("sluice_pool_wait_seconds_count", labels) or 0
        # The monitor may discover the replicas (reads could go there): the waiting statement
        # is a locking read, which runs on the primary.
        holder = self.connect()
        with holder.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT 1")  # the transaction holds the pool's one connection
        env = self.env
        waiter = subprocess.Popen(
            ["mariadb", "-h127.0.0.1", "-P%d" % self.s.port, "-u" + env["APP_USER"],
             "-p" + env["APP_PASSWORD"], env["DATABASE"], "--batch", "--skip-column-names",
             "-e", "SELECT 4242 FOR UPDATE"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # The waiting client, in the admin tables and in /metrics.
            try:
                wait_until("cl_waiting = 1", lambda: int(self.pool()["cl_waiting"]) == 1, timeout=8)
            except AssertionError as e:
                waiter.kill()
                raise AssertionError("%s; pool %r; sessions %r; the waiting client said %r" % (
                    e, self.pool(), self.admin("SELECT * FROM stats_sessions"),
                    waiter.communicate(timeout=10)))
            self.assertEqual(self.metric("sluice_pool_clients_waiting", labels), 1)
            self.assertIsNone(waiter.poll(), "the second client did not wait")
            # maxwait: how long the first waiting client has waited, growing while it waits.
            wait_until("maxwait >= 0.5 s", lambda: (
                lambda p: int(p["maxwait"]) * 1000000 + int(p["maxwait_us"]) >= 500000)(
                    self.pool()), timeout=8)
            self.assertGreaterEqual(self.metric("sluice_pool_max_wait_seconds", labels), 0.5)
            row = self.admin("SELECT clients_waiting, max_wait_us FROM stats_servers WHERE "
                             "server = '%s'" % self.server)[0]
            self.assertEqual(int(row["clients_waiting"]), 1)
        finally:
            with holder.cursor() as cur:
                cur.execute("COMMIT")  # the connection goes back: the waiting statement gets it
        out, err = waiter.communicate(timeout=30)
        self.assertEqual(waiter.returncode, 0, err)
        self.assertEqual(out.strip(), "4242")
        # The wait ended: counted with its time, and nobody waits any more.
        after = wait_until("the wait counted", lambda: (
            lambda r: r if int(r["pool_waits"]) > int(before["pool_waits"]) else None)(
                self.admin("SELECT * FROM stats_servers WHERE server = '%s'" % self.server)[0]))
        self.assertEqual(int(after["pool_waits"]), int(before["pool_waits"]) + 1)
        waited_us = int(after["pool_wait_sum_us"]) - int(before["pool_wait_sum_us"])
        self.assertGreaterEqual(waited_us, 500000)
        self.assertLess(waited_us, 10000000)  # under the pool's 10 s wait bound
        self.assertGreaterEqual(int(after["pool_wait_max_us"]), 500000)
        wait_until("cl_waiting = 0", lambda: int(self.pool()["cl_waiting"]) == 0)
        self.assertEqual(int(self.pool()["maxwait"]), 0)
        self.assertGreaterEqual(int(self.pool()["avg_wait_time"]), 1)
        stats = [r for r in self.admin("SHOW STATS") if r["database"] == "test"][0]
        self.assertGreaterEqual(int(stats["total_wait_count"]), 1)
        self.assertGreaterEqual(int(stats["total_wait_time"]), 500000)
        self.assertGreater(int(stats["avg_wait_time"]), 0)
        self.assertEqual(self.metric("sluice_pool_wait_seconds_count", labels), hist_before + 1)
        self.assertGreaterEqual(self.metric("sluice_pool_wait_seconds_sum", labels), 0.5)
        self.assertEqual(self.metric("sluice_pool_clients_waiting", labels), 0)
        self.assertGreaterEqual(self.metric("sluice_pool_waits_total"), 1)


class UsersTest(Base):
    def user_row(self, name):
        rows = self.admin("SELECT * FROM stats_users WHERE username = '%s' AND cluster = 'test'"
                          % name)
        return rows[0] if rows else None

    def test_connections_statements_and_errors_per_user(self):
        app0 = self.user_row(self.env["APP_USER"])
        rep0 = self.user_row("reporter")
        apps = [self.connect(), self.connect()]
        rep = self.connect(user="reporter", password="reporter_pw")
        for _ in range(3):
            with apps[0].cursor() as cur:
                cur.execute("SELECT 1")
        with self.assertRaises(pymysql.err.MySQLError), apps[1].cursor() as cur:
            cur.execute("SELECT * FROM no_such_table_ops3")
        for _ in range(2):
            with rep.cursor() as cur:
                cur.execute("SELECT 2")
        # A login of a user the config does not know: refused, and no row or series of its own.
        with self.assertRaises(pymysql.err.OperationalError):
            pymysql.connect(host="127.0.0.1", port=self.s.port, user="nobody_ops3",
                            password="x", connect_timeout=5)
        wait_until("stats_users per user", lambda: (
            lambda a, r: a and r and int(a["client_connections"]) == 2 and
            int(r["client_connections"]) == 1 and int(r["statements"]) >= int(rep0["statements"]) + 2
            and int(a["errors"]) >= int(app0["errors"]) + 1)(
                self.user_row(self.env["APP_USER"]), self.user_row("reporter")))
        app1 = self.user_row(self.env["APP_USER"])
        rep1 = self.user_row("reporter")
        self.assertGreaterEqual(int(app1["statements"]) - int(app0["statements"]), 4)
        self.assertEqual(int(app1["errors"]) - int(app0["errors"]), 1)
        self.assertEqual(int(rep1["statements"]) - int(rep0["statements"]), 2)
        self.assertEqual(int(rep1["errors"]), int(rep0["errors"]))
        self.assertEqual(self.admin("SELECT count(*) AS n FROM stats_users WHERE username = "
                                    "'nobody_ops3'"), [{"n": "0"}])
        # ProxySQL's name for it.
        pu = {r["username"]: r for r in self.admin("SELECT * FROM stats_mysql_users")}
        self.assertEqual(int(pu["reporter"]["frontend_connections"]), 1)
        self.assertEqual(int(pu[self.env["APP_USER"]]["frontend_connections"]), 2)
        # Prometheus, per (cluster, user).
        app_l = {"cluster": "test", "user": self.env["APP_USER"]}
        rep_l = {"cluster": "test", "user": "reporter"}
        self.assertEqual(self.metric("sluice_user_client_connections", app_l), 2)
        self.assertEqual(self.metric("sluice_user_client_connections", rep_l), 1)
        self.assertEqual(self.metric("sluice_user_queries_total", rep_l),
                         int(rep1["statements"]))
        self.assertEqual(self.metric("sluice_user_errors_total", app_l), int(app1["errors"]))
        self.assertEqual(self.metric("sluice_user_errors_total", rep_l), int(rep1["errors"]))
        self.assertIsNone(self.metric("sluice_user_client_connections", {"user": "nobody_ops3"}))
        # Closing gives the gauge back.
        rep.close()
        wait_until("reporter's connections = 0",
                   lambda: int(self.user_row("reporter")["client_connections"]) == 0)


if __name__ == "__main__":
    SLUICE = sys.argv.pop(1)
    unittest.main(verbosity=2)
