#!/usr/bin/python3
"""Health monitor, failover, switchover, lag-aware routing and discovery through sluice.

Each TestCase starts its OWN cluster (tests/cluster/cluster.sh, under SLUICE_SCRATCH_DIR) because
it destroys the topology, and its own sluice (sluice_proc.Sluice); both are stopped by PID in
tearDown. Usage:
    failover_test.py SLUICE_BINARY [TestClass[.test_method] ...]
Environment: SLUICE_CLUSTER_SCRIPT, SLUICE_SCRATCH_DIR.
"""
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest

import psycopg2
import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sluice_proc import Sluice, admin_query, read_cluster_env  # noqa: E402

SLUICE = None
HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER_SCRIPT = os.environ.get("SLUICE_CLUSTER_SCRIPT",
                                os.path.join(HERE, "..", "cluster", "cluster.sh"))
SCRATCH = os.environ.get("SLUICE_SCRATCH_DIR", "/tmp/sluice-health-scratch")
MONITOR_INTERVAL_MS = 500


def cluster_sh(*args, timeout=300):
    r = subprocess.run(["bash", CLUSTER_SCRIPT] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("cluster.sh %s failed: %s" % (" ".join(map(str, args)), r.stderr[-2000:]))
    return r.stdout


class Db:
    """Direct and through-sluice connections for one cluster kind."""

    def __init__(self, kind, env):
        self.kind = kind
        self.env = env

    def direct(self, port, timeout=5):
        e = self.env
        if self.kind == "mariadb":
            return pymysql.connect(host="127.0.0.1", port=port, user=e["ADMIN_USER"],
                                   password=e["ADMIN_PASSWORD"], database=e["DATABASE"],
                                   connect_timeout=timeout, read_timeout=30, autocommit=True)
        c = psycopg2.connect(host="127.0.0.1", port=port, user=e["ADMIN_USER"],
                             password=e["ADMIN_PASSWORD"], dbname=e["DATABASE"],
                             connect_timeout=timeout)
        c.autocommit = True
        return c

    def app(self, port, timeout=5):
        e = self.env
        if self.kind == "mariadb":
            return pymysql.connect(host="127.0.0.1", port=port, user=e["APP_USER"],
                                   password=e["APP_PASSWORD"], database=e["DATABASE"],
                                   connect_timeout=timeout, read_timeout=30, write_timeout=30,
                                   autocommit=True)
        c = psycopg2.connect(host="127.0.0.1", port=port, user=e["APP_USER"],
                             password=e["APP_PASSWORD"], dbname=e["DATABASE"],
                             connect_timeout=timeout)
        c.autocommit = True
        return c

    @staticmethod
    def one(conn, sql, args=None):
        with conn.cursor() as cur:
            cur.execute(sql, args)
            row = cur.fetchone()
            return row[0] if row else None

    @staticmethod
    def run(conn, sql, args=None):
        with conn.cursor() as cur:
            cur.execute(sql, args)

    def port_sql(self):
        return "SELECT @@port" if self.kind == "mariadb" else "SELECT inet_server_port()"

    def is_primary(self, port):
        try:
            c = self.direct(port, timeout=2)
        except Exception:
            return False
        try:
            if self.kind == "mariadb":
                with c.cursor() as cur:
                    cur.execute("SHOW SLAVE STATUS")
                    replicating = cur.fetchone() is not None
                return self.one(c, "SELECT @@read_only") == 0 and not replicating
            # A fenced old PostgreSQL primary is not in recovery but refuses writes
            # (default_transaction_read_only, set by the switchover): not a primary.
            return (self.one(c, "SELECT pg_is_in_recovery()") is False and
                    self.one(c, "SELECT current_setting('default_transaction_read_only')") == "off")
        finally:
            c.close()

    def count(self, port, table):
        c = self.direct(port)
        try:
            return self.one(c, "SELECT COUNT(*) FROM %s" % table)
        finally:
            c.close()

    def wait_row(self, port, table, rid, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                c = self.direct(port, timeout=2)
                try:
                    if self.one(c, "SELECT COUNT(*) FROM %s WHERE id = %d" % (table, rid)):
                        return True
                finally:
                    c.close()
            except Exception:
                pass
            time.sleep(0.2)
        return False


def secs(t):
    return "-" if t is None else "%.2f" % t


class HealthCase(unittest.TestCase):
    KIND = "mariadb"
    SYNC = False
    REPLICAS = 2

    def setUp(self):
        self.dir = os.path.join(SCRATCH, "%s-%s" % (type(self).__name__, self._testMethodName))
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(os.path.dirname(self.dir), exist_ok=True)
        args = ["start", self.KIND, self.dir, "--replicas", self.REPLICAS, "--watch-pid", os.getpid()]
        if self.SYNC:
            args.append("--semisync" if self.KIND == "mariadb" else "--sync")
        cluster_sh(*args)
        self.env = read_cluster_env(self.dir)
        self.db = Db(self.KIND, self.env)
        self.sluice = None
        c = self.db.direct(int(self.env["PRIMARY_PORT"]))
        self.db.run(c, "CREATE TABLE IF NOT EXISTS t_health (id INT PRIMARY KEY, v INT)")
        if self.KIND == "postgres":
            self.db.run(c, "GRANT ALL ON t_health TO %s" % self.env["APP_USER"])
        c.close()

    def tearDown(self):
        if self.sluice is not None:
            self.sluice.stop()
            if self._outcome and not all(e is None for _, e in getattr(self._outcome, "errors", [])):
                print(self.sluice.log_tail(60))
        cluster_sh("stop", self.dir, timeout=180)

    def start_sluice(self, **kw):
        e = self.env
        opts = {"monitor_interval_ms": MONITOR_INTERVAL_MS, "failover_window_ms": 2000,
                "admin_user": e["ADMIN_USER"], "admin_password": e["ADMIN_PASSWORD"],
                "replication_user": e["REPL_USER"], "replication_password": e["REPL_PASSWORD"],
                "reader_fallback_to_writer": False}
        opts.update(kw.pop("cluster_options", {}))
        self.sluice = Sluice(SLUICE, e, cluster_options=opts, log_level="info", **kw).start()
        time.sleep(2 * MONITOR_INTERVAL_MS / 1000.0)
        return self.sluice

    def admin(self, sql):
        return admin_query(self.sluice.admin_port, self.sluice.admin_password, sql)

    def events(self):
        return self.admin("SELECT kind, server, message FROM stats_events")

    def new_primary_port(self, old):
        for p in self.env["REPLICA_PORTS_LIST"]:
            if p != old and self.db.is_primary(p):
                return p
        return None

    def read_ports(self, n=40):
        """Which servers answer N reads through sluice: a connection per read, and a varying
        number of reads before it so that the balancer's round robin does not fall into step."""
        seen = {}
        for i in range(n):
            c = self.db.app(self.sluice.port)
            try:
                for _ in range(i % 3):
                    self.db.one(c, "SELECT 1")
                p = self.db.one(c, self.db.port_sql())
                seen[p] = seen.get(p, 0) + 1
            finally:
                c.close()
        return seen


class FailoverMixin:
    """Kill -9 the primary under autocommit writes."""

    def test_kill_primary(self):
        self.start_sluice()
        old = int(self.env["PRIMARY_PORT"])
        acked = []
        errors = []
        stop = threading.Event()
        kill_time = [None]
        first_ok_after_kill = [None]

        def writer():
            i = 0
            conn = None
            deadline = time.monotonic() + 60
            while not stop.is_set() and time.monotonic() < deadline:
                i += 1
                started = time.monotonic()
                try:
                    if conn is None:
                        conn = self.db.app(self.sluice.port, timeout=3)
                    self.db.run(conn, "INSERT INTO t_health VALUES (%s, 1)", (i,))
                    acked.append(i)
                    # Only a statement started after the kill proves the new primary.
                    if (kill_time[0] is not None and started > kill_time[0] and
                            first_ok_after_kill[0] is None):
                        first_ok_after_kill[0] = time.monotonic()
                except Exception as ex:  # noqa: BLE001 -- the client's view of the outage
                    errors.append((time.monotonic(), str(ex)))
                    try:
                        conn and conn.close()
                    except Exception:
                        pass
                    conn = None
                    time.sleep(0.05)
                time.sleep(0.01)

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(2)
        before_kill = time.monotonic()
        cluster_sh("kill-node", self.dir, "primary")
        kill_time[0] = time.monotonic()
        # A client that logs in while the old primary is fenced and writes are paused waits
        # with them, then writes on the new primary: no error.
        deadline = time.monotonic() + 20
        while (not any(e[0] == "FENCE" for e in self.events()) and
               time.monotonic() < deadline):
            time.sleep(0.05)
        late = self.db.app(self.sluice.port, timeout=15)
        self.db.run(late, "INSERT INTO t_health VALUES (%s, 1)", (3000000,))
        late.close()
        acked.append(3000000)
        deadline = time.monotonic() + 20
        while first_ok_after_kill[0] is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        stop.set()
        t.join(30)
        self.assertIsNotNone(first_ok_after_kill[0], "no write succeeded within 20 s of the kill")
        # Counted from before the kill command, an upper bound on the outage.
        outage = first_ok_after_kill[0] - before_kill
        print("%s failover: writes succeeded again %.2f s after kill -9 (kill-node took %.2f s; "
              "%d acked, %d client errors)" % (self.KIND, outage, kill_time[0] - before_kill,
                                               len(acked), len(errors)))
        self.assertLess(outage, 10.0)

        new = self.new_primary_port(old)
        self.assertIsNotNone(new, "no replica was promoted")
        c = self.db.direct(new)
        with c.cursor() as cur:
            cur.execute("SELECT id FROM t_health")
            have = {r[0] for r in cur.fetchall()}
        c.close()
        missing = [i for i in acked if i not in have]
        self.assertEqual(missing, [], "acknowledged inserts missing on the new primary")

        # The other replica follows the new primary.
        other = [p for p in self.env["REPLICA_PORTS_LIST"] if p != new]
        probe = 1000000
        conn = self.db.app(self.sluice.port)
        self.db.run(conn, "INSERT INTO t_health VALUES (%s, 2)", (probe,))
        conn.close()
        for p in other:
            self.assertTrue(self.db.wait_row(p, "t_health", probe, timeout=20),
                            "replica %d does not replicate from the new primary %d" % (p, new))
        if self.KIND == "postgres":
            # The re-pointed standbys keep their names: discovery and synchronous_standby_names.
            c = self.db.direct(new)
            with c.cursor() as cur:
                cur.execute("SELECT application_name FROM pg_stat_replication")
                names = {r[0] for r in cur.fetchall()}
            c.close()
            for p in other:
                self.assertIn("127.0.0.1:%d" % p, names)

        # The old primary comes back and gets no writes.
        cluster_sh("start-node", self.dir, "primary")
        time.sleep(3 * MONITOR_INTERVAL_MS / 1000.0 + 1)
        before = self.db.count(old, "t_health")
        conn = self.db.app(self.sluice.port)
        for k in range(20):
            self.db.run(conn, "INSERT INTO t_health VALUES (%s, 3)", (probe + 1 + k,))
        conn.close()
        time.sleep(1)
        self.assertEqual(self.db.count(old, "t_health"), before, "the old primary got writes")
        if self.KIND == "mariadb":
            deadline = time.monotonic() + 10
            ro = 0
            while time.monotonic() < deadline and ro != 1:
                c = self.db.direct(old)
                ro = self.db.one(c, "SELECT @@read_only")
                c.close()
                time.sleep(0.3)
            self.assertEqual(ro, 1, "the returning old primary was not set read_only")
        kinds = [e[0] for e in self.events()]
        self.assertIn("FAILOVER_DONE", kinds)
        self.assertIn("NEEDS_REJOIN", kinds)


class LagMixin:
    """A replica whose replication is stopped loses reads past max_lag_ms, regains them after."""

    def test_lagging_replica(self):
        self.start_sluice(replica_max_lag_ms=1500)
        lagger = self.env["REPLICA_PORTS_LIST"][0]
        self.assertIn(lagger, self.read_ports(), self.admin("SELECT * FROM runtime_servers"))
        c = self.db.direct(lagger)
        self.db.run(c, "STOP SLAVE" if self.KIND == "mariadb" else "SELECT pg_wal_replay_pause()")
        p = self.db.direct(int(self.env["PRIMARY_PORT"]))
        for i in range(1, 6):
            self.db.run(p, "INSERT INTO t_health VALUES (%d, 0)" % i)
            time.sleep(0.5)
        time.sleep(2)  # lag passes 1500 ms; the monitor sees it within an interval
        self.db.run(p, "INSERT INTO t_health VALUES (100, 0)")
        time.sleep(1)
        seen = self.read_ports()
        self.assertNotIn(lagger, seen, "a replica lagging past max_lag_ms still gets reads")
        self.db.run(c, "START SLAVE" if self.KIND == "mariadb" else "SELECT pg_wal_replay_resume()")
        deadline = time.monotonic() + 15
        back = False
        while time.monotonic() < deadline and not back:
            time.sleep(1)
            back = lagger in self.read_ports(20)
        self.assertTrue(back, "the caught-up replica did not get reads again")
        c.close()
        p.close()


class ReplicaKillMixin:
    """Killing a replica under read load: reads move on, nothing not yet started on it fails."""

    def test_kill_replica_under_reads(self):
        self.start_sluice()
        victim = self.env["REPLICA_NAMES_LIST"][0]
        victim_port = self.env["REPLICA_PORTS_LIST"][0]
        errors = []
        done = []
        stop = threading.Event()

        def reader():
            end = time.monotonic() + 40
            while not stop.is_set() and time.monotonic() < end:
                try:
                    c = self.db.app(self.sluice.port)
                    try:
                        done.append(self.db.one(c, self.db.port_sql()))
                    finally:
                        c.close()
                except Exception as ex:  # noqa: BLE001
                    errors.append(str(ex))
                time.sleep(0.02)

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(2)
        cluster_sh("kill-node", self.dir, victim)
        killed_at = len(done)
        time.sleep(6)
        stop.set()
        for t in threads:
            t.join(30)
        after = done[killed_at + 20:]
        print("replica kill: %d reads, %d errors (%s)" % (len(done), len(errors), errors[:3]))
        self.assertTrue(after, "no reads after the kill")
        self.assertNotIn(victim_port, after, "reads still went to the killed replica")
        # A read in flight on the victim at the kill may fail; none other may. Four readers
        # have at most four reads in flight at that moment.
        self.assertLessEqual(len(errors), 4, errors[:5])


class SwitchoverMixin:
    def test_switchover_under_load(self):
        self.start_sluice(server_max_connections=40)
        e = self.env
        old = int(e["PRIMARY_PORT"])
        seconds = 20
        if self.KIND == "mariadb":
            common = ["--db-driver=mysql", "--mysql-host=127.0.0.1",
                      "--mysql-port=%d" % self.sluice.port, "--mysql-user=%s" % e["APP_USER"],
                      "--mysql-password=%s" % e["APP_PASSWORD"], "--mysql-db=%s" % e["DATABASE"],
                      "--tables=4", "--table-size=10000"]
            subprocess.run(["sysbench", "oltp_read_write"] + common + ["prepare"], check=True,
                           capture_output=True, timeout=120)
            time.sleep(2)
            # Only InnoDB deadlocks (1213) may be retried: they are the workload's own
            # conflicting transactions, at the same rate on a direct connection. Any other
            # error (a lock wait timeout, or anything sluice says) ends the run non-zero.
            cmd = ["sysbench", "oltp_read_write"] + common + [
                "--threads=8", "--time=%d" % seconds, "--report-interval=0",
                "--mysql-ignore-errors=1213", "run"]
            env = None
        else:
            env = dict(os.environ, PGPASSWORD=e["ADMIN_PASSWORD"])
            subprocess.run(["pgbench", "-i", "-s", "1", "-h", "127.0.0.1", "-p",
                            str(int(e["PRIMARY_PORT"])), "-U", e["ADMIN_USER"], e["DATABASE"]],
                           check=True, capture_output=True, env=env, timeout=120)
            c = self.db.direct(int(e["PRIMARY_PORT"]))
            self.db.run(c, "GRANT ALL ON ALL TABLES IN SCHEMA public TO %s" % e["APP_USER"])
            c.close()
            time.sleep(2)
            env = dict(os.environ, PGPASSWORD=e["APP_PASSWORD"])
            cmd = ["pgbench", "-n", "-c", "8", "-j", "2", "-T", str(seconds), "-h", "127.0.0.1",
                   "-p", str(self.sluice.port), "-U", e["APP_USER"], e["DATABASE"]]
        bench = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 env=env)
        time.sleep(seconds / 3)
        t0 = time.monotonic()
        rows = self.admin("SWITCHOVER test")
        took = time.monotonic() - t0
        out, _ = bench.communicate(timeout=seconds + 120)
        print("switchover: %s (admin command took %.2f s)" % (rows[0][0], took))
        print(out[-1500:])
        self.assertEqual(bench.returncode, 0, out[-3000:])
        if self.KIND == "mariadb":
            self.assertRegex(out, r"reconnects:\s+0 ")
        else:
            self.assertRegex(out, r"number of failed transactions: 0 ")
        self.assertIn("writes paused for", rows[0][0])
        new = self.new_primary_port(old)
        self.assertIsNotNone(new, "no replica is primary after the switchover")
        self.assertFalse(self.db.is_primary(old))


class DiscoveryMixin:
    def test_add_replica(self):
        self.start_sluice()
        before = set(self.read_ports(20))
        out = cluster_sh("add-replica", self.dir)
        new_port = int(out.strip().split()[-1])
        added_at = time.monotonic()
        found = False
        while time.monotonic() - added_at < 2 * MONITOR_INTERVAL_MS / 1000.0 + 3 and not found:
            found = new_port in self.read_ports(20)
        print("discovery: new replica %d receives reads after %.2f s" %
              (new_port, time.monotonic() - added_at))
        self.assertNotIn(new_port, before)
        self.assertTrue(found, "the added replica received no reads")
        self.assertIn("SERVER_DISCOVERED", [e[0] for e in self.events()])


class PgDiscoveryTest(HealthCase):
    """A standby added while sluice runs, named application_name=host:port, is discovered
    through the primary's pg_stat_replication (no `discovery` list); stopped, it is drained
    and removed. No config change, no restart."""
    KIND = "postgres"

    def status_of(self, port):
        rows = self.admin("SELECT status FROM runtime_servers WHERE port=%d" % port)
        return rows[0][0] if rows else None

    def wait_status(self, port, want, timeout):
        """When (time.monotonic()) runtime_servers first shows PORT with status WANT (None:
        absent); None if not within TIMEOUT seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status_of(port) == want:
                return time.monotonic()
            time.sleep(0.02)
        return None

    @staticmethod
    def since(t, start):
        return None if t is None else t - start

    def server_events(self, port):
        return [e[0] for e in self.events() if e[1] == "127.0.0.1:%d" % port]

    def test_add_and_stop_standby(self):
        self.start_sluice()
        before = set(self.read_ports(20))
        out = cluster_sh("add-replica", self.dir)
        new_port = int(out.strip().split()[-1])
        # add-replica returns once the primary shows the standby streaming: caught up.
        caught_up = time.monotonic()
        interval = MONITOR_INTERVAL_MS / 1000.0
        listed = self.since(self.wait_status(new_port, "ONLINE", 2 * interval + 5), caught_up)
        first_read = None
        while first_read is None and time.monotonic() - caught_up < 2 * interval + 5:
            if new_port in self.read_ports(8):
                first_read = time.monotonic() - caught_up
        print("pg discovery: 127.0.0.1:%d ONLINE in runtime_servers %s s and first read within "
              "%s s after it was caught up" % (new_port, secs(listed), secs(first_read)))
        self.assertNotIn(new_port, before)
        self.assertIsNotNone(listed, self.admin("SELECT * FROM runtime_servers"))
        # Two monitor intervals, and a little for the admin poll on a busy machine.
        self.assertLess(listed, 2 * interval + 0.3)
        self.assertIsNotNone(first_read, "the discovered standby received no reads")
        # The same bound as the MariaDB test: reads are sampled in batches.
        self.assertLess(first_read, 2 * interval + 3)
        kinds = self.server_events(new_port)
        self.assertIn("SERVER_DISCOVERED", kinds)
        self.assertNotIn("SERVER_DRAINING", kinds, "drained while it was still there")
        self.assertTrue(self.sluice.alive())

        env = read_cluster_env(self.dir)
        node = [n for n in env["REPLICA_NAMES_LIST"] if int(env["NODE_%s_PORT" % n]) == new_port]
        cluster_sh("stop-node", self.dir, node[0])
        stopped = time.monotonic()
        drained = self.since(self.wait_status(new_port, "OFFLINE_SOFT", 5 * interval + 5),
                             stopped)
        removed = self.since(self.wait_status(new_port, None, 10 * interval + 10), stopped)
        print("pg discovery: stopped standby OFFLINE_SOFT after %s s, removed after %s s" %
              (secs(drained), secs(removed)))
        self.assertIsNotNone(drained, "the stopped standby was not set OFFLINE_SOFT")
        self.assertIsNotNone(removed, "the stopped standby was not removed")
        kinds = self.server_events(new_port)
        self.assertIn("SERVER_DRAINING", kinds)
        self.assertIn("SERVER_REMOVED", kinds)
        self.assertNotIn(new_port, self.read_ports(20))
        self.assertTrue(self.sluice.alive())


class MariadbFailoverTest(FailoverMixin, HealthCase):
    KIND = "mariadb"
    SYNC = True


class PgFailoverTest(FailoverMixin, HealthCase):
    KIND = "postgres"
    SYNC = True


class MariadbLagTest(LagMixin, HealthCase):
    KIND = "mariadb"


class PgLagTest(LagMixin, HealthCase):
    KIND = "postgres"


class MariadbReplicaKillTest(ReplicaKillMixin, HealthCase):
    KIND = "mariadb"


class MariadbSwitchoverTest(SwitchoverMixin, HealthCase):
    KIND = "mariadb"


class PgSwitchoverTest(SwitchoverMixin, HealthCase):
    KIND = "postgres"


class MariadbDiscoveryTest(DiscoveryMixin, HealthCase):
    KIND = "mariadb"


if __name__ == "__main__":
    SLUICE = sys.argv[1]
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
