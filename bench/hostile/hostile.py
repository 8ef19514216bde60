#!/usr/bin/python3
"""The full-size hostile-client bench (issue #13): a normal client during each attack.

For one engine, against one sluice in front of a harness cluster (tests/cluster):

  baseline / attack  a normal client's login and query latency (p50/p99) over a window
                     without an attack, then over the same length with one running:
    idle             5,000 idle unauthenticated sockets, held for the window; afterwards,
                     how many sluice closed at client_login_timeout_ms (polled, bounded)
    preauth          30 senders, each connecting and sending a 16 MiB - 1 login packet
                     over and over for the window: sluice's RSS rise
    fds              sluice's RLIMIT_NOFILE lowered (prlimit) to its open descriptors + 32 and
                     the rest taken by sockets: an open session's query latency, login
                     attempts refused or delayed, sluice's CPU (accept back-off)
  bigcmd             CPU of sluice (utime + stime from /proc) for one 64 MiB command
                     (SELECT LENGTH('aaa…')), median of 3

The normal client: MariaDB through libmariadb (ctypes, bench/faults/clients.py), PostgreSQL
through psycopg2 (libpq); each login is followed by QUERIES_PER_LOGIN `SELECT 1`. Attackers
run in child processes of this script (so they do not share the probe's interpreter), each
bounded in count and time, and are killed by PID at the end of their window.

Usage: hostile.py --engine mariadb|postgres --sluice BIN --cluster DIR [--window S]
                  [--attacks idle,preauth,fds,bigcmd] [--json FILE]
       hostile.py --attacker KIND --port P --engine E --seconds S [--count N]  (internal)
"""
import argparse
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "faults"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

IDLE_SOCKETS = 5000
PREAUTH_SENDERS = 30
PREAUTH_BYTES = (16 << 20) - 1
QUERIES_PER_LOGIN = 5
BIG_COMMAND = 64 << 20


def log(msg):
    sys.stderr.write("[hostile %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ---------------------------------------------------------------- /proc of sluice

from hardening_test import cpu_seconds as proc_stat  # noqa: E402
from hardening_test import open_fds  # noqa: E402  (tests/integration)
from janitor_test import rss_kib  # noqa: E402


# ---------------------------------------------------------------- attackers (child processes)

def mysql_big_login_header():
    # A HandshakeResponse packet header announcing 16 MiB - 1 bytes, sequence id 1.
    return struct.pack("<I", PREAUTH_BYTES)[:3] + b"\x01"


def pg_big_startup_header():
    # A StartupMessage announcing 16 MiB - 1 bytes, protocol 3.0.
    return struct.pack("!II", PREAUTH_BYTES, 196608)


def open_sockets(port, count, deadline, timeout):
    """Up to COUNT connections to PORT opened before DEADLINE (the ones that fail skipped)."""
    socks = []
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=timeout))
        except OSError:
            pass
    return socks


def attack_idle(port, seconds, count):
    """Opens COUNT sockets, holds them for SECONDS, prints how many sluice closed and when."""
    deadline = time.monotonic() + seconds
    socks = open_sockets(port, count, deadline, 5)
    opened = time.monotonic()
    print(json.dumps({"opened": len(socks)}), flush=True)
    while time.monotonic() < deadline:
        time.sleep(0.2)
    print(json.dumps({"held_s": round(time.monotonic() - opened, 1)}), flush=True)
    # Then: wait (bounded by the parent's kill) for every socket to be closed by sluice.
    for s in socks:
        s.setblocking(False)
    open_set = set(range(len(socks)))
    closed_at = []
    while open_set:
        for i in list(open_set):
            try:
                data = socks[i].recv(65536)
                if data == b"":
                    open_set.discard(i)
                    closed_at.append(time.monotonic() - opened)
            except BlockingIOError:
                pass
            except OSError:
                open_set.discard(i)
                closed_at.append(time.monotonic() - opened)
        print(json.dumps({"still_open": len(open_set),
                          "last_closed_s": round(max(closed_at), 1) if closed_at else None}),
              flush=True)
        time.sleep(0.5)


def attack_preauth(port, seconds, engine):
    """PREAUTH_SENDERS processes: each connects and sends a 16 MiB - 1 login, again and
    again until SECONDS are over; prints sends and bytes that sluice took."""
    header = mysql_big_login_header() if engine == "mariadb" else pg_big_startup_header()
    deadline = time.monotonic() + seconds
    kids = []
    for _ in range(PREAUTH_SENDERS):
        pid = os.fork()
        if pid == 0:
            chunk = b"a" * (1 << 20)
            sends = sent = 0
            while time.monotonic() < deadline and sends < 100000:
                sends += 1
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=2)
                    s.settimeout(2)
                    if engine == "mariadb":
                        s.recv(4096)  # the greeting first, as a client would
                    s.sendall(header)
                    left = PREAUTH_BYTES - (len(header) - 4 if engine == "mariadb" else 4)
                    while left > 0 and time.monotonic() < deadline:
                        n = s.send(chunk[:min(left, len(chunk))])
                        sent += n
                        left -= n
                except OSError:
                    pass
                finally:
                    try:
                        s.close()
                    except Exception:  # noqa: BLE001
                        pass
            # One write per line: the senders share the pipe.
            os.write(1, (json.dumps({"sends": sends, "bytes_sent": sent}) + "\n").encode())
            os._exit(0)
        kids.append(pid)
    for pid in kids:
        os.waitpid(pid, 0)


def attack_fill(port, seconds, count):
    """Opens up to COUNT sockets (as many as connect within 1 s each) and holds them."""
    deadline = time.monotonic() + seconds
    socks = open_sockets(port, count, deadline, 1)
    print(json.dumps({"opened": len(socks)}), flush=True)
    while time.monotonic() < deadline:
        time.sleep(0.2)


def start_attacker(args, kind, port, seconds, count=0):
    cmd = [sys.executable, os.path.abspath(__file__), "--attacker", kind, "--port", str(port),
           "--engine", args.engine, "--seconds", str(seconds), "--count", str(count)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def stop_attacker(p, timeout=5):
    if p.poll() is None:
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(5)


# ---------------------------------------------------------------- the normal client

class CapiQueryConn:
    """A libmariadb connection (bench/faults/clients.py) whose execute() also reads the
    result set, as a client must before its next statement."""

    def __init__(self, clients, port, e):
        import ctypes
        self.c = clients.CapiConn(port, e["APP_USER"], e["APP_PASSWORD"], e["DATABASE"])
        lib = self.c.lib
        lib.mysql_store_result.restype = ctypes.c_void_p
        lib.mysql_store_result.argtypes = [ctypes.c_void_p]
        lib.mysql_free_result.argtypes = [ctypes.c_void_p]

    def execute(self, sql):
        self.c.execute(sql)
        res = self.c.lib.mysql_store_result(self.c.m)
        if not res:
            raise self.c._error()
        self.c.lib.mysql_free_result(res)

    def close(self):
        self.c.close()


class Probe:
    def __init__(self, engine, env, port):
        import clients
        self.clients = clients
        self.engine, self.env, self.port = engine, env, port

    def connect(self):
        e = self.env
        if self.engine == "mariadb":
            return CapiQueryConn(self.clients, self.port, e)
        return self.clients.PgConn(self.port, e["APP_USER"], e["APP_PASSWORD"], e["DATABASE"])

    def window(self, seconds, session=None, max_logins=100000):
        """Logins (each followed by QUERIES_PER_LOGIN queries) for SECONDS; with SESSION, only
        queries on that open session (plus a login attempt every second, counted)."""
        logins, queries, errors = [], [], {}
        deadline = time.monotonic() + seconds
        n = 0
        if session is not None:
            import threading

            def try_logins():  # one login attempt a second, beside the open session
                while time.monotonic() < deadline:
                    t = time.monotonic()
                    try:
                        c = self.connect()
                        logins.append(time.monotonic() - t)
                        c.close()
                    except self.clients.ClientError as ex:
                        errors["login " + ex.code] = errors.get("login " + ex.code, 0) + 1
                    time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))

            th = threading.Thread(target=try_logins, daemon=True)
            th.start()
            while time.monotonic() < deadline and n < max_logins:
                n += 1
                t = time.monotonic()
                try:
                    session.execute("SELECT 1")
                    queries.append(time.monotonic() - t)
                except self.clients.ClientError as ex:
                    errors["query " + ex.code] = errors.get("query " + ex.code, 0) + 1
                    break
                time.sleep(0.005)
            th.join(timeout=10)
            return {"logins": summary(logins), "queries": summary(queries), "errors": errors}
        while time.monotonic() < deadline and n < max_logins:
            n += 1
            t = time.monotonic()
            try:
                c = self.connect()
            except self.clients.ClientError as ex:
                errors[ex.code] = errors.get(ex.code, 0) + 1
                time.sleep(0.05)
                continue
            logins.append(time.monotonic() - t)
            try:
                for _ in range(QUERIES_PER_LOGIN):
                    t = time.monotonic()
                    c.execute("SELECT 1")
                    queries.append(time.monotonic() - t)
            except self.clients.ClientError as ex:
                errors[ex.code] = errors.get(ex.code, 0) + 1
            c.close()
        return {"logins": summary(logins), "queries": summary(queries), "errors": errors}


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def summary(xs):
    return {"n": len(xs), "p50_ms": round(pct(xs, 50) * 1000, 3) if xs else None,
            "p99_ms": round(pct(xs, 99) * 1000, 3) if xs else None}


def ratios(base, att):
    out = {}
    for k in ("logins", "queries"):
        for p in ("p50_ms", "p99_ms"):
            b, a = base[k][p], att[k][p]
            out["%s_%s" % (k, p.split("_")[0])] = round(a / b, 2) if a and b else None
    return out


# ---------------------------------------------------------------- the phases

def phase_idle(args, s, probe):
    base = probe.window(args.window)
    att = start_attacker(args, "idle", s.port, args.window, IDLE_SOCKETS)
    opened = json.loads(att.stdout.readline())["opened"]
    rss0 = rss_kib(s.pid)
    log("idle: %d sockets open, sluice holds %d fds" % (opened, open_fds(s.pid)))
    cpu0 = proc_stat(s.pid)
    during = probe.window(args.window)
    cpu = proc_stat(s.pid) - cpu0
    held = json.loads(att.stdout.readline())
    fds_at_end = open_fds(s.pid)
    rss1 = rss_kib(s.pid)
    # The sockets must be gone once client_login_timeout_ms has passed since they opened.
    bound = time.monotonic() + args.login_timeout_s + 15
    last = {}
    while time.monotonic() < bound:
        line = att.stdout.readline()
        if not line:
            break
        last = json.loads(line)
        if last.get("still_open") == 0:
            break
    stop_attacker(att)
    return {"opened": opened, "held_s": held["held_s"], "fds_at_end": fds_at_end,
            "rss_rise_kib": rss1 - rss0, "still_open_after_timeout": last.get("still_open"),
            "sluice_cpu_s": round(cpu, 2),
            "last_closed_s": last.get("last_closed_s"), "baseline": base, "attack": during,
            "ratio": ratios(base, during)}


def phase_preauth(args, s, probe):
    base = probe.window(args.window)
    rss0 = rss_kib(s.pid)
    att = start_attacker(args, "preauth", s.port, args.window)
    peak = [rss0]
    import threading
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], rss_kib(s.pid))
            except OSError:
                return
            time.sleep(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    cpu0 = proc_stat(s.pid)
    during = probe.window(args.window)
    cpu = proc_stat(s.pid) - cpu0
    out, _ = att.communicate(timeout=30)
    stop.set()
    th.join()
    sends = sum(json.loads(x)["sends"] for x in out.splitlines() if x.strip())
    sent = sum(json.loads(x)["bytes_sent"] for x in out.splitlines() if x.strip())
    return {"senders": PREAUTH_SENDERS, "sends": sends, "bytes_sent": sent,
            "rss_before_kib": rss0, "rss_peak_kib": peak[0], "rss_rise_kib": peak[0] - rss0,
            "sluice_cpu_s": round(cpu, 2),
            "baseline": base, "attack": during, "ratio": ratios(base, during)}


def phase_fds(args, s, probe):
    session = probe.connect()
    session.execute("SELECT 1")
    base = probe.window(args.window, session=session)
    limit = open_fds(s.pid) + 32
    # The soft limit only: the hard one stays, so it can be lifted again afterwards.
    subprocess.run(["prlimit", "--pid", str(s.pid), "--nofile=%d:" % limit], check=True)
    att = start_attacker(args, "fill", s.port, args.window + 5, limit + 200)
    opened = json.loads(att.stdout.readline())["opened"]
    log("fds: limit %d, attacker holds %d sockets, sluice %d fds" % (limit, opened,
                                                                     open_fds(s.pid)))
    cpu0 = proc_stat(s.pid)
    log_size0 = os.path.getsize(s.log_path)
    t0 = time.monotonic()
    during = probe.window(args.window, session=session)
    cpu = proc_stat(s.pid) - cpu0
    elapsed = time.monotonic() - t0
    log_growth = os.path.getsize(s.log_path) - log_size0
    stop_attacker(att)
    session.close()
    # Lift the limit again (it is the soft and hard limit of the running process).
    subprocess.run(["prlimit", "--pid", str(s.pid), "--nofile=%d:" % args.nofile], check=True)
    return {"limit": limit, "attacker_sockets": opened, "sluice_cpu_s": round(cpu, 2),
            "elapsed_s": round(elapsed, 1), "log_growth_bytes": log_growth,
            "baseline": base, "attack": during, "ratio": ratios(base, during)}


def phase_bigcmd(args, s, env):
    # The whole command is 64 MiB, sluice's bound on one client command or message: MySQL
    # the COM_QUERY byte and the statement; PostgreSQL the Query message's length field
    # (itself, the statement and its NUL).
    overhead = 1 if args.engine == "mariadb" else 5
    n = BIG_COMMAND - overhead - len("SELECT LENGTH('')")
    sql = "SELECT LENGTH('" + "a" * n + "')"
    cpus, walls = [], []
    for _ in range(3):
        if args.engine == "mariadb":
            import pymysql
            c = pymysql.connect(host="127.0.0.1", port=s.port, user=env["APP_USER"],
                                password=env["APP_PASSWORD"], database=env["DATABASE"],
                                connect_timeout=10, read_timeout=300, autocommit=True,
                                max_allowed_packet=256 << 20)
        else:
            import psycopg2
            c = psycopg2.connect(host="127.0.0.1", port=s.port, user=env["APP_USER"],
                                 password=env["APP_PASSWORD"], dbname=env["DATABASE"],
                                 sslmode="disable", connect_timeout=10)
            c.autocommit = True
        cur = c.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()
        cpu0, t0 = proc_stat(s.pid), time.monotonic()
        cur.execute(sql)
        got = cur.fetchone()[0]
        walls.append(time.monotonic() - t0)
        cpus.append(proc_stat(s.pid) - cpu0)
        c.close()
        if got != n:
            raise RuntimeError("64 MiB command returned %r" % got)
    return {"command_bytes": BIG_COMMAND, "cpu_s": [round(x, 3) for x in cpus],
            "cpu_median_s": round(statistics.median(cpus), 3),
            "wall_s": [round(x, 2) for x in walls]}


def raise_max_allowed_packet(env):
    import pymysql
    for port in [int(env["PRIMARY_PORT"])] + env["REPLICA_PORTS_LIST"]:
        c = pymysql.connect(host="127.0.0.1", port=port, user=env["ADMIN_USER"],
                            password=env["ADMIN_PASSWORD"], autocommit=True)
        with c.cursor() as cur:
            cur.execute("SET GLOBAL max_allowed_packet = 256 * 1024 * 1024")
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["mariadb", "postgres"], required=True)
    ap.add_argument("--attacker")
    ap.add_argument("--port", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--sluice")
    ap.add_argument("--cluster")
    ap.add_argument("--window", type=float, default=60.0)
    ap.add_argument("--login-timeout-s", type=float, default=10.0)
    ap.add_argument("--nofile", type=int, default=20000)
    ap.add_argument("--attacks", default="idle,preauth,fds,bigcmd")
    ap.add_argument("--json")
    args = ap.parse_args()

    if args.attacker:
        {"idle": lambda: attack_idle(args.port, args.seconds, args.count),
         "preauth": lambda: attack_preauth(args.port, args.seconds, args.engine),
         "fill": lambda: attack_fill(args.port, args.seconds, args.count)}[args.attacker]()
        return 0

    from sluice_proc import Sluice, read_cluster_env
    env = read_cluster_env(args.cluster)
    if args.engine == "mariadb":
        raise_max_allowed_packet(env)
    # The sockets of the idle attack must outlive the window: the login timeout is set
    # longer than it, and the check afterwards waits for it.
    login_timeout_ms = int((args.window + 5) * 1000)
    args.login_timeout_s = login_timeout_ms / 1000.0
    # Room for all 5,000 idle sockets (the default is 1,024 per worker).
    s = Sluice(args.sluice, env, workers=2, replicas=False, log_level="info",
               cluster_options={"client_login_timeout_ms": login_timeout_ms},
               server_max_connections=50,
               sluice_options={"max_unauthenticated_connections": IDLE_SOCKETS + 1000})
    s.start()
    result = {"engine": args.engine, "window_s": args.window,
              "client_login_timeout_ms": login_timeout_ms,
              "loadavg_start": open("/proc/loadavg").read().split()[:3]}
    probe = Probe(args.engine, env, s.port)
    try:
        for a in args.attacks.split(","):
            log("%s: phase %s (window %.0f s)" % (args.engine, a, args.window))
            if a == "idle":
                result["idle"] = phase_idle(args, s, probe)
            elif a == "preauth":
                result["preauth"] = phase_preauth(args, s, probe)
            elif a == "fds":
                result["fds"] = phase_fds(args, s, probe)
            elif a == "bigcmd":
                result["bigcmd"] = phase_bigcmd(args, s, env)
            else:
                raise SystemExit("unknown attack %s" % a)
            log(json.dumps(result[a]))
    finally:
        result["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        result["sluice_alive"] = s.alive()
        s.stop()
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
