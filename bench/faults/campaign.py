#!/usr/bin/python3
"""Fault campaign: random kill -9 / SIGSTOP / clean restart of a primary or a replica under a
writer and a reader through sluice, and after each fault the checks failover must pass.

    campaign.py --engine mariadb|postgres --sluice BUILD/proxy/sluice [--cycles 20] [--seed N]

Starts its own cluster (tests/cluster/cluster.sh, MariaDB semisync / PostgreSQL synchronous
standby, primary + 2 replicas) and its own sluice, both stopped by PID at the end. Per cycle:
one fault, then: writes through sluice resume within --resume-timeout; exactly one node accepts
writes (asked directly: MariaDB @@read_only, PostgreSQL pg_is_in_recovery() and
default_transaction_read_only); every id the writer had acknowledged is on it. Then the
topology is brought back to primary + 2 replicas (cluster.sh start-node / rejoin) for the next
cycle. Prints one line per cycle and a summary; exits 1 when a cycle lost an acknowledged
write, saw two writable nodes or did not resume writes, 2 when the campaign itself could not
run. See docs/reliability.md.
"""
import argparse
import datetime
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from clients import (ClientError, Engine, Prober, Reader, Writer,  # noqa: E402
                     count_writable)
from sluice_proc import Sluice, admin_query, read_cluster_env  # noqa: E402

FAULTS = ["kill9", "sigstop", "restart"]
TARGETS = ["primary", "replica"]


class SetupError(Exception):
    pass


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


class Campaign:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.script = a.cluster_script
        self.dir = a.dir
        self.kind = a.engine
        self.rows = []
        self.events_seen = 0
        self.error = None

    # ------------------------------------------------------------ cluster helpers

    def cluster(self, *args, timeout=300, check=True):
        r = subprocess.run(["bash", self.script] + [str(x) for x in args], capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise SetupError("cluster.sh %s failed: %s" % (" ".join(map(str, args)),
                                                            r.stderr[-1500:]))
        return r

    def node_port(self, n):
        return int(self.env["NODE_%s_PORT" % n])

    def node_pid(self, n):
        try:
            with open(os.path.join(self.dir, "pids", "%s.pid" % n)) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def writable_now(self, timeout=2):
        """Asked afresh of every node: the names that accept writes (unreachable: skipped)."""
        out = []
        for n in self.nodes:
            try:
                c = self.engine.direct(self.node_port(n), timeout=timeout)
            except ClientError:
                continue
            try:
                if c.query_one(self.engine.writable_sql()):
                    out.append(n)
            except ClientError:
                pass
            finally:
                c.close()
        return out

    def wait_one_writable(self, bound):
        """Polls until exactly one node accepts writes; returns (names, seconds waited)."""
        t0 = time.monotonic()
        w = self.writable_now()
        while len(w) != 1 and time.monotonic() - t0 < bound:
            time.sleep(0.3)
            w = self.writable_now()
        return w, time.monotonic() - t0

    def follows(self, node, primary):
        """Whether NODE replicates from PRIMARY (and, MariaDB, both threads run)."""
        try:
            if self.kind == "mariadb":
                c = self.engine.direct(self.node_port(node), timeout=3)
                try:
                    rows = c.c.cursor()
                    rows.execute("SHOW SLAVE STATUS")
                    r = rows.fetchone()
                    if r is None:
                        return False
                    d = dict(zip([x[0] for x in rows.description], r))
                    return (int(d["Master_Port"]) == self.node_port(primary) and
                            d["Slave_IO_Running"] == "Yes" and d["Slave_SQL_Running"] == "Yes")
                finally:
                    c.close()
            c = self.engine.direct(self.node_port(primary), timeout=3)
            try:
                return bool(c.query_one(
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND "
                    "application_name = '127.0.0.1:%d'" % self.node_port(node)))
            finally:
                c.close()
        except Exception:  # noqa: BLE001 -- a node that does not answer does not follow
            return False

    # ------------------------------------------------------------ setup / teardown

    def setup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(os.path.dirname(os.path.abspath(self.dir)), exist_ok=True)
        sync = ["--semisync"] if self.kind == "mariadb" else ["--sync"]
        if self.kind == "mariadb" and not self.a.no_belt_and_braces:
            # read_only=ON in every node's config: no node boots writable (docs/operations.md).
            sync.append("--read-only-config")
        log("starting a %s cluster in %s" % (self.kind, self.dir))
        self.cluster("start", self.kind, self.dir, *sync, "--watch-pid", os.getpid())
        self.env = read_cluster_env(self.dir)
        self.nodes = self.env["NODES"].split()
        self.engine = Engine(self.kind, self.env)
        c = self.engine.direct(int(self.env["PRIMARY_PORT"]))
        for sql in self.engine.create_table_sql():
            c.execute(sql)
        c.close()
        e = self.env
        opts = {"monitor_interval_ms": self.a.monitor_interval_ms,
                "failover_window_ms": self.a.failover_window_ms,
                "admin_user": e["ADMIN_USER"], "admin_password": e["ADMIN_PASSWORD"],
                "replication_user": e["REPL_USER"], "replication_password": e["REPL_PASSWORD"]}
        if not self.a.no_belt_and_braces:
            # Hard fencing before every promotion, as a STONITH would: the old primary is
            # killed and boots non-writable (cluster.sh fence; sluice appends cluster, host
            # and port).
            opts["fence_command"] = "%s fence %s" % (os.path.abspath(self.script),
                                                     os.path.abspath(self.dir))
        for kv in self.a.sluice_option:
            k, v = kv.split("=", 1)
            opts[k] = int(v) if v.isdigit() else (v == "true" if v in ("true", "false") else v)
        self.sluice = Sluice(self.a.sluice, e, cluster_options=opts, log_level="info",
                             workdir=os.path.join(self.dir, "sluice"))
        os.makedirs(self.sluice.workdir, exist_ok=True)
        self.sluice.start()
        deadline = time.monotonic() + 60 + self.a.cycles * 120
        port = self.sluice.port
        self.writer = Writer(self.engine, port, deadline)
        self.reader = Reader(self.engine, port, deadline)
        self.probers = [Prober(self.engine, n, self.node_port(n), deadline) for n in self.nodes]
        for t in [self.writer, self.reader] + self.probers:
            t.start()
        if not self.wait_acks(time.monotonic(), 20):
            raise SetupError("no write through sluice succeeded within 20 s; sluice log:\n" +
                             self.sluice.log_tail())

    def teardown(self):
        for t in [getattr(self, "writer", None), getattr(self, "reader", None)] + \
                getattr(self, "probers", []):
            if t is not None:
                t.stop.set()
        for t in [getattr(self, "writer", None), getattr(self, "reader", None)] + \
                getattr(self, "probers", []):
            if t is not None:
                t.join(30)
        if getattr(self, "sluice", None) is not None:
            self.sluice.stop()
        # SIGCONT in case an exception left a node stopped; then the cluster goes.
        for n in getattr(self, "nodes", []):
            pid = self.node_pid(n)
            if pid:
                self.signal_all(self.server_procs(pid), signal.SIGCONT)
        if not self.a.keep:
            self.cluster("stop", self.dir, timeout=180, check=False)

    # ------------------------------------------------------------ the cycle

    def wait_acks(self, since, bound):
        """The first acked write that started after SINCE: its completion time, or None."""
        deadline = since + bound
        while True:
            first = None
            acked = self.writer.acked
            for i in range(len(acked) - 1, -1, -1):
                if acked[i][1] < since:
                    break
                first = acked[i][2]
            if first is not None:
                return first
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def sample_writable(self, until):
        """Samples the probers until time UNTIL; returns the largest writable set seen."""
        worst = []
        while True:
            w = count_writable(self.probers)
            if len(w) > len(worst):
                worst = w
            if time.monotonic() >= until:
                return worst
            time.sleep(0.1)

    @staticmethod
    def server_procs(pid):
        """PID and every process below it. PostgreSQL's backends each call setsid(), so the
        postmaster's process group holds the postmaster alone: a group signal would stop
        the postmaster and leave the backends serving their clients."""
        children = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
        out, todo = [], [pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(children.get(p, []))
        return out

    @staticmethod
    def signal_all(pids, sig):
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass

    @staticmethod
    def all_gone(pids, bound):
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            alive = 0
            for p in pids:
                try:
                    os.kill(p, 0)
                    alive += 1
                except ProcessLookupError:
                    pass
            if not alive:
                return True
            time.sleep(0.02)
        return False

    def apply_fault(self, fault, node):
        """Runs the fault. Returns (t_fault, t_down, worst): when the signal was sent, when
        the node was down (its processes gone, or stopped), and the largest writable set the
        probers saw while the fault lasted. kill -9 and SIGSTOP hit the server's every
        process (the postmaster first: it forks no new backend once stopped)."""
        pid = self.node_pid(node)
        if pid is None:
            raise SetupError("no pid for %s" % node)
        if fault in ("sigstop", "kill9"):
            sig = signal.SIGSTOP if fault == "sigstop" else signal.SIGKILL
            os.kill(pid, sig)
            t_fault = time.monotonic()
            procs = self.server_procs(pid)
            self.signal_all(procs, sig)
            if fault == "sigstop":
                # Listing /proc takes a while: a write may slip in before the backends stop.
                t_down = time.monotonic()
                try:
                    worst = self.sample_writable(t_fault + self.a.stop_seconds)
                finally:
                    self.signal_all(self.server_procs(pid), signal.SIGCONT)
                return t_fault, t_down, worst
            if not self.all_gone(procs, 10):
                raise SetupError("%s (pid %d) survived SIGKILL" % (node, pid))
            # What cluster.sh kill-node does after the kill: the node is known down.
            os.unlink(os.path.join(self.dir, "pids", "%s.pid" % node))
            return t_fault, time.monotonic(), []
        # A clean restart: the signal cluster.sh stop-node sends, then start-node.
        os.kill(pid, signal.SIGTERM if self.kind == "mariadb" else signal.SIGINT)
        t_fault = time.monotonic()
        if not self.all_gone([pid], 60):
            raise SetupError("%s (pid %d) did not shut down within 60 s" % (node, pid))
        t_down = time.monotonic()
        r = self.cluster("start-node", self.dir, node, check=False)
        if r.returncode != 0:
            # sluice judged it dead while it restarted and its fence_command killed it as it
            # booted: down until the repair rejoins it.
            if not os.path.exists(os.path.join(self.dir, "nodes", node, "fenced")):
                raise SetupError("cluster.sh start-node %s failed: %s" % (node, r.stderr[-1500:]))
            log("%s was fenced while it restarted" % node)
        return t_fault, t_down, []

    def lost_ids(self, node, acked):
        c = self.engine.direct(self.node_port(node), timeout=30)
        try:
            have = {r[0] for r in c.query_all("SELECT id FROM faults")}
        finally:
            c.close()
        return [rid for rid in acked if rid not in have]

    def new_events(self):
        """stats_events since the last call: (time, kind, server, message)."""
        try:
            rows = admin_query(self.sluice.admin_port, self.sluice.admin_password,
                               "SELECT time, kind, server, message FROM stats_events",
                               timeout=10)
        except Exception as e:  # noqa: BLE001 -- diagnostics only
            return [("", "(stats_events: %s)" % e, "", "")]
        out = [tuple(r) for r in rows[self.events_seen:]]
        self.events_seen = len(rows)
        return out

    def monotonic_of(self, iso):
        """An event's ISO time (UTC, ms) on this process's monotonic clock; None if unparsable."""
        try:
            t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
        except (TypeError, ValueError):
            return None
        unix = t.replace(tzinfo=datetime.timezone.utc).timestamp()
        return unix - (time.time() - time.monotonic())

    def cycle(self, k):
        a = self.a
        before = self.writable_now()
        if len(before) != 1:
            raise SetupError("cycle %d: %d writable nodes before the fault: %s" %
                             (k, len(before), before))
        primary = before[0]
        fault = self.rng.choice(FAULTS)
        target = self.rng.choice(TARGETS)
        replicas = [n for n in self.nodes if n != primary]
        node = primary if target == "primary" else self.rng.choice(replicas)
        n_err_w, n_err_r = len(self.writer.errors), len(self.reader.errors)
        t_fault, t_down, worst = self.apply_fault(fault, node)
        fault_over = time.monotonic()
        # Downtime: the longest time without a successful write from the fault up to the
        # first write that started once the node was down (a write may still succeed while
        # a clean shutdown begins; for kill -9 and SIGSTOP it is fault -> first write).
        first_ok = self.wait_acks(t_down, a.resume_timeout - (t_down - t_fault))
        downtime = None
        if first_ok is not None:
            points = [t_fault] + [t1 for _, _, t1 in self.writer.acked[-50000:]
                                  if t_fault < t1 <= first_ok]
            downtime = max(b - a_ for a_, b in zip(points, points[1:] or [first_ok]))
        # Writes resumed (or the bound passed); the old primary, if it came back, has had a
        # few monitor intervals to be fenced. Watch the probers over that settling time.
        settle_until = time.monotonic() + max(2.0, 4 * a.monitor_interval_ms / 1000.0)
        w2 = self.sample_writable(settle_until)
        if len(w2) > len(worst):
            worst = w2
        writable, _ = self.wait_one_writable(a.settle_timeout)
        acked_ids = [rid for rid, _, _ in self.writer.acked]
        during = sum(1 for _, t0, t1 in self.writer.acked[-20000:]
                     if t0 >= t_down and t1 <= fault_over)
        lost = []
        if len(writable) == 1:
            lost = self.lost_ids(writable[0], acked_ids)
        new_lost = sorted(set(lost) - self.lost_so_far)
        self.lost_so_far |= set(lost)
        errs_w = self.writer.errors[n_err_w:]
        errs_r = self.reader.errors[n_err_r:]
        # A write that started after the primary's first failed check must not fail (the
        # issue). That check is sluice's first WRITES_HELD after the fault (logged by the
        # round that saw it fail); without one, one monitor interval after the fault (the
        # first check after the fault starts within an interval).
        events = self.new_events()
        first_check = t_fault + a.monitor_interval_ms / 1000.0
        held = [self.monotonic_of(t) for t, kind, _, _ in events if kind == "WRITES_HELD"]
        held = [t for t in held if t is not None and t >= t_fault]
        if target == "primary" and held:
            first_check = min(held)
        late = [e for e in errs_w if e[0] > first_check] if target == "primary" else errs_w
        max_w = max(len(worst), len(writable))
        row = {
            "cycle": k, "fault": fault, "target": "%s(%s)" % (node, target),
            "downtime_s": None if downtime is None else round(downtime, 3),
            "fault_to_first_write_s": None if first_ok is None else round(first_ok - t_fault, 3),
            "fault_s": round(fault_over - t_fault, 2), "acked_during_fault": during,
            "acked": len(acked_ids), "lost": len(new_lost), "lost_ids": new_lost[:20],
            "writable_after": writable, "max_writable": max_w, "worst_set": worst,
            "write_errors": codes(errs_w), "late_write_errors": codes(late),
            "read_errors": codes(errs_r),
            "error_samples": sorted({"%s %s" % (e[2], e[3][:90]) for e in errs_w + errs_r})[:6],
            "first_failed_check_s": round(first_check - t_fault, 3),
            "events": ["%s %s" % (e[1], e[2]) for e in events],
            # Each write error's start and end after the fault, to match sluice's log.
            "write_error_times": [(e[2], round(e[0] - t_fault, 3), round(e[1] - t_fault, 3))
                                  for e in errs_w][:10],
            "fault_utc": datetime.datetime.fromtimestamp(
                time.time() - (time.monotonic() - t_fault),
                datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3],
            "phases": self.phases(events, t_fault) if target == "primary" else {},
        }
        row["ok"] = (row["downtime_s"] is not None and not new_lost and max_w <= 1 and
                     len(writable) == 1)
        row["repairs"] = []
        self._restore_args = (primary, writable)
        return row

    def phases(self, events, t_fault):
        """Seconds after the fault of each step of a failover, from sluice's stats_events:
        the first failed check (WRITES_HELD), the verdict over the window (the first
        FAILOVER), the promotion's start after the candidate check and the fence (the second
        FAILOVER), the candidate accepting writes (PROMOTE), the hold released
        (WRITES_RESUMED)."""
        out = {}
        names = {"WRITES_HELD": "held", "PROMOTE": "promoted", "WRITES_RESUMED": "resumed",
                 "FENCE_COMMAND": "fenced"}
        failovers = 0
        for t, kind, _, _ in events:
            m = self.monotonic_of(t)
            if m is None or m < t_fault:
                continue
            key = names.get(kind)
            if kind == "FAILOVER":
                failovers += 1
                key = "verdict" if failovers == 1 else "promoting"
            if key and key not in out:
                out[key] = round(m - t_fault, 3)
        return out

    # ------------------------------------------------------------ back to primary + 2 replicas

    def restore(self, old_primary, writable, done):
        """Brings every node back as primary + replicas of it; appends what it did to DONE."""
        if len(writable) != 1:
            # No failover happened (old primary dead, nothing promoted): start it again.
            if not writable:
                if self.node_pid(old_primary) is None:
                    self.cluster("start-node", self.dir, old_primary)
                    done.append("start-node %s" % old_primary)
                writable, _ = self.wait_one_writable(20)
                if not writable:
                    raise SetupError("no writable node after restarting %s" % old_primary)
            # Two writable: the one sluice promoted stays, the old primary (not fenced) goes.
            others = [n for n in writable if n != old_primary]
            primary = others[0] if others else old_primary
        else:
            primary = writable[0]
        for n in self.nodes:
            if n == primary:
                continue
            running = self.node_pid(n) is not None
            if n == old_primary and primary != old_primary:
                self.cluster("rejoin", self.dir, n, "--primary", primary)
                done.append("rejoin %s" % n)
                continue
            if not running:
                self.cluster("start-node", self.dir, n)
                done.append("start-node %s" % n)
            deadline = time.monotonic() + 15
            while not self.follows(n, primary) and time.monotonic() < deadline:
                time.sleep(0.3)
            if not self.follows(n, primary):
                self.cluster("rejoin", self.dir, n, "--primary", primary)
                done.append("rejoin %s (did not follow %s)" % (n, primary))
        if self.wait_acks(time.monotonic(), 30) is None:
            raise SetupError("writes through sluice did not resume within 30 s of the repair "
                             "(%s; %s writable)" % (", ".join(done) or "no repair",
                                                    self.writable_now() or "no node"))

    def run(self):
        a = self.a
        print("fault campaign: engine=%s cycles=%d seed=%d monitor_interval_ms=%d "
              "failover_window_ms=%d stop=%ss" % (self.kind, a.cycles, a.seed,
                                                  a.monitor_interval_ms, a.failover_window_ms,
                                                  a.stop_seconds), flush=True)
        print(HEADER, flush=True)
        self.lost_so_far = set()
        for k in range(1, a.cycles + 1):
            row = self.cycle(k)
            self.rows.append(row)
            print(fmt_row(row), flush=True)
            print("      events: %s" % (", ".join(row["events"]) or "-"), flush=True)
            for s in row["error_samples"]:
                print("      error: %s" % s, flush=True)
            try:
                self.restore(*self._restore_args, row["repairs"])
            finally:
                print("      repairs: %s" % (", ".join(row["repairs"]) or "-"), flush=True)
        return self.summary()

    def summary(self):
        s = summarize(self.rows, self.a.seed, self.kind)
        print(summary_line(s), flush=True)
        return s


def summarize(rows, seed, engine):
    downs = [r["downtime_s"] for r in rows if r["downtime_s"] is not None]
    prim = [r["downtime_s"] for r in rows if r["downtime_s"] is not None and
            r["target"].endswith("(primary)")]
    return {
        "cycles": len(rows), "seed": seed, "engine": engine,
        "resumed": len(downs), "not_resumed": len(rows) - len(downs),
        "median_downtime_s": round(statistics.median(downs), 3) if downs else None,
        "max_downtime_s": max(downs) if downs else None,
        "median_primary_downtime_s": round(statistics.median(prim), 3) if prim else None,
        "acked": rows[-1]["acked"] if rows else 0,
        "lost": sum(r["lost"] for r in rows),
        "max_writable": max([r["max_writable"] for r in rows] or [0]),
        "write_errors": sum(sum(r["write_errors"].values()) for r in rows),
        "late_write_errors": sum(sum(r["late_write_errors"].values()) for r in rows),
        "read_errors": sum(sum(r["read_errors"].values()) for r in rows),
        "failed_cycles": [r["cycle"] for r in rows if not r["ok"]],
    }


def summary_line(s):
    return ("summary: cycles=%d resumed=%d median_downtime=%ss max_downtime=%ss "
            "median_primary_fault_downtime=%ss acked=%d lost=%d max_writable_nodes=%d "
            "write_errors=%d late_write_errors=%d read_errors=%d failed_cycles=%s" % (
                s["cycles"], s["resumed"], s["median_downtime_s"], s["max_downtime_s"],
                s["median_primary_downtime_s"], s["acked"], s["lost"], s["max_writable"],
                s["write_errors"], s["late_write_errors"], s["read_errors"],
                s["failed_cycles"] or "none"))


HEADER = ("%-5s %-8s %-18s %9s %7s %5s %9s %-30s %-24s %s" %
          ("cycle", "fault", "target", "downtime", "acked", "lost", "writable", "write errors",
           "late write errors", "read errors"))


def codes(errs):
    out = {}
    for e in errs:
        out[e[2]] = out.get(e[2], 0) + 1
    return out


def fmt_codes(d):
    return " ".join("%sx%d" % (k, v) for k, v in sorted(d.items())) or "0"


def fmt_row(r):
    down = "none" if r["downtime_s"] is None else "%.2fs" % r["downtime_s"]
    return "%-5d %-8s %-18s %9s %7d %5d %9s %-30s %-24s %s%s" % (
        r["cycle"], r["fault"], r["target"], down, r["acked"], r["lost"],
        "%d(max%d)" % (len(r["writable_after"]), r["max_writable"]), fmt_codes(r["write_errors"]),
        fmt_codes(r["late_write_errors"]), fmt_codes(r["read_errors"]),
        "" if r["ok"] else "  FAIL")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--engine", choices=["mariadb", "postgres"], required=True)
    p.add_argument("--sluice", required=True, help="the sluice binary")
    p.add_argument("--cycles", type=int, default=20)
    p.add_argument("--seed", type=int, default=None, help="default: random, printed")
    p.add_argument("--dir", default=None, help="cluster directory (default /tmp/sluice-faults-ENGINE)")
    p.add_argument("--cluster-script", default=os.path.join(ROOT, "tests", "cluster", "cluster.sh"))
    p.add_argument("--monitor-interval-ms", type=int, default=500)
    p.add_argument("--failover-window-ms", type=int, default=2000)
    p.add_argument("--stop-seconds", type=float, default=10.0, help="SIGSTOP duration")
    p.add_argument("--resume-timeout", type=float, default=30.0,
                   help="bound on fault -> first successful write")
    p.add_argument("--settle-timeout", type=float, default=10.0,
                   help="bound on waiting for exactly one writable node after a fault")
    p.add_argument("--sluice-option", action="append", default=[], metavar="KEY=VALUE",
                   help="extra [[cluster]] key for sluice's config (repeatable)")
    p.add_argument("--no-belt-and-braces", action="store_true",
                   help="no fence_command and (MariaDB) no read_only=ON in the nodes' configs: "
                        "sluice's own fencing only")
    p.add_argument("--json", default=None, help="write the rows and summary here")
    p.add_argument("--keep", action="store_true", help="leave the cluster running at the end")
    a = p.parse_args()
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1, 1 << 31)
    if a.dir is None:
        a.dir = "/tmp/sluice-faults-%s" % a.engine
    if a.cycles < 1:
        p.error("--cycles must be at least 1")
    c = Campaign(a)
    rc = 0
    try:
        c.setup()
        s = c.run()
        rc = 1 if s["failed_cycles"] else 0
    except SetupError as e:
        c.error = str(e)
        print("campaign error (seed %d, after %d cycles): %s" % (a.seed, len(c.rows), e),
              flush=True)
        if getattr(c, "sluice", None) is not None:
            print("sluice log tail:\n" + c.sluice.log_tail(30), flush=True)
        if c.rows:
            c.summary()
        rc = 2
    finally:
        c.teardown()
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"args": vars(a), "argv": sys.argv, "rows": c.rows,
                           "summary": summarize(c.rows, a.seed, a.engine),
                           "error": c.error}, f, indent=1)
    sys.exit(rc)


if __name__ == "__main__":
    main()
