#!/usr/bin/python3
"""The admin port and the metrics endpoint against the harness MariaDB cluster.

Starts sluice with a config written for the cluster in $SLUICE_MARIADB_CLUSTER_DIR and drives
its admin port with pymysql and the mariadb CLI, its cluster port with pymysql and sysbench,
and its metrics port with curl-like HTTP, promtool and a real prometheus server.
Usage: admin_test.py SLUICE_BINARY [unittest args].
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sluice_proc import free_port, read_cluster_env  # noqa: E402

SLUICE = None
CLUSTER_DIR = os.environ.get("SLUICE_MARIADB_CLUSTER_DIR", "")
ADMIN_PW = "admin_pw"


def wait_until(what, fn, timeout=30, step=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class Sluice:
    """One sluice process, started and stopped by PID."""

    def __init__(self, workdir, env):
        self.workdir = workdir
        self.admin_port = free_port()
        self.app_port = free_port()
        self.metrics_port = free_port()
        self.config = os.path.join(workdir, "sluice.toml")
        replicas = env["REPLICA_PORTS"].split()
        servers = '[[cluster.server]]\nhost = "127.0.0.1"\nport = %s\nrole = "primary"\n' % env["PRIMARY_PORT"]
        for p in replicas:
            servers += '[[cluster.server]]\nhost = "127.0.0.1"\nport = %s\nrole = "replica"\n' % p
        with open(self.config, "w") as f:
            f.write("""[sluice]
workers = 2
drain_timeout_ms = 2000
[admin]
listen = "127.0.0.1:%d"
user = "admin"
password = "%s"
data_dir = "%s"
[metrics]
listen = "127.0.0.1:%d"
[[cluster]]
name = "app"
protocol = "mysql"
listen = "127.0.0.1:%d"
writer_hostgroup = 0
reader_hostgroup = 1
monitor_user = "%s"
monitor_password = "%s"
%s
[[user]]
name = "%s"
password = "%s"
cluster = "app"
default_schema = "%s"
""" % (self.admin_port, ADMIN_PW, os.path.join(workdir, "data"), self.metrics_port, self.app_port,
       env["MONITOR_USER"], env["MONITOR_PASSWORD"], servers, env["APP_USER"], env["APP_PASSWORD"],
       env["DATABASE"]))
        self.proc = None
        self.log = os.path.join(workdir, "sluice.log")

    def start(self):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([SLUICE, "--config", self.config], stdout=logf, stderr=logf)
        logf.close()

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("sluice exited with %d: %s" % (self.proc.returncode, open(self.log).read()))
            try:
                for p in (self.admin_port, self.app_port, self.metrics_port):
                    socket.create_connection(("127.0.0.1", p), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until("sluice to listen", up)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None


class AdminTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = read_cluster_env(CLUSTER_DIR)
        cls.primary = int(cls.env["PRIMARY_PORT"])
        cls.replicas = [int(p) for p in cls.env["REPLICA_PORTS"].split()]
        cls.tmp = tempfile.mkdtemp(prefix="sluice-admin-test-")
        cls.sluice = Sluice(cls.tmp, cls.env)
        cls.sluice.start()

    @classmethod
    def tearDownClass(cls):
        cls.sluice.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- helpers ---------------------------------------------------------------------

    def admin(self, password=ADMIN_PW):
        return pymysql.connect(host="127.0.0.1", port=self.sluice.admin_port, user="admin",
                               password=password, autocommit=True, connect_timeout=5, read_timeout=30)

    def q(self, sql):
        with self.admin() as c, c.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def app(self):
        return pymysql.connect(host="127.0.0.1", port=self.sluice.app_port, user=self.env["APP_USER"],
                               password=self.env["APP_PASSWORD"], database=self.env["DATABASE"],
                               autocommit=True, connect_timeout=5, read_timeout=30)

    def port_of(self, conn):
        with conn.cursor() as cur:
            cur.execute("SELECT @@port")
            return int(cur.fetchone()[0])

    def metrics(self):
        url = "http://127.0.0.1:%d/metrics" % self.sluice.metrics_port
        return urllib.request.urlopen(url, timeout=10).read().decode()

    def restore_servers(self):
        self.q("UPDATE servers SET status='ONLINE', weight=1")
        self.q("LOAD SERVERS TO RUNTIME")

    # ---- tests -------------------------------------------------------------------------

    def test_01_wrong_password_is_1045(self):
        with self.assertRaises(pymysql.err.OperationalError) as e:
            self.admin(password="wrong")
        self.assertEqual(e.exception.args[0], 1045)
        self.assertIn("Access denied for user 'admin'@'127.0.0.1' (using password: YES)", e.exception.args[1])

    def test_02_mariadb_cli(self):
        out = subprocess.run(["mariadb", "-h127.0.0.1", "-P%d" % self.sluice.admin_port, "-uadmin",
                              "-p" + ADMIN_PW, "-N", "-e", "SELECT host, port, role FROM servers"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("127.0.0.1\t%d\tprimary" % self.primary, out.stdout)
        for p in self.replicas:
            self.assertIn("127.0.0.1\t%d\treplica" % p, out.stdout)

    def test_03_query_rule_changes_next_statement_of_open_connection(self):
        conn = self.app()
        try:
            self.assertIn(self.port_of(conn), self.replicas)
            self.q("INSERT INTO query_rules (id, match_pattern, destination_hostgroup, apply) "
                   "VALUES (10, '^SELECT @@port', 0, 1)")
            self.q("LOAD MYSQL QUERY RULES TO RUNTIME")
            self.assertEqual(self.port_of(conn), self.primary)
            self.assertEqual(len(self.q("SELECT * FROM runtime_query_rules WHERE id = 10")), 1)
            self.q("UPDATE query_rules SET action='reject', error_message='blocked by the admin test' "
                   "WHERE id = 10")
            self.q("LOAD QUERY RULES TO RUNTIME")
            with self.assertRaises(pymysql.err.MySQLError) as e:
                self.port_of(conn)
            self.assertIn("blocked by the admin test", str(e.exception))
            # The rejection reaches the event table (workers hand stats over once a second).
            deadline = time.time() + 10
            rejected = []
            while time.time() < deadline and not rejected:
                rejected = [r for r in self.q("SELECT * FROM stats_events")
                            if "REJECTED" in [str(c) for c in r] and
                            any("blocked by the admin test" in str(c) for c in r)]
                time.sleep(0.2)
            self.assertTrue(rejected, "no REJECTED event in stats_events")
            self.q("DELETE FROM query_rules WHERE id = 10")
            self.q("load mysql query rules to runtime")
            self.assertIn(self.port_of(conn), self.replicas)
            self.assertEqual(len(self.q("SELECT * FROM runtime_query_rules")), 0)
        finally:
            conn.close()
            self.q("DELETE FROM query_rules")
            self.q("LOAD QUERY RULES TO RUNTIME")

    def test_04_offline_servers_get_no_new_reads(self):
        soft, hard = self.replicas[0], self.replicas[1]
        try:
            self.q("UPDATE servers SET status='OFFLINE_SOFT' WHERE port=%d" % soft)
            self.q("LOAD SERVERS TO RUNTIME")
            rows = self.q("SELECT status FROM runtime_servers WHERE port=%d" % soft)
            self.assertEqual(rows, (("OFFLINE_SOFT",),))
            m = self.metrics()
            self.assertRegex(m, r'sluice_server_state\{cluster="app",server="127.0.0.1:%d",'
                                r'state="OFFLINE_SOFT"\} 1' % soft)
            seen = set()
            for _ in range(12):
                with self.app() as c:
                    seen.add(self.port_of(c))
            self.assertNotIn(soft, seen)
            self.assertEqual(seen, {hard})
            self.q("UPDATE servers SET status='OFFLINE_HARD' WHERE port=%d" % hard)
            self.q("LOAD SERVERS TO RUNTIME")
            rows = self.q("SELECT port, status FROM runtime_servers WHERE role='replica' ORDER BY port")
            # The admin port sends every value as text, as ProxySQL's does.
            self.assertEqual(sorted(rows), sorted(((str(soft), "OFFLINE_SOFT"), (str(hard), "OFFLINE_HARD"))))
            self.assertRegex(self.metrics(), r'sluice_server_state\{cluster="app",'
                                             r'server="127.0.0.1:%d",state="OFFLINE_HARD"\} 1' % hard)
            with self.app() as c:
                # No usable reader: reads fall back to the writer (reader_fallback_to_writer).
                self.assertEqual(self.port_of(c), self.primary)
            events = self.q("SELECT kind, server, message FROM stats_events WHERE kind='STATE'")
            self.assertIn(("STATE", "127.0.0.1:%d" % hard, "ONLINE -> OFFLINE_HARD (admin LOAD)"), events)
        finally:
            self.restore_servers()

    def test_05_bad_row_is_refused_and_runtime_unchanged(self):
        before = self.q("SELECT * FROM runtime_servers ORDER BY port")
        version = self.q("SELECT value FROM stats_global WHERE name='runtime_version'")
        self.q("UPDATE servers SET weight=0 WHERE port=%d" % self.replicas[1])
        try:
            with self.assertRaises(pymysql.err.MySQLError) as e:
                self.q("LOAD SERVERS TO RUNTIME")
            self.assertIn("servers row (cluster=app, host=127.0.0.1, port=%d): weight: expected "
                          "1..1000000, got 0" % self.replicas[1], str(e.exception))
            self.assertEqual(self.q("SELECT * FROM runtime_servers ORDER BY port"), before)
            self.assertEqual(self.q("SELECT value FROM stats_global WHERE name='runtime_version'"), version)
            with self.assertRaises(pymysql.err.MySQLError) as e:
                self.q("UPDATE global_settings SET value='7' WHERE name='workers'")
                self.q("LOAD SETTINGS TO RUNTIME")
            self.assertIn("global_settings row (name=workers): value: cannot change at runtime", str(e.exception))
        finally:
            self.q("UPDATE global_settings SET value='2' WHERE name='workers'")
            self.q("UPDATE servers SET weight=1")

    def test_06_save_to_disk_survives_restart(self):
        try:
            self.q("UPDATE servers SET weight=7 WHERE port=%d" % self.replicas[0])
            self.q("LOAD SERVERS TO RUNTIME")
            self.q("SAVE MYSQL SERVERS TO DISK")
            self.sluice.stop()
            self.sluice.start()
            rows = self.q("SELECT weight FROM runtime_servers WHERE port=%d" % self.replicas[0])
            self.assertEqual(rows, (("7",),))
            with open(self.sluice.log) as f:
                self.assertIn("table servers loaded from the disk store", f.read())
        finally:
            self.restore_servers()
            self.q("SAVE SERVERS TO DISK")

    def test_07_sysbench_digest_counts(self):
        env = self.env
        base = ["--db-driver=mysql", "--mysql-host=127.0.0.1", "--mysql-db=" + env["DATABASE"],
                "--tables=1", "--table_size=200"]
        prep = subprocess.run(["sysbench", "oltp_read_only"] + base + [
            "--mysql-port=%d" % self.primary, "--mysql-user=" + env["ADMIN_USER"],
            "--mysql-password=" + env["ADMIN_PASSWORD"], "cleanup"], capture_output=True, text=True, timeout=120)
        prep = subprocess.run(["sysbench", "oltp_read_only"] + base + [
            "--mysql-port=%d" % self.primary, "--mysql-user=" + env["ADMIN_USER"],
            "--mysql-password=" + env["ADMIN_PASSWORD"], "prepare"], capture_output=True, text=True, timeout=120)
        self.assertEqual(prep.returncode, 0, prep.stdout + prep.stderr)

        def replicated():
            for p in self.replicas:
                c = pymysql.connect(host="127.0.0.1", port=p, user=env["ADMIN_USER"],
                                    password=env["ADMIN_PASSWORD"], database=env["DATABASE"])
                try:
                    with c.cursor() as cur:
                        cur.execute("SELECT COUNT(*) FROM sbtest1")
                        if cur.fetchone()[0] != 200:
                            return False
                except pymysql.err.MySQLError:
                    return False
                finally:
                    c.close()
            return True
        wait_until("sbtest1 on the replicas", replicated, timeout=60)
        self.q("SELECT * FROM stats_query_digest_reset")
        run = subprocess.run(["sysbench", "oltp_read_only"] + base + [
            "--mysql-port=%d" % self.sluice.app_port, "--mysql-user=" + env["APP_USER"],
            "--mysql-password=" + env["APP_PASSWORD"], "--skip_trx=on", "--threads=2",
            "--events=100", "--time=0", "run"], capture_output=True, text=True, timeout=300)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        total = int(re.search(r"^\s*total:\s+(\d+)", run.stdout, re.M).group(1))
        self.assertEqual(total, 100 * 14)

        def counted():
            rows = self.q("SELECT COALESCE(SUM(count_star), 0) FROM stats_query_digest "
                          "WHERE digest_text LIKE '%sbtest1%'")
            return int(rows[0][0]) == total and rows
        # Workers hand over once a second: the last second arrives within a few seconds.
        wait_until("digest counts to reach %d" % total, counted, timeout=15)
        rows = self.q("SELECT username, schemaname, count_star, digest FROM stats_query_digest "
                      "WHERE digest_text LIKE '%sbtest1%'")
        for user, schema, count, digest in rows:
            self.assertEqual(user, env["APP_USER"])
            self.assertEqual(schema, env["DATABASE"])
            self.assertRegex(digest, r"^0x[0-9A-F]{16}$")
        # *_reset returns the rows once, then the counts start again from zero.
        reset = self.q("SELECT SUM(count_star) FROM stats_query_digest_reset WHERE digest_text LIKE '%sbtest1%'")
        self.assertEqual(int(reset[0][0]), total)
        after = self.q("SELECT COUNT(*) FROM stats_query_digest WHERE digest_text LIKE '%sbtest1%'")
        self.assertEqual(after[0][0], "0")

    def test_08_promtool_and_prometheus_scrape(self):
        text = self.metrics()
        for name in ("sluice_client_connections", "sluice_backend_connections_used",
                     "sluice_server_queries_total", "sluice_statement_latency_seconds_bucket",
                     "sluice_command_latency_seconds_bucket", "sluice_server_state",
                     "sluice_server_role", "sluice_server_replication_lag_seconds",
                     "sluice_failovers_total", "sluice_pool_waits_total", "sluice_retries_total",
                     "sluice_protocol_errors_total"):
            self.assertRegex(text, r"(?m)^# HELP %s" % name.replace("_bucket", ""))
            self.assertRegex(text, r"(?m)^%s[{ ]" % name)
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                               text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

        prom_port = free_port()
        pdir = os.path.join(self.tmp, "prometheus")
        os.makedirs(pdir, exist_ok=True)
        cfg = os.path.join(pdir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sluice\n"
                    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % self.sluice.metrics_port)
        plog = open(os.path.join(pdir, "log"), "w")
        prom = subprocess.Popen(["prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + pdir + "/data",
                                 "--web.listen-address=127.0.0.1:%d" % prom_port], stdout=plog, stderr=plog)
        try:
            def up():
                if prom.poll() is not None:
                    raise RuntimeError("prometheus exited: " + open(os.path.join(pdir, "log")).read())
                try:
                    url = "http://127.0.0.1:%d/api/v1/query?query=up%%7Bjob%%3D%%22sluice%%22%%7D" % prom_port
                    r = json.loads(urllib.request.urlopen(url, timeout=5).read())
                    res = r["data"]["result"]
                    return bool(res) and res[0]["value"][1] == "1"
                except (OSError, ValueError, KeyError):
                    return False
            wait_until("prometheus to report up == 1", up, timeout=60, step=1)
        finally:
            os.kill(prom.pid, signal.SIGTERM)
            try:
                prom.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(prom.pid, signal.SIGKILL)
                prom.wait(timeout=10)
            plog.close()


if __name__ == "__main__":
    SLUICE = sys.argv.pop(1)
    unittest.main(verbosity=2)
