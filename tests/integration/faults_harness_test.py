#!/usr/bin/python3
"""The fault campaign's own instruments (bench/faults/, tests/cluster/cluster.sh), checked so
that its "never two writable nodes" figure measures sluice, not the harness:

- ProberTest (no servers): a writable answer counts only while the prober's connection to
  the node lives; a failed probe (the node killed, or fenced with our session terminated)
  drops it at once. Before: it counted for a second more, so a primary killed by the
  fence_command was counted writable beside the replica promoted 0.2 s later.
- PgFenceBootTest (a private PostgreSQL cluster): `cluster.sh fence` kills a node that is
  still booting (its postmaster.pid written, pids/NODE.pid not yet). Before: "not running",
  and the node came up writable although it had been fenced.

Usage: faults_harness_test.py SLUICE_BINARY [TestClass[.test_method] ...]
"""
import os
import signal
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "faults"))
import failover_test  # noqa: E402
from clients import ClientError, Prober, count_writable  # noqa: E402
from failover_test import HealthCase, cluster_sh  # noqa: E402


class ScriptedEngine:
    """A node that answers writable until told to die, then refuses every connect."""

    kind = "mariadb"  # no libpq watchdog

    def __init__(self):
        self.dead = threading.Event()
        self.answered = threading.Event()

    def writable_sql(self):
        return "SELECT 1"

    def direct(self, port, timeout=2):
        if self.dead.is_set():
            raise ClientError("2003", "Connection refused")
        return self

    def query_one(self, sql):
        if self.dead.is_set():
            raise ClientError("2013", "Lost connection")
        self.answered.set()
        return 1

    def close(self):
        pass


class ProberTest(unittest.TestCase):
    def test_a_failed_probe_drops_the_writable_answer(self):
        engine = ScriptedEngine()
        p = Prober(engine, "old-primary", 1, time.monotonic() + 10, interval_s=0.02)
        p.start()
        try:
            self.assertTrue(engine.answered.wait(5))
            self.assertEqual(count_writable([p]), ["old-primary"])
            engine.dead.set()  # killed (or fenced): its next probe fails
            deadline = time.monotonic() + 0.5  # half the freshness bound (1 s)
            while count_writable([p]) and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertEqual(count_writable([p]), [])
        finally:
            p.stop.set()
            p.join(5)


class PgFenceBootTest(HealthCase):
    KIND = "postgres"
    REPLICAS = 1

    def test_fence_kills_a_node_that_is_still_booting(self):
        node = self.env["REPLICA_NAMES_LIST"][0]
        port = self.env["REPLICA_PORTS_LIST"][0]
        data = os.path.join(self.dir, "nodes", node, "data")
        with open(os.path.join(data, "postmaster.pid")) as f:
            postmaster = int(f.readline())
        # As while `cluster.sh start-node` still waits for pg_ctl: no pids/NODE.pid yet.
        os.unlink(os.path.join(self.dir, "pids", "%s.pid" % node))
        out = cluster_sh("fence", self.dir, "test", "127.0.0.1", port)
        deadline = time.monotonic() + 10
        alive = True
        while alive and time.monotonic() < deadline:
            try:
                os.kill(postmaster, 0)
                with open("/proc/%d/stat" % postmaster) as f:
                    alive = f.read().rsplit(")", 1)[1].split()[0] != "Z"
            except ProcessLookupError:
                alive = False
            if alive:
                time.sleep(0.05)
        if alive:  # leave nothing behind for tearDown's stop to miss
            os.kill(postmaster, signal.SIGKILL)
        self.assertFalse(alive, "fence left the booting node running: %s" % out)
        self.assertTrue(os.path.exists(os.path.join(data, "standby.signal")))


if __name__ == "__main__":
    failover_test.SLUICE = sys.argv[1]
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
