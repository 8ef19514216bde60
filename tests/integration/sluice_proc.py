"""sluice_proc: start one sluice process in front of a harness cluster, for integration tests.

Writes a TOML config for the cluster described by DIR/cluster.env (tests/cluster/cluster.sh),
runs `sluice --config FILE` on free loopback ports, waits until the client port accepts, and
stops that process by its PID (SIGTERM, then SIGKILL after a bound) on stop(), on leaving a
`with` block, or at interpreter exit. Usable for both cluster kinds:

    from sluice_proc import Sluice, read_cluster_env
    env = read_cluster_env(os.environ["SLUICE_MARIADB_CLUSTER_DIR"])
    with Sluice(SLUICE_BINARY, env, pool_mode="transaction", server_max_connections=50) as s:
        pymysql.connect(host="127.0.0.1", port=s.port, user=env["APP_USER"], ...)

Only options the config file knows (docs/configuration.md) are written; anything else goes
through `extra_cluster_toml` (keys inside this [[cluster]], before its servers) or
`extra_toml` (whole tables appended at the end, e.g. [[query_rule]]).
"""
import atexit
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time

_RUNNING = set()


def read_cluster_env(cluster_dir):
    """DIR/cluster.env as a dict; REPLICA_PORTS / REPLICA_NAMES also as lists (…_LIST)."""
    env = {}
    with open(os.path.join(cluster_dir, "cluster.env")) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                parts = shlex.split(v)
                env[k] = parts[0] if parts else ""
    env["REPLICA_PORTS_LIST"] = [int(p) for p in env.get("REPLICA_PORTS", "").split()]
    env["REPLICA_NAMES_LIST"] = env.get("REPLICA_NAMES", "").split()
    return env


def admin_query(port, password, sql, user="admin", timeout=120, dicts=False):
    """Runs one statement on a sluice admin port (MySQL protocol) and returns its rows
    (tuples, or dicts by column name when DICTS)."""
    import pymysql  # only the tests that talk to the admin port need it
    cursor = pymysql.cursors.DictCursor if dicts else pymysql.cursors.Cursor
    c = pymysql.connect(host="127.0.0.1", port=port, user=user, password=password,
                        connect_timeout=5, read_timeout=timeout, autocommit=True,
                        cursorclass=cursor)
    try:
        with c.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        c.close()


def free_port():
    """A port the kernel had free a moment ago on 127.0.0.1 (racy, good enough for tests)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=30.0, proc=None):
    """Waits until 127.0.0.1:port accepts a connection; raises if proc exits or time passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("sluice exited with status %d before listening" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on 127.0.0.1:%d after %.0fs" % (port, timeout))


def _q(s):
    """A TOML basic string."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return _q(v)


_MADE_DIRS = []


class Sluice:
    """One sluice process with one [[cluster]] (the harness cluster) and its app user."""

    def __init__(self, binary, env, *, kind=None, pool_mode="transaction", read_your_writes_ms=0,
                 max_client_connections=None, server_max_connections=None, workers=2,
                 log_level="info", replicas=True, replica_max_lag_ms=None, users=None,
                 cluster_options=None, extra_cluster_toml="", extra_toml="", workdir=None,
                 start_timeout=30.0, admin_options=None, sluice_options=None):
        """env: read_cluster_env(); kind: "mysql" or "postgres" (default: from env["KIND"]).

        replicas=False lists only the primary; a sluice with replica discovery may still
        find the replicas through the primary. users: list of dicts with [[user]] keys; default: the cluster's app user with its
        database as default_schema. cluster_options: more [[cluster]] keys as a dict;
        sluice_options: more [sluice] keys as a dict.
        """
        self.binary = binary
        self.env = env
        if kind is None:
            kind = "mysql" if env.get("KIND") == "mariadb" else "postgres"
        if kind not in ("mysql", "postgres"):
            raise ValueError("kind must be mysql or postgres, got %r" % kind)
        self.kind = kind
        self.port = free_port()
        self.admin_port = free_port()
        while self.admin_port == self.port:
            self.admin_port = free_port()
        self.proc = None
        self.pid = None
        self.start_timeout = start_timeout
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix="sluice-test-")
            _MADE_DIRS.append(workdir)  # removed at exit (SLUICE_KEEP_TEST_DIRS=1 keeps them)
        self.workdir = workdir
        self.config_path = os.path.join(self.workdir, "sluice.toml")
        self.log_path = os.path.join(self.workdir, "sluice.log")
        self.admin_password = "admin_pw"
        if users is None:
            users = [{"name": env["APP_USER"], "password": env["APP_PASSWORD"],
                      "default_schema": env.get("DATABASE", "")}]
        opts = dict(cluster_options or {})
        opts["pool_mode"] = pool_mode
        opts["read_your_writes_ms"] = read_your_writes_ms
        if max_client_connections is not None:
            opts["max_client_connections"] = max_client_connections
        self.admin_options = dict(admin_options or {})
        self.sluice_options = dict(sluice_options or {})
        self.config = self._render(opts, users, workers, log_level, replicas,
                                   server_max_connections, replica_max_lag_ms,
                                   extra_cluster_toml, extra_toml)

    def _render(self, opts, users, workers, log_level, replicas, server_max_connections,
                replica_max_lag_ms, extra_cluster_toml, extra_toml):
        env = self.env
        sluice_options = dict(self.sluice_options)
        out = ["[sluice]", "workers = %d" % workers, "log_level = %s" % _q(log_level),
               "drain_timeout_ms = %d" % sluice_options.pop("drain_timeout_ms", 1000)]
        out += ["%s = %s" % (k, _toml_value(v)) for k, v in sluice_options.items()]
        out += ["",
               "[admin]", "listen = %s" % _q("127.0.0.1:%d" % self.admin_port),
               "user = \"admin\"", "password = %s" % _q(self.admin_password)]
        out += ["%s = %s" % (k, _toml_value(v)) for k, v in self.admin_options.items()]
        out += ["",
               "[[cluster]]", "name = \"test\"",
               "protocol = %s" % _q("mysql" if self.kind == "mysql" else "postgresql"),
               "listen = %s" % _q("127.0.0.1:%d" % self.port),
               "monitor_user = %s" % _q(env["MONITOR_USER"]),
               "monitor_password = %s" % _q(env["MONITOR_PASSWORD"])]
        for k, v in opts.items():
            out.append("%s = %s" % (k, _toml_value(v)))
        if extra_cluster_toml:
            out.append(extra_cluster_toml)
        servers = [(int(env["PRIMARY_PORT"]), "primary")]
        if replicas:
            servers += [(p, "replica") for p in env["REPLICA_PORTS_LIST"]]
        for port, role in servers:
            out += ["", "  [[cluster.server]]", "  host = \"127.0.0.1\"", "  port = %d" % port,
                    "  role = %s" % _q(role)]
            if server_max_connections is not None:
                out.append("  max_connections = %d" % server_max_connections)
            if role == "replica" and replica_max_lag_ms is not None:
                out.append("  max_lag_ms = %d" % replica_max_lag_ms)
        for u in users:
            out += ["", "[[user]]", "cluster = \"test\""]
            out += ["%s = %s" % (k, _toml_value(v)) for k, v in u.items()]
        if extra_toml:
            out += ["", extra_toml]
        return "\n".join(out) + "\n"

    def start(self):
        with open(self.config_path, "w") as f:
            f.write(self.config)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "--config", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        self.pid = self.proc.pid
        _RUNNING.add(self)
        try:
            wait_port(self.port, self.start_timeout, self.proc)
        except Exception:
            self.stop()
            raise RuntimeError("sluice did not start; log %s:\n%s" % (self.log_path, self.log_tail()))
        return self

    def stop(self, timeout=10.0):
        """SIGTERM by PID, SIGKILL after timeout; returns the exit status (None if never run)."""
        if self.proc is None:
            return None
        _RUNNING.discard(self)
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        return self.proc.returncode

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self):
        """VmRSS of the sluice process in KiB, from /proc/PID/status."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS for pid %d" % self.pid)

    def log_tail(self, n=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


@atexit.register
def _stop_all():
    for s in list(_RUNNING):
        s.stop(timeout=5)
    # The work dirs this process made (config, log): a failing test has already printed its
    # log's tail; set SLUICE_KEEP_TEST_DIRS=1 to keep them whole.
    if os.environ.get("SLUICE_KEEP_TEST_DIRS") != "1":
        for d in _MADE_DIRS:
            shutil.rmtree(d, ignore_errors=True)
