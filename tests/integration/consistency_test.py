#!/usr/bin/python3
"""Causal reads by position (issue #21) against the MariaDB harness cluster.

A libmariadb client (the mariadb CLI, which asks for session tracking) writes a row and
reads it back, 1,000 times, through a sluice with consistency = "session":
  - replicas not delayed: 0 misses, most reads served by the replicas (counted on the
    servers: USER_STATISTICS of the app user);
  - replicas delayed 2 s (MASTER_DELAY): 0 misses and the reads run on the primary; with a
    wait bound above the delay, they wait on the replica instead;
  - the same delayed loop with the old read_your_writes_ms = 100 window misses.
sluice's stats_consistency table and /metrics count each case. Usage:
    consistency_test.py SLUICE_BINARY [TestClass[.test_method] ...]
The PostgreSQL class does the delayed half with recovery_min_apply_delay. Environment:
SLUICE_MARIADB_CLUSTER_DIR, SLUICE_PG_CLUSTER_DIR.
"""
import os
import re
import subprocess
import sys
import time
import unittest
import urllib.request

import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sluice_proc import Sluice, admin_query, free_port, read_cluster_env  # noqa: E402

SLUICE = None
ENV = None
LOOPS = 1000


def env():
    global ENV
    if ENV is None:
        ENV = read_cluster_env(os.environ["SLUICE_MARIADB_CLUSTER_DIR"])
    return ENV


def root(port):
    e = env()
    return pymysql.connect(host="127.0.0.1", port=port, user=e["ADMIN_USER"],
                           password=e["ADMIN_PASSWORD"], connect_timeout=10, read_timeout=60,
                           autocommit=True)


def one(port, sql, args=None):
    with root(port) as c, c.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def selects(port):
    rows = one(port, "SELECT SELECT_COMMANDS FROM information_schema.USER_STATISTICS "
                     "WHERE USER = %s", (env()["APP_USER"],))
    return rows[0][0] if rows else 0


def set_delay(seconds):
    for port in env()["REPLICA_PORTS_LIST"]:
        with root(port) as c, c.cursor() as cur:
            cur.execute("STOP SLAVE")
            cur.execute("CHANGE MASTER TO MASTER_DELAY = %d" % seconds)
            cur.execute("START SLAVE")


def wait_replicated(timeout=30):
    pos = one(int(env()["PRIMARY_PORT"]), "SELECT @@gtid_binlog_pos")[0][0]
    for port in env()["REPLICA_PORTS_LIST"]:
        got = one(port, "SELECT MASTER_GTID_WAIT(%s, %s)", (pos, timeout))[0][0]
        if got != 0:
            raise AssertionError("replica %d did not reach %s in %ds" % (port, pos, timeout))


class CausalReadsMariadb(unittest.TestCase):
    table = "causal_rw"

    @classmethod
    def setUpClass(cls):
        e = env()
        with root(int(e["PRIMARY_PORT"])) as c, c.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS %s.%s (id INT PRIMARY KEY, v INT)"
                        % (e["DATABASE"], cls.table))
            cur.execute("TRUNCATE TABLE %s.%s" % (e["DATABASE"], cls.table))
            cur.execute("SET GLOBAL userstat = 1")
            for port in e["REPLICA_PORTS_LIST"]:
                one(port, "SET GLOBAL userstat = 1")
        wait_replicated()

    def tearDown(self):
        set_delay(0)
        wait_replicated()

    def run_loop(self, sluice, loops, first_id, pause=False):
        """LOOPS x (INSERT a row; SELECT it back) in one mariadb CLI session; the misses.

        pause: 150 ms between the two (a SELECT SLEEP, a read).
        """
        e = env()
        script = []
        for i in range(first_id, first_id + loops):
            script.append("INSERT INTO %s VALUES (%d, %d);" % (self.table, i, i))
            if pause is True:
                script.append("SELECT SLEEP(0.15);")
            elif pause:
                script.append("system sleep %s" % pause)  # the CLI's own pause: no statement
            script.append("SELECT CONCAT('row ', COUNT(*)) FROM %s WHERE id = %d;"
                          % (self.table, i))
        out = subprocess.run(
            ["mariadb", "-h", "127.0.0.1", "-P", str(sluice.port), "-u", e["APP_USER"],
             "-p" + e["APP_PASSWORD"], "-D", e["DATABASE"], "-N", "-B", "--skip-ssl"],
            input="\n".join(script) + "\n", capture_output=True, text=True, timeout=600)
        self.assertEqual(out.returncode, 0, out.stderr)
        rows = re.findall(r"^row (\d)$", out.stdout, re.M)
        self.assertEqual(len(rows), loops, out.stdout[-500:])
        return rows.count("0")

    def counted(self, sluice, loops, first_id, pause=False):
        e = env()
        primary = int(e["PRIMARY_PORT"])
        replicas = e["REPLICA_PORTS_LIST"]
        before = (selects(primary), sum(selects(p) for p in replicas))
        misses = self.run_loop(sluice, loops, first_id, pause)
        after = (selects(primary), sum(selects(p) for p in replicas))
        return misses, after[0] - before[0], after[1] - before[1]

    def stats(self, sluice, reads):
        """stats_consistency once it counts READS reads (workers hand over once a second)."""
        deadline = time.monotonic() + 10
        while True:
            st = self.stats_now(sluice)
            if st["replica"] + st["kept"] >= reads or time.monotonic() > deadline:
                time.sleep(1.2)  # one more hand-over: nothing further is on its way
                return self.stats_now(sluice)
            time.sleep(0.2)

    def stats_now(self, sluice):
        rows = admin_query(sluice.admin_port, sluice.admin_password,
                           "SELECT reads_replica, reads_kept_primary, waits, wait_timeouts, "
                           "wait_time_us, reads_by_position FROM stats_consistency "
                           "WHERE cluster = 'test'")
        return dict(zip(("replica", "kept", "waits", "timeouts", "wait_us", "by_position"),
                        (int(v) for v in rows[0])))

    def metric(self, port, name):
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read()
        m = re.search(r'^%s\{cluster="test"\} (\S+)$' % name, body.decode(), re.M)
        self.assertIsNotNone(m, name)
        return float(m.group(1))

    def sluice(self, **opts):
        metrics = free_port()
        rw_ms = opts.pop("read_your_writes_ms", 0)
        s = Sluice(SLUICE, env(), cluster_options=opts, read_your_writes_ms=rw_ms,
                   extra_toml='[metrics]\nlisten = "127.0.0.1:%d"' % metrics)
        s.metrics_port = metrics
        return s

    def test_session_not_delayed_reads_on_replicas(self):
        with self.sluice(consistency="session", consistency_wait_ms=500) as s:
            misses, on_primary, on_replicas = self.counted(s, LOOPS, 1_000_000)
            self.assertEqual(misses, 0)
            self.assertLess(on_primary, LOOPS // 2, "most reads must run on the replicas")
            st = self.stats(s, LOOPS)
            # A read on a replica is preceded by its MASTER_GTID_WAIT (a SELECT too) unless
            # the monitor's position covered it (by_position). (-1, +1: the CLI's own query at
            # connect, before any write, which the server does not count as a SELECT.)
            self.assertGreaterEqual(on_replicas,
                                    st["replica"] + st["waits"] - st["timeouts"] - 1)
            self.assertIn(st["replica"] + st["kept"], (LOOPS, LOOPS + 1))
            self.assertGreater(st["replica"], LOOPS // 2)
            self.assertEqual(st["kept"], st["timeouts"])
            self.assertGreaterEqual(st["waits"] + st["by_position"], LOOPS)
            self.assertEqual(self.metric(s.metrics_port,
                                         "sluice_consistency_reads_replica_total"),
                             st["replica"])
            self.assertEqual(self.metric(s.metrics_port, "sluice_consistency_waits_total"),
                             st["waits"])

    def test_session_delayed_reads_on_primary(self):
        set_delay(2)
        with self.sluice(consistency="session", consistency_wait_ms=0) as s:
            misses, on_primary, _ = self.counted(s, LOOPS, 2_000_000)
            self.assertEqual(misses, 0)
            self.assertGreaterEqual(on_primary, LOOPS)
            st = self.stats(s, LOOPS)
            self.assertEqual(st["kept"], LOOPS)
            self.assertEqual(st["timeouts"], LOOPS)
            self.assertLessEqual(st["replica"], 1)
            self.assertEqual(self.metric(s.metrics_port,
                                         "sluice_consistency_reads_kept_primary_total"), LOOPS)
            self.assertEqual(self.metric(s.metrics_port,
                                         "sluice_consistency_wait_timeouts_total"), LOOPS)

    def test_session_delayed_waits_when_configured(self):
        set_delay(2)
        loops = 3
        with self.sluice(consistency="session", consistency_wait_ms=5000) as s:
            misses, on_primary, _ = self.counted(s, loops, 3_000_000)
            self.assertEqual(misses, 0)
            self.assertEqual(on_primary, 0)
            st = self.stats(s, loops)
            self.assertEqual((st["waits"], st["timeouts"], st["kept"]), (loops, 0, 0))
            self.assertGreater(st["wait_us"], loops * 1_000_000)  # each waited out the delay
            self.assertGreater(self.metric(s.metrics_port,
                                           "sluice_consistency_wait_seconds_total"), loops)

    def cli(self, sluice, script):
        e = env()
        out = subprocess.run(
            ["mariadb", "-h", "127.0.0.1", "-P", str(sluice.port), "-u", e["APP_USER"],
             "-p" + e["APP_PASSWORD"], "-D", e["DATABASE"], "-N", "-B", "--skip-ssl"],
            input=script, capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def other_client_reads(self, mode, first_id):
        """One client writes 20 rows, then another reads them (replicas 2 s behind): misses."""
        set_delay(2)
        with self.sluice(consistency=mode) as s:
            self.cli(s, "".join("INSERT INTO %s VALUES (%d, 0);\n" % (self.table, i)
                                for i in range(first_id, first_id + 20)))
            out = self.cli(s, "".join(
                "SELECT CONCAT('row ', COUNT(*)) FROM %s WHERE id = %d;\n" % (self.table, i)
                for i in range(first_id, first_id + 20)))
            rows = re.findall(r"^row (\d)$", out, re.M)
            self.assertEqual(len(rows), 20)
            return rows.count("0"), self.stats(s, 20)

    def test_global_reads_every_acknowledged_write(self):
        misses, st = self.other_client_reads("global", 5_000_000)
        self.assertEqual(misses, 0)
        self.assertGreaterEqual(st["kept"], 20)
        # "session" protects only a client's own writes: the other client misses.
        misses, _ = self.other_client_reads("session", 5_100_000)
        self.assertGreater(misses, 0)

    def test_monitor_position_skips_the_check(self):
        # Reads 300 ms after the write: the monitor has read the replicas' positions since
        # (every 50 ms), so a read needs no MASTER_GTID_WAIT on the replica.
        loops = 10
        with self.sluice(consistency="session", monitor_position_interval_ms=50) as s:
            misses, on_primary, _ = self.counted(s, loops, 6_000_000, pause=0.3)
            self.assertEqual(misses, 0)
            st = self.stats(s, loops)
            self.assertGreaterEqual(st["by_position"], loops)
            self.assertEqual(st["waits"], 0)
            self.assertEqual(self.metric(s.metrics_port,
                                         "sluice_consistency_reads_by_position_total"),
                             st["by_position"])

    def test_session_sets_are_not_writes(self):
        # With the old window open for a minute, a session that only SETs keeps its reads
        # on the replicas: a SET changes no data (it counted as a write before). Counted on
        # the primary: none of the app user's SELECTs run there.
        e = env()
        primary = int(e["PRIMARY_PORT"])
        script = "SET SESSION sql_mode = 'ANSI';\nSET NAMES utf8mb4;\n" + \
            "SELECT CONCAT('row ', COUNT(*)) FROM %s;\n" % self.table * 20
        with self.sluice(read_your_writes_ms=60000) as s:
            before = selects(primary)
            out = subprocess.run(
                ["mariadb", "-h", "127.0.0.1", "-P", str(s.port), "-u", e["APP_USER"],
                 "-p" + e["APP_PASSWORD"], "-D", e["DATABASE"], "-N", "-B", "--skip-ssl"],
                input=script, capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(selects(primary) - before, 0)

    def test_old_time_window_misses(self):
        # Reads 150 ms after the write: the 100 ms window has closed, the replicas lag 2 s.
        set_delay(2)
        with self.sluice(read_your_writes_ms=100) as s:
            misses, _, _ = self.counted(s, 20, 4_000_000, pause=True)
            self.assertGreater(misses, 0, "a 100 ms window must miss behind a 2 s delay")
        with self.sluice(consistency="session") as s:  # the same loop by position
            misses, _, _ = self.counted(s, 20, 4_100_000, pause=True)
            self.assertEqual(misses, 0)


def pg_env():
    return read_cluster_env(os.environ["SLUICE_PG_CLUSTER_DIR"])


class CausalReadsPostgres(unittest.TestCase):
    """Write-then-read loops through sluice on the PostgreSQL cluster, standbys delayed
    (recovery_min_apply_delay) or not: the write's LSN is read on its own connection after
    the commit (pg_current_wal_lsn()), a read goes to a standby that replayed it.

    Reads are counted on the servers: every read scans the test table once, and each
    server's pg_stat_user_tables counts the scans it ran (standbys count their own).
    """
    table = "causal_rw"

    @classmethod
    def setUpClass(cls):
        cls.env = pg_env()
        with cls.direct(int(cls.env["PRIMARY_PORT"])) as c, c.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS %s (id INT PRIMARY KEY, v INT)" % cls.table)
            cur.execute("TRUNCATE TABLE %s" % cls.table)
            cur.execute("GRANT ALL ON %s TO %s" % (cls.table, cls.env["APP_USER"]))

    @classmethod
    def direct(cls, port):
        import psycopg2
        c = psycopg2.connect(host=cls.env["SOCKET_DIR"], port=port, user="postgres",
                             dbname=cls.env["DATABASE"])
        c.autocommit = True
        return c

    def set_delay(self, value):
        for port in self.env["REPLICA_PORTS_LIST"]:
            c = self.direct(port)
            with c.cursor() as cur:
                cur.execute("ALTER SYSTEM SET recovery_min_apply_delay = '%s'" % value)
                cur.execute("SELECT pg_reload_conf()")
            c.close()

    def tearDown(self):
        self.set_delay("0")

    def scans(self, port):
        c = self.direct(port)
        try:
            with c.cursor() as cur:
                cur.execute("SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) "
                            "FROM pg_stat_user_tables WHERE relname = %s", (self.table,))
                row = cur.fetchone()
                return int(row[0]) if row else 0
        finally:
            c.close()

    def all_scans(self):
        return (self.scans(int(self.env["PRIMARY_PORT"])),
                sum(self.scans(p) for p in self.env["REPLICA_PORTS_LIST"]))

    def counted(self, run, reads):
        """Runs run() (returns the misses); the scans it made on the primary and replicas.

        Servers report their statistics at most once a second, so the counts are polled
        (deadline 15 s) until they add up to the reads the loop made.
        """
        before = self.all_scans()
        misses = run()
        deadline = time.monotonic() + 15
        while True:
            after = self.all_scans()
            primary, replicas = after[0] - before[0], after[1] - before[1]
            if primary + replicas >= reads or time.monotonic() > deadline:
                return misses, primary, replicas
            time.sleep(0.3)

    def loop(self, sluice, loops, first_id, pause=False):
        """As CausalReadsMariadb.run_loop, through psql (libpq); the pause is psql's own
        (\\! sleep): a SELECT pg_sleep() counts as a write (a function call).
        """
        e = self.env
        script = "".join(
            "INSERT INTO %s VALUES (%d, %d);\n%sSELECT 'row ' || COUNT(*) FROM %s WHERE id = %d;\n"
            % (self.table, i, i, "\\! sleep %s\n" % pause if pause else "", self.table, i)
            for i in range(first_id, first_id + loops))
        out = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(sluice.port), "-U", e["APP_USER"], "-d",
             e["DATABASE"], "-X", "-At", "-v", "ON_ERROR_STOP=1"],
            input=script, env=dict(os.environ, PGPASSWORD=e["APP_PASSWORD"]),
            capture_output=True, text=True, timeout=600)
        self.assertEqual(out.returncode, 0, out.stderr)
        rows = re.findall(r"^row (\d)$", out.stdout, re.M)
        self.assertEqual(len(rows), loops, out.stdout[-500:])
        return rows.count("0")

    def psycopg2_loop(self, sluice, loops, first_id):
        """The same loop through psycopg2 (libpq), autocommit."""
        import psycopg2
        e = self.env
        c = psycopg2.connect(host="127.0.0.1", port=sluice.port, user=e["APP_USER"],
                             password=e["APP_PASSWORD"], dbname=e["DATABASE"], connect_timeout=10)
        c.autocommit = True
        misses = 0
        try:
            with c.cursor() as cur:
                for i in range(first_id, first_id + loops):
                    cur.execute("INSERT INTO " + self.table + " VALUES (%s, %s)", (i, i))
                    cur.execute("SELECT COUNT(*) FROM " + self.table + " WHERE id = %s", (i,))
                    misses += cur.fetchone()[0] == 0
        finally:
            c.close()
        return misses

    def sluice(self, **opts):
        metrics = free_port()
        rw_ms = opts.pop("read_your_writes_ms", 0)
        # A delayed standby's measured lag is its last replay's age, which grows on a quiet
        # cluster: max_lag_ms must not take the standbys out of reads.
        s = Sluice(SLUICE, self.env, cluster_options=opts, read_your_writes_ms=rw_ms,
                   replica_max_lag_ms=3_600_000,
                   extra_toml='[metrics]\nlisten = "127.0.0.1:%d"' % metrics)
        s.metrics_port = metrics
        return s

    def stats(self, sluice, reads):
        return CausalReadsMariadb.stats(self, sluice, reads)

    def stats_now(self, sluice):
        return CausalReadsMariadb.stats_now(self, sluice)

    def metric(self, port, name):
        return CausalReadsMariadb.metric(self, port, name)

    def check_not_delayed(self, run, first_id):
        with self.sluice(consistency="session", consistency_wait_ms=500) as s:
            misses, on_primary, on_replicas = self.counted(lambda: run(s, LOOPS, first_id), LOOPS)
            self.assertEqual(misses, 0)
            self.assertLess(on_primary, LOOPS // 2, "most reads must run on the standbys")
            self.assertGreater(on_replicas, LOOPS // 2)
            st = self.stats(s, LOOPS)
            self.assertEqual(st["replica"] + st["kept"], LOOPS)
            self.assertEqual(st["replica"], on_replicas)
            self.assertEqual(st["kept"], on_primary)
            self.assertEqual(st["kept"], st["timeouts"])
            self.assertGreater(st["waits"], 0)
            self.assertEqual(self.metric(s.metrics_port,
                                         "sluice_consistency_reads_replica_total"),
                             st["replica"])
            self.assertEqual(self.metric(s.metrics_port, "sluice_consistency_waits_total"),
                             st["waits"])

    def test_session_not_delayed_reads_on_replicas_psql(self):
        self.check_not_delayed(self.loop, 3_000_000)

    def test_session_not_delayed_reads_on_replicas_psycopg2(self):
        self.check_not_delayed(self.psycopg2_loop, 3_100_000)

    def test_session_delayed_reads_on_primary(self):
        self.set_delay("2s")
        with self.sluice(consistency="session") as s:
            misses, on_primary, on_replicas = self.counted(
                lambda: self.loop(s, LOOPS, 1_000_000), LOOPS)
            self.assertEqual(misses, 0)
            self.assertEqual((on_primary, on_replicas), (LOOPS, 0))
            st = self.stats(s, LOOPS)
            self.assertEqual(st["kept"], LOOPS)
            self.assertEqual(st["timeouts"], LOOPS)
            self.assertEqual(st["replica"], 0)
            self.assertEqual(self.metric(s.metrics_port,
                                         "sluice_consistency_wait_timeouts_total"), LOOPS)

    def test_session_delayed_waits_when_configured(self):
        self.set_delay("2s")
        loops = 3
        with self.sluice(consistency="session", consistency_wait_ms=5000) as s:
            misses, on_primary, on_replicas = self.counted(
                lambda: self.loop(s, loops, 1_100_000), loops)
            self.assertEqual(misses, 0)
            self.assertEqual((on_primary, on_replicas), (0, loops))
            st = self.stats(s, loops)
            self.assertEqual((st["waits"], st["timeouts"], st["kept"]), (loops, 0, 0))
            self.assertGreater(st["wait_us"], loops * 1_500_000)  # each waited out the delay
            self.assertGreater(self.metric(s.metrics_port,
                                           "sluice_consistency_wait_seconds_total"), loops * 1.5)

    def test_monitor_position_skips_the_check(self):
        # Reads 300 ms after the write: the monitor has read the standbys' positions since
        # (every 100 ms), so a read on a standby needs no check there.
        loops = 10
        with self.sluice(consistency="session", monitor_position_interval_ms=50) as s:
            misses, _, on_replicas = self.counted(
                lambda: self.loop(s, loops, 1_200_000, pause=0.3), loops)
            self.assertEqual(misses, 0)
            self.assertEqual(on_replicas, loops)
            st = self.stats(s, loops)
            self.assertEqual(st["by_position"], loops)
            self.assertEqual(st["waits"], 0)
            self.assertEqual(self.metric(s.metrics_port,
                                         "sluice_consistency_reads_by_position_total"), loops)

    def test_global_reads_every_acknowledged_write(self):
        self.set_delay("2s")

        def other_client_reads(mode, first_id):
            with self.sluice(consistency=mode) as s:
                self.loop_writes(s, first_id, 20)
                script = "".join("SELECT 'row ' || COUNT(*) FROM %s WHERE id = %d;\n"
                                 % (self.table, i) for i in range(first_id, first_id + 20))
                out = self.psql(s, script)
                rows = re.findall(r"^row (\d)$", out, re.M)
                self.assertEqual(len(rows), 20)
                return rows.count("0")

        self.assertEqual(other_client_reads("global", 1_300_000), 0)
        # "session" protects only a client's own writes: the other client misses.
        self.assertGreater(other_client_reads("session", 1_400_000), 0)

    def psql(self, sluice, script):
        e = self.env
        out = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(sluice.port), "-U", e["APP_USER"], "-d",
             e["DATABASE"], "-X", "-At", "-v", "ON_ERROR_STOP=1"],
            input=script, env=dict(os.environ, PGPASSWORD=e["APP_PASSWORD"]),
            capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def loop_writes(self, sluice, first_id, n):
        self.psql(sluice, "".join("INSERT INTO %s VALUES (%d, 0);\n" % (self.table, i)
                                  for i in range(first_id, first_id + n)))

    def test_old_time_window_misses(self):
        self.set_delay("2s")
        with self.sluice(read_your_writes_ms=100) as s:
            self.assertGreater(self.loop(s, 20, 2_000_000, pause=0.15), 0,
                               "a 100 ms window must miss behind a 2 s delay")
        with self.sluice(consistency="session") as s:
            self.assertEqual(self.loop(s, 20, 2_100_000, pause=0.15), 0)


if __name__ == "__main__":
    SLUICE = sys.argv[1]
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
