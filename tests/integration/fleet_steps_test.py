#!/usr/bin/python3
"""Issue #19's leftovers: every orchestration step leader-gated, no write hold outliving an
abandoned switchover, and the PostgreSQL leader kill (fleet_test.py's harness: its own 3-member
etcd cluster, database cluster and sluice instances per test, stopped by PID).

- MariadbFleetMirrorGateTest: MIRROR START on the follower is refused naming the leader (and
  counted); on the leader it forks the shadow once, recorded as intent then outcome, and the
  switch reaches every instance as a config revision.
- MariadbFleetSwitchoverKillTest: the leading sluice is killed -9 right after its switchover
  fenced the old primary; the other instance, now leader, rolls it back by the intent it
  finds in etcd: the old primary writable again, writes through it resume within the bound.
- PgFleetLeaderKillTest: the leading sluice is killed -9 while it promotes a standby; the other
  finishes that failover: one pg_promote, one timeline switch, one PROMOTE event.

Usage: fleet_steps_test.py SLUICE_BINARY [TestClass[.test_method] ...]
"""
import json
import os
import signal
import sys
import threading
import time
import unittest

import pymysql

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fleet_test  # noqa: E402
from fleet_test import PREFIX, TTL_S, FleetCase, cluster_sh, etcd_get, wait_for  # noqa: E402


class PairCase(FleetCase):
    def leader_and_follower(self):
        """a (the leader) and b, both routing writes to the primary; and its port."""
        a = self.start_sluice("a")
        self.assertIs(self.wait_leader(), a)
        b = self.start_sluice("b")
        old = int(self.env["PRIMARY_PORT"])
        self.assertEqual(self.writer_port(b), old)
        return a, b, old


class MariadbFleetMirrorGateTest(FleetCase):
    KIND = "mariadb"

    def test_mirror_start_runs_on_the_leader_only(self):
        e = self.env
        shadow_port = int(cluster_sh("add-replica", self.dir).strip().split()[-1])
        shadow = "\n".join([
            "", "[[cluster]]", 'name = "shadow"', 'protocol = "mysql"', "writer_hostgroup = 10",
            "reader_hostgroup = 11", 'monitor_user = "%s"' % e["MONITOR_USER"],
            'monitor_password = "%s"' % e["MONITOR_PASSWORD"], "auto_failover = false",
            "  [[cluster.server]]", '  host = "127.0.0.1"', "  port = %d" % shadow_port,
            '  role = "primary"', "",
            "[[mirror]]", 'name = "m1"', 'source = "test"', 'shadow = "shadow"', ""])
        a = self.start_sluice("a", extra_toml=shadow)
        self.assertIs(self.wait_leader(), a)
        b = self.start_sluice("b", extra_toml=shadow)
        self.assertIs(self.wait_leader(), a)

        def shadow_read_only():
            c = self.db.direct(shadow_port)
            try:
                return self.db.one(c, "SELECT @@read_only")
            finally:
                c.close()

        with self.assertRaisesRegex(Exception, "MIRROR START m1: not the fleet leader; leader is a:"
                                               " run MIRROR START there"):
            self.admin(b, "MIRROR START m1")
        self.assertEqual(shadow_read_only(), 1, "the follower did not fork the shadow")
        self.assertEqual(self.metric(b, "sluice_fleet_steps_refused_total",
                                     'step="mirror_start"'), 1)
        self.assertIsNone(etcd_get(self.endpoints[0], PREFIX + "/intent/test/mirror"))

        started = self.admin(a, "MIRROR START m1")[0][0]
        print("MIRROR START on the leader:", started)
        self.assertIn("forked", started)
        self.assertEqual(shadow_read_only(), 0, "detached by the fork")
        done = json.loads(etcd_get(self.endpoints[0], PREFIX + "/intent/test/mirror"))
        self.assertEqual((done["action"], done["phase"], done["leader"], done["detail"]),
                         ("mirror", "done", "a", "m1"))
        # Ran once: one fork (its detach) in the whole fleet, none on the follower.
        forks = {s.name: [r for r in self.events(s, ["MIRROR_FORK"]) if "detached" in r[2]]
                 for s in self.sluices}
        self.assertEqual({n: len(f) for n, f in forks.items()}, {"a": 1, "b": 0}, forks)
        # Every instance mirrors its own sessions: the switch reached b as a config revision.
        self.assertIn("published to the fleet", started)
        for s in self.sluices:
            wait_for("%s mirrors" % s.name, lambda: str(self.admin(
                s, "SELECT enabled FROM runtime_mirrors WHERE name = 'm1'")[0][0]) == "1", 5, 0.1)
        self.assertEqual(len(self.events(b, ["FLEET_CONFIG"])), 1)
        self.assertEqual([r for r in self.events(b, ["MIRROR_START"]) if "refused" not in r[2]],
                         [], "b switched nothing itself")
        # The fork's hold was released on both instances: writes through either flow.
        for i, s in enumerate(self.sluices):
            self.write(s, 100 + i)
            self.cli_write(s, 200 + i)


class MariadbFleetSwitchoverKillTest(PairCase):
    KIND = "mariadb"

    def test_leader_killed_after_the_fence_rolled_back_by_the_next(self):
        a, b, old = self.leader_and_follower()
        # The replicas do not apply: the switchover waits for its target's position (10 s)
        # with the old primary fenced and every instance's writes held.
        self.stall_replicas()
        threading.Thread(target=lambda: self._quiet(lambda: self.admin(a, "SWITCHOVER test")),
                         daemon=True).start()

        def fenced():
            # The fence ends the old primary's client sessions, this probe's too (2013).
            try:
                c = self.db.direct(old, timeout=2)
                try:
                    return self.db.one(c, "SELECT @@read_only") == 1
                finally:
                    c.close()
            except pymysql.err.OperationalError:
                return False

        wait_for("the old primary fenced", fenced, 20, 0.02)
        intent = json.loads(etcd_get(self.endpoints[0], PREFIX + "/intent/test"))
        self.assertEqual((intent["action"], intent["phase"], intent["leader"]),
                         ("switchover", "drain", "a"))
        os.kill(a.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        a.proc.wait(5)
        # A write through b issued during the hold: it waits, then runs on the old primary.
        result = {}

        def held_write():
            t0 = time.monotonic()
            try:
                self.write(b, 2)
                result["ok"] = time.monotonic() - t0
            except Exception as ex:  # noqa: BLE001 (reported below)
                result["error"] = repr(ex)

        t = threading.Thread(target=held_write, daemon=True)
        t.start()
        self.assertIs(self.wait_leader([b], timeout=20), b)
        rolled = wait_for("b rolls the switchover back", lambda: [
            r for r in self.events(b, ["SWITCHOVER_ABORTED"]) if "rolled back" in r[2]], 15, 0.05)
        t.join(35)
        released = time.monotonic() - killed_at
        print("mariadb: leader killed after fencing; %s: %s; the held write through b %s "
              "(%.2f s after the kill, lease TTL %d s)" %
              (b.name, rolled[0][2], "ran" if "ok" in result else result, released, TTL_S))
        self.assertIn("ok", result, "the write held through b completed")
        # Bounded: the lease TTL, one monitor round and the new leader's resolve.
        self.assertLess(released, TTL_S + 8)
        done = json.loads(etcd_get(self.endpoints[0], PREFIX + "/intent/test"))
        self.assertEqual((done["action"], done["phase"], done["leader"], done["id"]),
                         ("switchover", "abandoned", "b", intent["id"]))
        self.assertFalse(fenced(), "the old primary is writable again")
        self.assertTrue(self.db.is_primary(old))
        self.assertEqual(self.new_primary(old), [], "nothing was promoted")
        self.assertEqual(self.db.count(old, "t_fleet WHERE id = 2"), 1)
        self.assertEqual(self.writer_port(b), old)
        self.cli_write(b, 3)  # libmariadb
        self.assertEqual(self.metric(b, "sluice_fleet_steps_taken_over_total",
                                     'step="switchover/abandoned"'), 1)

    @staticmethod
    def _quiet(fn):
        try:
            fn()
        except Exception:  # noqa: BLE001 (its instance is killed mid-statement)
            pass


class PgFleetLeaderKillTest(PairCase):
    KIND = "postgres"

    def timeline(self, primary_port):
        """The timeline a primary writes on (its current WAL file's first 8 hex digits)."""
        c = self.db.direct(primary_port)
        try:
            return int(self.db.one(
                c, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"), 16)
        finally:
            c.close()

    def test_kill_leader_while_it_promotes(self):
        a, b, old = self.leader_and_follower()
        tl_before = self.timeline(old)
        # The standbys' postmasters stopped: connections made before (the monitors' checks,
        # WAL replay) go on, a new one (the promotion's, on a fresh connection) waits in the
        # listen backlog: the leader is held mid-promotion, the promote intent written.
        pids = []
        for node in ("replica1", "replica2"):
            with open(os.path.join(self.dir, "pids", node + ".pid")) as f:
                pids.append(int(f.read().split()[0]))
        try:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            cluster_sh("kill-node", self.dir, "primary")

            def promoting():
                v = etcd_get(self.endpoints[0], PREFIX + "/intent/test")
                return json.loads(v) if v and json.loads(v)["phase"] == "promote" else None

            intent = wait_for("the leader's promote intent", promoting, 30, 0.02)
            os.kill(a.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            a.proc.wait(5)
            self.assertEqual(intent["leader"], "a")
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        self.assertIs(self.wait_leader([b], timeout=20), b)

        def finished():
            v = json.loads(etcd_get(self.endpoints[0], PREFIX + "/intent/test"))
            return v if v["phase"] == "done" else None

        done = wait_for("the failover finished by b", finished, 40, 0.1)
        print("postgres: leader a killed mid-promotion; b finished the failover %.2f s later "
              "(lease TTL %d s)" % (time.monotonic() - killed_at, TTL_S))
        self.assertEqual(done["leader"], "b")
        self.assertEqual(done["id"], intent["id"], "the same failover, not a second one")
        self.assertEqual(done["target"], intent["target"], "finished on the intended target")
        # From the servers: one primary among the standbys, one timeline switch.
        primaries = self.new_primary(old)
        self.assertEqual(["127.0.0.1:%d" % p for p in primaries], [intent["target"]])
        self.assertEqual(self.timeline(primaries[0]), tl_before + 1, "one promotion")
        # From every instance: b promoted once; a (killed) never said its promotion worked.
        self.assertEqual(len(self.events(b, ["PROMOTE"])), 1)
        self.assertEqual(len(self.events(b, ["FAILOVER_RESUMED"])), 1)
        with open(a.log_path, errors="replace") as f:
            self.assertNotIn("the candidate accepts writes", f.read())
        wait_for("b writes to the new primary",
                 lambda: self.writer_port_or_none(b) == primaries[0], 10, 0.1)
        self.write(b, 7000)
        self.cli_write(b, 7100)  # psql (libpq)


if __name__ == "__main__":
    fleet_test.SLUICE = sys.argv[1]
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
