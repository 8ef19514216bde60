#!/usr/bin/python3
"""Shadow-cluster mirroring (issue #15) and its report read back (issue #16), MariaDB.

A private cluster (a primary; the sbtest tables prepared on it), a shadow made with
`cluster.sh add-replica`, sluice with the shadow as a cluster without listen and a [[mirror]]
to it. Then, in one cluster's life (each step's own asserts):

1. MIRROR START forks the replica (writes held, the primary's position applied, the replica
   detached: its events), sysbench oltp_read_write, 8 threads, transactions and prepared statements,
   through sluice at exposure 1.0; MIRROR STOP; CHECKSUM TABLE of every sbtest table equal on
   the source primary and the shadow (polled with a deadline while the shadow drains);
   stats_mirror counts the sessions, none cut; MIRROR REPORT lists the sysbench digests with
   executions on both sides and no new errors.
2. exposure 0.5: 60 short sessions, about half mirrored (whole sessions, counted).
3. The shadow SIGSTOPped for 4 s under sysbench with a small queue: the queue fills, the
   sessions are cut (queue_full), production has 0 errors.
4. The shadow killed mid-run: production has 0 errors, sessions cut (shadow_down), sluice
   stays up; the shadow restarted, MIRROR START again: a new session is mirrored uncut.

Usage: mirror_test.py SLUICE_BINARY
Environment: SLUICE_CLUSTER_SCRIPT, SLUICE_SCRATCH_DIR.
"""
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import failover_test as ft  # noqa: E402
import ops_common  # noqa: E402
from ops_common import wait_until  # noqa: E402
from sluice_proc import free_port  # noqa: E402

# Sessions are replayed each in its own order, not in the source's commit order across
# sessions: two transactions that write one row may commit the other way round on the shadow
# (and a deadlock only the shadow hits rolls its transaction back there). 8 x 50,000 rows
# keep sysbench's 8 threads (uniform ids) clear of each other's rows in a short run.
TABLES = 8
TABLE_SIZE = 50000
# Deadlocks (1213) and lock waits (1205) are the database's answer to sysbench's own
# contention, with or without sluice: sysbench rolls the transaction back and goes on. Any
# other error fails the run.
DB_ERRORS = "1213,1205"


def shadow_cluster_toml(e, protocol, shadow_port, shadow_keys=()):
    """The shadow cluster "shadow": its one server, the add-replica node, as its primary."""
    return [
        "[[cluster]]", 'name = "shadow"', 'protocol = "%s"' % protocol, "writer_hostgroup = 10",
        "reader_hostgroup = 11", 'monitor_user = "%s"' % e["MONITOR_USER"],
        'monitor_password = "%s"' % e["MONITOR_PASSWORD"], "auto_failover = false"] + list(
        shadow_keys) + [
        "  [[cluster.server]]", '  host = "127.0.0.1"', "  port = %d" % shadow_port,
        '  role = "primary"', ""]


def mirror_toml(e, protocol, shadow_port, metrics_port, shadow_keys=()):
    """The shadow cluster, mirror m1 from "test" to it at exposure 1.0, and the metrics
    listener."""
    return "\n".join(shadow_cluster_toml(e, protocol, shadow_port, shadow_keys) + [
        "[[mirror]]", 'name = "m1"', 'source = "test"', 'shadow = "shadow"',
        # Bounds for a shadow on the same loaded machine: phase 1 must not cut a session.
        "exposure = 1.0", "min_samples = 20", "queue_statements = 200000",
        "queue_bytes = 134217728", "",
        "[metrics]", 'listen = "127.0.0.1:%d"' % metrics_port])


class MariadbMirrorTest(ft.HealthCase):
    KIND = "mariadb"
    REPLICAS = 0

    def sysbench(self, port, user, password, command, seconds=0, threads=8, extra=()):
        args = ["sysbench", "oltp_read_write", "--db-driver=mysql", "--mysql-host=127.0.0.1",
                "--mysql-port=%d" % port, "--mysql-user=" + user, "--mysql-password=" + password,
                "--mysql-db=" + self.env["DATABASE"], "--tables=%d" % TABLES,
                "--table_size=%d" % TABLE_SIZE, "--threads=%d" % threads,
                "--mysql-ignore-errors=" + DB_ERRORS, "--rand-type=uniform"]
        if seconds:
            args += ["--time=%d" % seconds, "--events=0", "--report-interval=0"]
        args += list(extra) + [command]
        return subprocess.run(args, capture_output=True, text=True, timeout=seconds + 120)

    def app_sysbench(self, seconds, **kw):
        e = self.env
        return self.sysbench(self.sluice.port, e["APP_USER"], e["APP_PASSWORD"], "run", seconds,
                             **kw)

    def checksums(self, port):
        c = self.db.direct(port)
        try:
            with c.cursor() as cur:
                cur.execute("CHECKSUM TABLE " + ", ".join("sbtest%d" % (i + 1)
                                                          for i in range(TABLES)))
                return tuple(r[1] for r in cur.fetchall())
        finally:
            c.close()

    def rows(self, port, table):
        c = self.db.direct(port)
        try:
            with c.cursor() as cur:
                cur.execute("SELECT id, CONCAT(k, ':', LEFT(c, 12)) FROM sbtest%d" % table)
                return cur.fetchall()
        finally:
            c.close()

    def mirror_stats(self):
        rows = self.admin("SELECT sessions, statements, cuts_queue_full, cuts_shadow_down, "
                          "cuts_other FROM stats_mirror WHERE mirror = 'm1'")
        return tuple(int(v) for v in rows[0]) if rows else (0, 0, 0, 0, 0)

    def short_sessions(self, n, sql):
        """N client sessions through sluice, each SELECT 1 and SQL."""
        for _ in range(n):
            c = self.db.app(self.sluice.port)
            self.db.one(c, "SELECT 1")
            self.db.one(c, sql)
            c.close()

    def fork_position(self):
        return self.admin("SELECT fork_position FROM stats_mirror WHERE mirror = 'm1'")[0][0]

    def settled_stats(self):
        """stats_mirror once two readings 1.2 s apart agree (workers hand over each second)."""
        last = [None]

        def same():
            now = self.mirror_stats()
            if now == last[0]:
                return now
            last[0] = now
            time.sleep(1.2)
            return None
        return wait_until("stats_mirror to settle", same, timeout=20)

    def test_mirror_traffic(self):
        e = self.env
        prep = self.sysbench(int(e["PRIMARY_PORT"]), e["ADMIN_USER"], e["ADMIN_PASSWORD"],
                             "prepare")
        self.assertEqual(prep.returncode, 0, prep.stdout + prep.stderr)
        shadow_port = int(ft.cluster_sh("add-replica", self.dir).strip().split()[-1])
        self.metrics_port = free_port()
        shadow_toml = mirror_toml(e, "mysql", shadow_port, self.metrics_port)
        self.start_sluice(replicas=False, extra_toml=shadow_toml,
                          cluster_options={"reader_fallback_to_writer": True})
        self.assertEqual(ops_common.http_get(self.metrics_port, "/health/live")[0], 200)

        # 1. MIRROR START forks the replica (hold, position, detach); sysbench at exposure
        # 1.0; the shadow ends with the source's tables.
        c = self.db.direct(shadow_port)
        self.assertEqual(self.db.one(c, "SELECT @@read_only"), 1)  # a replica until START
        c.close()
        started = self.admin("MIRROR START m1")[0][0]
        print("MIRROR START:", started)
        self.assertRegex(started, r"forked at \S+ .*mirroring is on")
        at = re.search(r"forked at (\S+) ", started).group(1)
        self.assertRegex(at, r"^\d+:\d+$")  # domain:sequence
        self.assertEqual(self.fork_position(), at)
        self.assertTrue(self.db.is_primary(shadow_port))  # detached: writable, not replicating
        fork_steps = [r[2] for r in self.events() if r[0] == "MIRROR_FORK"]
        self.assertEqual(len(fork_steps), 4, fork_steps)  # held, position, applied, detached
        run = self.app_sysbench(8)
        self.assertEqual(run.returncode, 0, run.stdout[-3000:] + run.stderr[-3000:])
        self.assertNotIn("FATAL", run.stdout + run.stderr)
        # A table only the source has: the shadow's error is an outcome, not a cut.
        c = self.db.direct(int(e["PRIMARY_PORT"]))
        self.db.run(c, "CREATE TABLE only_source (id INT PRIMARY KEY)")
        self.db.run(c, "GRANT SELECT ON %s.only_source TO '%s'@'%%'" % (e["DATABASE"], e["APP_USER"]))
        c.close()
        c = self.db.app(self.sluice.port)
        self.assertEqual(self.db.one(c, "SELECT COUNT(*) FROM only_source"), 0)
        c.close()
        self.admin("MIRROR STOP m1")
        source = self.checksums(int(e["PRIMARY_PORT"]))
        try:
            wait_until("the shadow's checksums equal to the source's %r" % (source,),
                       lambda: self.checksums(shadow_port) == source, timeout=60, step=0.5)
        except AssertionError:
            print("stats_mirror:", self.mirror_stats())
            print([(r[2], r[8], r[12]) for r in self.admin("MIRROR REPORT m1") if r[8] != "0"])
            print(self.admin("SELECT kind, message FROM stats_events WHERE kind LIKE 'MIRROR%'"))
            for i in range(TABLES):
                a = dict(self.rows(int(e["PRIMARY_PORT"]), i + 1))
                b = dict(self.rows(shadow_port, i + 1))
                diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                print("sbtest%d: %d rows differ, e.g. %s" % (i + 1, len(diff), [
                    (k, a.get(k), b.get(k)) for k in diff[:5]]))
            print(self.sluice.log_tail(40))
            raise
        sessions, statements, qfull, down, other = wait_until(
            "stats_mirror", lambda: self.mirror_stats()[0] >= 8 and self.mirror_stats(),
            timeout=10)
        print("exposure 1.0: sessions %d, statements %d, cuts %d/%d/%d" %
              (sessions, statements, qfull, down, other))
        self.assertEqual((qfull, down, other), (0, 0, 0))
        self.assertGreater(statements, 1000)
        def settled_report():
            rows = self.admin("MIRROR REPORT m1")
            src = sum(int(r[3]) for r in rows)
            return rows if rows and src == sum(int(r[4]) for r in rows) else None
        report = wait_until("every statement's shadow outcome in the report", settled_report,
                            timeout=15, step=0.5)
        self.assertGreater(len(report), 5)
        point = [r for r in report if r[2].startswith("SELECT c FROM sbtest")]
        self.assertTrue(point, [r[2] for r in report])
        for r in report:
            print("  %-18s %-28s src %6s shadow %6s new_errors %s  %s" %
                  (r[0], r[1], r[3], r[4], r[9], r[2][:60]))
            if "only_source" in r[2]:
                self.assertEqual((r[1], r[9]), ("new errors", "1"), r)
                self.assertIn("doesn't exist", r[12])  # the shadow's own error text
                continue
            self.assertEqual(r[9], "0", r)  # new_errors: the same workload, no schema change
            if r[0] != "other":
                self.assertEqual(r[3], r[4], r)  # every statement ran on both sides
        # The per-side latency histograms count the successful executions only, as the
        # report does: the shadow's only_source error is under outcome="error", not in them.
        metrics = ops_common.http_get(self.metrics_port, "/metrics")[1]

        def side(name, side, outcome=None):
            labels = 'mirror="m1",side="%s"' % side + (',outcome="%s"' % outcome if outcome else "")
            m = re.search(r'(?m)^%s\{%s\} (\S+)$' % (name, labels), metrics)
            self.assertIsNotNone(m, "%s{%s} in\n%s" % (name, labels, metrics[-3000:]))
            return float(m.group(1))
        self.assertGreaterEqual(side("sluice_mirror_outcomes_total", "shadow", "error"), 1)
        for s in ("source", "shadow"):
            self.assertEqual(side("sluice_mirror_latency_seconds_count", s),
                             side("sluice_mirror_outcomes_total", s, "ok"), s)

        # 2. exposure 0.5: about half of 60 sessions, each whole.
        self.admin("UPDATE mirrors SET exposure = 0.5, enabled = 1")
        self.admin("LOAD MIRROR TO RUNTIME")
        self.admin("SELECT * FROM stats_mirror_reset")
        self.short_sessions(60, "SELECT COUNT(*) FROM sbtest1")
        half = self.settled_stats()[0]
        print("exposure 0.5: %d of 60 sessions mirrored" % half)
        self.assertTrue(15 <= half <= 45, half)  # binomial(60, 0.5): outside is < 1e-4

        # 3. A shadow stopped for 4 s: the queue fills, sessions are cut, production goes on.
        self.admin("UPDATE mirrors SET exposure = 1.0, queue_statements = 50")
        self.admin("LOAD MIRROR TO RUNTIME")
        self.admin("SELECT * FROM stats_mirror_reset")
        with open(os.path.join(self.dir, "pids", "replica1.pid")) as f:
            shadow_pid = int(f.read())
        result = {}
        t = threading.Thread(target=lambda: result.update(run=self.app_sysbench(8)))
        t.start()
        time.sleep(2)
        os.kill(shadow_pid, signal.SIGSTOP)
        try:
            time.sleep(4)
        finally:
            os.kill(shadow_pid, signal.SIGCONT)
        t.join(180)
        run = result["run"]
        self.assertEqual(run.returncode, 0, run.stdout[-3000:] + run.stderr[-3000:])
        self.assertNotIn("FATAL", run.stdout + run.stderr)
        stats = self.settled_stats()
        print("stopped shadow: sessions %d, cuts queue_full %d" % (stats[0], stats[2]))
        self.assertGreaterEqual(stats[2], 1)

        # 4. The shadow killed mid-run: production has no errors, the sessions are cut.
        self.admin("UPDATE mirrors SET queue_statements = 200000")
        self.admin("LOAD MIRROR TO RUNTIME")
        self.admin("SELECT * FROM stats_mirror_reset")
        result = {}
        t = threading.Thread(target=lambda: result.update(run=self.app_sysbench(6)))
        t.start()
        time.sleep(2)
        ft.cluster_sh("kill-node", self.dir, "replica1")
        t.join(180)
        run = result["run"]
        self.assertEqual(run.returncode, 0, run.stdout[-3000:] + run.stderr[-3000:])
        self.assertNotIn("FATAL", run.stdout + run.stderr)
        stats = self.settled_stats()
        print("killed shadow: sessions %d, cuts shadow_down %d (all: %r)" % (stats[0], stats[3],
                                                                           stats))
        self.assertGreaterEqual(stats[3], 1)
        c = self.db.app(self.sluice.port)
        self.assertEqual(self.db.one(c, "SELECT 1"), 1)  # sluice is up
        c.close()
        ft.cluster_sh("start-node", self.dir, "replica1")
        self.admin("MIRROR STOP m1")
        # Not a replica any more: START only switches mirroring on.
        self.assertIn("independent: mirroring is on", self.admin("MIRROR START m1")[0][0])
        self.assertEqual(self.fork_position(), "")  # nothing forked by this START

        def mirrored_uncut():
            # Until the monitor sees the restarted shadow ONLINE a new session is cut at once.
            self.admin("SELECT * FROM stats_mirror_reset")
            c = self.db.app(self.sluice.port)
            self.db.one(c, "SELECT COUNT(*) FROM sbtest1")
            c.close()
            st = self.settled_stats()
            return st[1] >= 1 and st[2:] == (0, 0, 0)
        wait_until("a session mirrored uncut after the restart", mirrored_uncut, timeout=40,
                   step=0.5)
        # 5. The per-cluster metrics saw all of it (lifetime counters: the resets keep them).
        metrics = ops_common.http_get(self.metrics_port, "/metrics")[1]

        def metric(name, reason=None):
            labels = 'cluster="test",mirror="m1"' + (',reason="%s"' % reason if reason else "")
            m = re.search(r'(?m)^%s\{%s\} (\S+)$' % (name, labels), metrics)
            self.assertIsNotNone(m, "%s{%s} in\n%s" % (name, labels, metrics[-3000:]))
            return float(m.group(1))
        self.assertGreater(metric("sluice_mirror_statements_total"), 1000)
        # phase 1: 9 (sysbench and the only_source session), 2: 15 at least, 3 and 4: 8 each
        self.assertGreaterEqual(metric("sluice_mirror_sessions_total"), 9 + 15 + 8 + 8)
        self.assertGreaterEqual(metric("sluice_mirror_sessions_cut_total", "queue_full"), 1)
        self.assertGreaterEqual(metric("sluice_mirror_sessions_cut_total", "shadow_down"), 1)
        self.assertGreaterEqual(metric("sluice_mirror_shadow_errors_total"), 1)
        events = [r[0] for r in self.events()]
        self.assertIn("MIRROR_START", events)
        self.assertIn("MIRROR_STOP", events)



# pgbench's tables, each digested over its ordered rows; pgbench_history's mtime is each
# server's own now(), so its rows are digested without it.
PG_DIGESTS = {
    "pgbench_accounts": "aid || ':' || bid || ':' || abalance ORDER BY aid",
    "pgbench_tellers": "tid || ':' || bid || ':' || tbalance ORDER BY tid",
    "pgbench_branches": "bid || ':' || bbalance ORDER BY bid",
    "pgbench_history": "tid || ':' || bid || ':' || aid || ':' || delta "
                       "ORDER BY tid, bid, aid, delta",
    "mtest": "id || ':' || v ORDER BY id",
}


class PgMirrorTest(ft.HealthCase):
    """The same for PostgreSQL: the shadow a streaming standby (add-replica) promoted by
    MIRROR START; pgbench TPC-B -M prepared (named statements) and a psycopg2 client with SQL
    PREPARE/EXECUTE and COPY FROM STDIN mirrored; every table's digest equal; a shadow held by
    its own table lock fills the queue (the queue-bytes gauge, then queue_full); exposure 0.5
    mirrors about half the sessions, whole; mode reads replays the reads only; psql \\copy of a
    file over queue_bytes cuts the session (queue_full), the COPY whole; a killed shadow
    cuts the sessions (shadow_down), production has 0 errors."""
    KIND = "postgres"
    REPLICAS = 0

    def pgbench(self, port, user, password, *args, timeout=240):
        env = dict(os.environ, PGPASSWORD=password)
        return subprocess.run(["pgbench", "-h", "127.0.0.1", "-p", str(port), "-U", user] +
                              [str(a) for a in args] + [self.env["DATABASE"]], env=env,
                              capture_output=True, text=True, timeout=timeout)

    def app_pgbench(self, transactions, clients=4):
        e = self.env
        return self.pgbench(self.sluice.port, e["APP_USER"], e["APP_PASSWORD"], "-n", "-c",
                            clients, "-j", 2, "-t", transactions, "-M", "prepared")

    def assert_pgbench_ok(self, run, transactions, clients=4):
        out = run.stdout + run.stderr
        self.assertEqual(run.returncode, 0, out[-3000:])
        self.assertRegex(out, r"number of failed transactions: 0 ")
        self.assertIn("processed: %d/%d" % (transactions * clients, transactions * clients), out)
        return float(re.search(r"tps = ([0-9.]+)", out).group(1))

    def digests(self, port):
        c = self.db.direct(port)
        try:
            return {t: self.db.one(c, "SELECT md5(string_agg(%s)) FROM %s" % (
                expr.replace(" ORDER BY ", ", ',' ORDER BY "), t))
                for t, expr in PG_DIGESTS.items()}
        finally:
            c.close()

    mirror_stats = MariadbMirrorTest.mirror_stats
    fork_position = MariadbMirrorTest.fork_position
    short_sessions = MariadbMirrorTest.short_sessions
    settled_stats = MariadbMirrorTest.settled_stats

    def remirror(self, assignments):
        """UPDATE mirrors SET ASSIGNMENTS, to runtime, the report zeroed."""
        self.admin("UPDATE mirrors SET " + assignments)
        self.admin("LOAD MIRROR TO RUNTIME")
        self.admin("SELECT * FROM stats_mirror_reset")

    def count_on(self, port, where):
        c = self.db.direct(port)
        try:
            return self.db.one(c, "SELECT count(*) FROM mtest WHERE " + where)
        finally:
            c.close()

    def metric(self, name, reason=None):
        metrics = ops_common.http_get(self.metrics_port, "/metrics")[1]
        labels = 'cluster="test",mirror="m1"' + (',reason="%s"' % reason if reason else "")
        m = re.search(r'(?m)^%s\{%s\} (\S+)$' % (name, labels), metrics)
        self.assertIsNotNone(m, "%s{%s} in\n%s" % (name, labels, metrics[-3000:]))
        return float(m.group(1))

    def test_mirror_traffic(self):
        e = self.env
        primary = int(e["PRIMARY_PORT"])
        init = self.pgbench(primary, e["ADMIN_USER"], e["ADMIN_PASSWORD"], "-i", "-s", 1)
        self.assertEqual(init.returncode, 0, init.stderr)
        c = self.db.direct(primary)
        self.db.run(c, "CREATE TABLE mtest (id int PRIMARY KEY, v text)")
        self.db.run(c, "GRANT ALL ON ALL TABLES IN SCHEMA public TO %s" % e["APP_USER"])
        c.close()
        shadow_port = int(ft.cluster_sh("add-replica", self.dir).strip().split()[-1])
        self.metrics_port = free_port()
        # The fork promotes with the shadow's admin login; the standby must not be
        # discovered into it either.
        shadow_toml = mirror_toml(e, "postgresql", shadow_port, self.metrics_port, [
            'admin_user = "%s"' % e["ADMIN_USER"], 'admin_password = "%s"' % e["ADMIN_PASSWORD"],
            'discovery_allow = "192.0.2.1"'])
        # The standby must not join the source cluster as a reader (discovery).
        self.start_sluice(replicas=False, extra_toml=shadow_toml,
                          cluster_options={"reader_fallback_to_writer": True,
                                           "discovery_allow": "192.0.2.1"})

        # 0. The production path with mirroring off, then on (same run, same pgbench).
        tps_off = self.assert_pgbench_ok(self.app_pgbench(150), 150)

        # 1. MIRROR START promotes the standby at the source's recorded LSN.
        c = self.db.direct(shadow_port)
        self.assertIs(self.db.one(c, "SELECT pg_is_in_recovery()"), True)
        c.close()
        started = self.admin("MIRROR START m1")[0][0]
        print("MIRROR START:", started)
        self.assertRegex(started, r"forked at [0-9A-F]+/[0-9A-F]+ \(writes held meanwhile\): mirroring is on")
        self.assertTrue(self.db.is_primary(shadow_port))  # promoted: writable
        self.assertEqual(self.fork_position(),
                         re.search(r"forked at (\S+) ", started).group(1))  # the LSN
        fork_steps = [r[2] for r in self.events() if r[0] == "MIRROR_FORK"]
        self.assertEqual(len(fork_steps), 4, fork_steps)  # held, position, applied, detached
        self.assertEqual(self.digests(shadow_port), self.digests(primary))  # the fork point
        tps_on = self.assert_pgbench_ok(self.app_pgbench(150), 150)
        print("pgbench -c 4 -t 150 -M prepared through sluice: %.1f tps mirror off, %.1f tps "
              "mirror on (ratio %.2f)" % (tps_off, tps_on, tps_on / tps_off))
        # psycopg2: SQL PREPARE / EXECUTE (named, server-side), a transaction, COPY FROM STDIN.
        c = self.db.app(self.sluice.port)
        self.db.run(c, "PREPARE ins (int, text) AS INSERT INTO mtest VALUES ($1, $2)")
        for i in range(1, 21):
            self.db.run(c, "EXECUTE ins (%s, %s)", (i, "p%d" % i))
        c.autocommit = False
        with c.cursor() as cur:
            cur.execute("UPDATE mtest SET v = v || '-t' WHERE id <= 5")
            cur.execute("DELETE FROM mtest WHERE id = 20")
        c.commit()
        with c.cursor() as cur:
            cur.copy_expert("COPY mtest FROM STDIN", io.StringIO(
                "".join("%d\tc%d\n" % (i, i) for i in range(100, 150))))
        c.commit()
        c.autocommit = True
        self.db.run(c, "DEALLOCATE ins")
        c.close()
        self.admin("MIRROR STOP m1")
        source = self.digests(primary)
        try:
            wait_until("the shadow's table digests equal to the source's",
                       lambda: self.digests(shadow_port) == source, timeout=60, step=0.5)
        except AssertionError:
            print("source:", source, "\nshadow:", self.digests(shadow_port))
            print("stats_mirror:", self.mirror_stats())
            print(self.admin("SELECT kind, message FROM stats_events WHERE kind LIKE 'MIRROR%'"))
            print(self.sluice.log_tail(40))
            raise
        sessions, statements, qfull, down, other = self.settled_stats()
        print("exposure 1.0: sessions %d, statements %d, cuts %d/%d/%d" %
              (sessions, statements, qfull, down, other))
        self.assertGreaterEqual(sessions, 5)  # pgbench's 4 and the psycopg2 client
        self.assertEqual((qfull, down, other), (0, 0, 0))
        self.assertGreater(statements, 4 * 150 * 7)
        report = self.admin("MIRROR REPORT m1")
        for r in report:
            print("  %-18s %-28s src %6s shadow %6s new_errors %s  %s" %
                  (r[0], r[1], r[3], r[4], r[9], r[2][:60]))
            self.assertEqual(r[9], "0", r)  # the same workload, no schema change: no new errors
            if r[0] != "other":
                self.assertEqual(r[3], r[4], r)  # every statement ran on both sides
        self.assertTrue([r for r in report if r[2].startswith("UPDATE pgbench_accounts")], report)

        # 2. The shadow held by its own table lock: its queue grows (the gauge), fills and the
        # session is cut (queue_full); the client goes on unharmed.
        self.admin("UPDATE mirrors SET queue_statements = 30, enabled = 1")
        self.admin("LOAD MIRROR TO RUNTIME")
        self.admin("SELECT * FROM stats_mirror_reset")
        lock = self.db.direct(shadow_port)
        lock.autocommit = False
        self.db.run(lock, "LOCK TABLE mtest IN ACCESS EXCLUSIVE MODE")
        c = self.db.app(self.sluice.port)
        for i in range(200, 210):
            self.db.run(c, "INSERT INTO mtest VALUES (%s, 'q')", (i,))
        queued = wait_until("the queue-bytes gauge", lambda: self.metric(
            "sluice_mirror_queue_bytes") > 0 and self.metric("sluice_mirror_queue_bytes"),
            timeout=10, step=0.3)
        print("shadow locked: %d bytes queued" % queued)
        t0 = time.monotonic()
        for i in range(210, 260):
            self.db.run(c, "INSERT INTO mtest VALUES (%s, 'q')", (i,))
        took = time.monotonic() - t0
        self.assertEqual(self.db.one(c, "SELECT count(*) FROM mtest WHERE v = 'q'"), 60)
        c.close()
        stats = self.settled_stats()
        print("locked shadow: 50 inserts in %.2f s; sessions %d, cuts queue_full %d" %
              (took, stats[0], stats[2]))
        self.assertEqual(stats[2], 1)
        wait_until("the gauge back to 0 after the cut",
                   lambda: self.metric("sluice_mirror_queue_bytes") == 0, timeout=10, step=0.3)
        lock.rollback()
        lock.close()

        # 3. exposure 0.5: about half of 60 sessions mirrored, each whole (every mirrored
        # session's one count ran on both sides), none cut.
        self.remirror("exposure = 0.5, queue_statements = 200000")
        self.short_sessions(60, "SELECT count(*) FROM mtest WHERE id > 0")
        half, statements, qfull, down, other = self.settled_stats()
        print("exposure 0.5: %d of 60 sessions mirrored, %d statements" % (half, statements))
        self.assertTrue(15 <= half <= 45, half)  # binomial(60, 0.5): outside is < 1e-4
        self.assertEqual((qfull, down, other), (0, 0, 0))
        counts = [r for r in self.admin("MIRROR REPORT m1") if "FROM mtest WHERE id >" in r[2]]
        self.assertEqual(len(counts), 1, counts)
        self.assertEqual((int(counts[0][3]), int(counts[0][4])), (half, half), counts)

        # 4. mode = 'reads': the shadow gets the reads only. A row written through sluice is
        # not on the (promoted, no longer replicating) shadow; the read of it ran on both
        # sides, one row on the source, none on the shadow; the writes are not in the report.
        self.remirror("exposure = 1.0, mode = 'reads'")
        c = self.db.app(self.sluice.port)
        self.db.run(c, "INSERT INTO mtest VALUES (300, 'r')")
        self.db.run(c, "UPDATE mtest SET v = 'rr' WHERE id = 300")
        self.assertEqual(self.db.one(c, "SELECT v FROM mtest WHERE id = 300"), "rr")
        c.close()
        stats = self.settled_stats()
        print("mode reads: sessions %d, statements %d, cuts %r" % (stats[0], stats[1], stats[2:]))
        self.assertEqual((stats[0], stats[1], stats[2:]), (1, 1, (0, 0, 0)))
        digests = self.admin("SELECT digest_text, source_executions, shadow_executions, "
                             "source_rows_returned, shadow_rows_returned FROM "
                             "stats_mirror_digest WHERE mirror = 'm1'")
        self.assertEqual(len(digests), 1, digests)
        self.assertIn("SELECT v FROM mtest", digests[0][0])
        self.assertEqual(tuple(int(v) for v in digests[0][1:]), (1, 1, 1, 0), digests)
        self.assertEqual(self.count_on(shadow_port, "id = 300"), 0)

        # 5. psql \copy of a file larger than queue_bytes: the session's mirroring is cut
        # (queue_full) while the COPY lands on the source whole and the session goes on.
        self.remirror("mode = 'all', queue_bytes = 65536")
        big = os.path.join(self.dir, "big_copy.tsv")
        with open(big, "w") as f:
            f.write("".join("%d\tbig-%s\n" % (i, "x" * 60) for i in range(10000, 15000)))
        self.assertGreater(os.path.getsize(big), 4 * 65536)
        run = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
             str(self.sluice.port), "-U", e["APP_USER"], "-d", e["DATABASE"],
             "-c", "\\copy mtest FROM '%s'" % big,
             "-c", "SELECT count(*) FROM mtest WHERE v LIKE 'big-%'"],
            env=dict(os.environ, PGPASSWORD=e["APP_PASSWORD"]), capture_output=True, text=True,
            timeout=60)
        os.unlink(big)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertEqual(run.stdout.split(), ["5000"], run.stdout + run.stderr)
        stats = self.settled_stats()
        print("\\copy over queue_bytes: sessions %d, cuts %r" % (stats[0], stats[2:]))
        self.assertEqual((stats[0], stats[2:]), (1, (1, 0, 0)))
        self.assertEqual(self.count_on(shadow_port, "v LIKE 'big-%'"), 0)

        # 6. The shadow killed mid-run: production has no errors, the sessions are cut.
        self.remirror("queue_bytes = 134217728")
        result = {}
        # Long enough that sessions are still running when the kill lands: 400 transactions
        # ended before it on a quiet machine, and no session was left to cut.
        t = threading.Thread(target=lambda: result.update(run=self.app_pgbench(3000)))
        t.start()
        wait_until("pgbench mirrored", lambda: self.mirror_stats()[1] > 100, timeout=30,
                   step=0.2)
        ft.cluster_sh("kill-node", self.dir, "replica1")
        t.join(240)
        self.assert_pgbench_ok(result["run"], 3000)
        stats = self.settled_stats()
        print("killed shadow: sessions %d, cuts shadow_down %d (all: %r)" % (stats[0], stats[3],
                                                                           stats))
        self.assertGreaterEqual(stats[3], 1)
        self.assertTrue(self.sluice.alive())

        # 7. The per-cluster metrics counted PostgreSQL's mirror (lifetime counters).
        self.assertGreater(self.metric("sluice_mirror_statements_total"), 4 * 150 * 7)
        self.assertGreaterEqual(self.metric("sluice_mirror_sessions_total"), 5 + 1 + 15 + 1 + 1 + 4)
        self.assertGreaterEqual(self.metric("sluice_mirror_sessions_cut_total", "queue_full"), 1)
        self.assertGreaterEqual(self.metric("sluice_mirror_sessions_cut_total", "shadow_down"), 1)
        events = [r[0] for r in self.events()]
        self.assertIn("MIRROR_START", events)
        self.assertIn("MIRROR_STOP", events)


if __name__ == "__main__":
    ft.SLUICE = sys.argv[1]
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
