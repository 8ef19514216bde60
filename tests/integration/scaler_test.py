#!/usr/bin/python3
"""Workload-driven scale-out and scale-in of the reader side, against real clusters.

A read load through sluice above scale_out_reads_per_replica makes sluice run a
scale_out_command that calls `tests/cluster/cluster.sh add-replica`; the new replica is
discovered and its share of reads (MariaDB: counted on the replicas themselves, Com_select;
PostgreSQL: sluice's stats_servers, see reads_on) starts small and ramps up to a third. When the load
stops, sluice drains the discovered replica, runs the scale_in_command (cluster.sh stop-node)
and removes the node. Every step is in stats_events. Windows are seconds long here.

Usage: scaler_test.py SLUICE_BINARY [TestClass ...]
Environment: SLUICE_CLUSTER_SCRIPT, SLUICE_SCRATCH_DIR (as failover_test.py).
"""
import os
import re
import stat
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import failover_test as ft  # noqa: E402

RAMP_MS = 8000
OUT_THRESHOLD = 100  # reads per second per replica
IN_THRESHOLD = 10


class ScalerCase(ft.HealthCase):
    def write_script(self, name, body):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("#!/bin/sh\nset -e\n" + body)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
        return path

    def reads_on(self, port):
        """Statements the replica took. MariaDB: counted by the replica itself (Com_select,
        its own probe included). PostgreSQL: a busy backend's pg_stat_database counters reach
        shared memory only now and then (seen: 2 commits in 2 s under 1000 reads/s), so
        sluice's own per-server count (stats_servers.queries) is read instead."""
        if self.KIND == "postgres":
            rows = self.admin("SELECT queries FROM stats_servers WHERE server = '127.0.0.1:%d'"
                              % port)
            return int(rows[0][0]) if rows else 0
        c = self.db.direct(port, timeout=3)
        try:
            with c.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS LIKE 'Com_select'")
                return int(cur.fetchone()[1])
        finally:
            c.close()

    def shares(self, ports, seconds):
        """Each replica's share of the reads over SECONDS, counted on the replicas."""
        before = {p: self.reads_on(p) for p in ports}
        time.sleep(seconds)
        delta = {p: self.reads_on(p) - before[p] for p in ports}
        total = sum(delta.values()) or 1
        return {p: delta[p] / total for p in ports}, delta

    def wait_event(self, kind, timeout, server=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events():
                if e[0] == kind and (server is None or e[1] == server):
                    return e
            time.sleep(0.1)
        self.fail("no %s event%s within %.0f s: %s" % (
            kind, "" if server is None else " for " + server, timeout, self.events()))

    def test_scale_out_ramp_and_scale_in(self):
        script = ft.CLUSTER_SCRIPT
        out_cmd = self.write_script("scale_out.sh", (
            'echo "$@" >> "%(dir)s/scale_out.args"\n'
            'exec bash "%(script)s" add-replica "%(dir)s"\n') % {"dir": self.dir, "script": script})
        in_cmd = self.write_script("scale_in.sh", (
            'echo "$@" >> "%(dir)s/scale_in.args"\n'
            'port=${4##*:}\n'
            'name=$(sed -n "s/^NODE_\\(.*\\)_PORT=$port\\$/\\1/p" "%(dir)s/cluster.env")\n'
            'exec bash "%(script)s" stop-node "%(dir)s" "$name"\n') %
            {"dir": self.dir, "script": script})
        self.start_sluice(cluster_options={
            "scale_out_command": out_cmd, "scale_in_command": in_cmd,
            "scale_out_reads_per_replica": OUT_THRESHOLD,
            "scale_in_reads_per_replica": IN_THRESHOLD,
            "scale_out_window_ms": 2000, "scale_in_window_ms": 4000, "scale_cooldown_ms": 3000,
            "scale_command_timeout_ms": 120000, "min_replicas": 2, "max_replicas": 3,
            "replica_ramp_ms": RAMP_MS})
        old_ports = self.env["REPLICA_PORTS_LIST"]

        stop = threading.Event()
        counts = [0]
        errors = []

        read_sql = "SELECT 1"

        def reader():
            conn = self.db.app(self.sluice.port)
            deadline = time.monotonic() + 150
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    self.db.one(conn, read_sql)
                    counts[0] += 1
                except Exception as ex:  # noqa: BLE001 -- counted, asserted below
                    errors.append(str(ex))
                    conn = self.db.app(self.sluice.port)
            conn.close()

        threads = [threading.Thread(target=reader) for _ in range(4)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        try:
            out = self.wait_event("SCALE_OUT", 30)
            print("%s: SCALE_OUT after %.1f s of load: %s" % (self.KIND, time.monotonic() - t0,
                                                              out[2]))
            self.assertRegex(out[2], r"reads per replica \d+/s > %d" % OUT_THRESHOLD)
            done = self.wait_event("SCALE_OUT_DONE", 150)
            new_port = int(done[2].strip().split()[-1])  # add-replica prints the port
            self.assertNotIn(new_port, old_ports)
            with open(os.path.join(self.dir, "scale_out.args")) as f:
                args = f.read().split()
            self.assertEqual(args[:2], ["test", "replica"])
            name = "127.0.0.1:%d" % new_port
            self.wait_event("SERVER_DISCOVERED", 20, server=name)
            ports = old_ports + [new_port]
            early, early_n = self.shares(ports, 1.5)
            self.wait_event("SERVER_RAMPED", RAMP_MS / 1000.0 + 10, server=name)
            late, late_n = self.shares(ports, 2.0)
            print("%s: new replica %d share of reads: %.2f in the first 1.5 s (%s), %.2f after "
                  "the ramp (%s)" % (self.KIND, new_port, early[new_port], early_n,
                                     late[new_port], late_n))
            self.assertLess(early[new_port], 0.2, "the joining replica got its full share at once")
            self.assertGreater(late[new_port], 0.2, "the ramped replica does not get its share")
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertGreater(counts[0], 0)
        self.assertEqual(errors, [], errors[:5])

        # The load is gone: the discovered replica is drained, the scale_in_command runs with
        # it, and the node is removed.
        t1 = time.monotonic()
        scale_in = self.wait_event("SCALE_IN", 30, server=name)
        t_in = time.monotonic() - t1
        self.assertRegex(scale_in[2], r"reads per replica \d+/s < %d" % IN_THRESHOLD)
        self.wait_event("SCALE_IN_DONE", 60, server=name)
        with open(os.path.join(self.dir, "scale_in.args")) as f:
            args = f.read().split()
        self.assertEqual(args[:2], ["test", "replica"])
        self.assertEqual(args[-1], name)
        self.wait_event("SERVER_REMOVED", 30, server=name)
        print("%s: scale-in: SCALE_IN %.1f s after the load stopped, node removed after %.1f s"
              % (self.KIND, t_in, time.monotonic() - t1))
        rows = self.admin("SELECT port FROM runtime_servers")
        self.assertNotIn(str(new_port), [str(r[0]) for r in rows])
        self.assertEqual(self.db.one(self.db.app(self.sluice.port), "SELECT 1"), 1)
        kinds = [e[0] for e in self.events()]
        # Discovery may see the new replica before the command returns (it returns once the
        # replica is caught up), so those two are only both after SCALE_OUT.
        for order in (["SCALE_OUT", "SCALE_OUT_DONE", "SERVER_RAMPED", "SCALE_IN",
                       "SCALE_IN_DONE", "SERVER_REMOVED"],
                      ["SCALE_OUT", "SERVER_DISCOVERED", "SERVER_RAMPED"]):
            positions = [kinds.index(k) for k in order]
            self.assertEqual(positions, sorted(positions), kinds)
        self.assertEqual(kinds.count("SCALE_OUT"), 1, "max_replicas = 3 allows one scale-out")
        self.assertNotIn("SCALE_OUT_FAILED", kinds)
        self.assertTrue(re.search(r"\d", done[2]))


class MariadbScalerTest(ScalerCase):
    KIND = "mariadb"


class PgScalerTest(ScalerCase):
    KIND = "postgres"


if __name__ == "__main__":
    ft.SLUICE = sys.argv[1]
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
