"""Clients of the fault campaign: the writer, the reader and the per-node role prober.

The MariaDB writer talks through libmariadb (ctypes on libmariadb.so.3, the C API the mariadb
CLI uses: stricter about packets than PyMySQL), the MariaDB reader through PyMySQL, both
PostgreSQL clients through psycopg2 (libpq). Every connect and statement has a time bound,
and every loop ends by itself at its deadline even if nobody stops it.
"""
import ctypes
import socket
import threading
import time

import psycopg2
import pymysql

# Longest a client waits for one statement before it gives up: longer than the SIGSTOP (10 s)
# so that a statement sluice leaves hanging on a stopped primary shows as such.
STMT_TIMEOUT_S = 15
CONNECT_TIMEOUT_S = 3


class ClientError(Exception):
    """A failed statement or connect as the client saw it: code is the client library's
    error number (MariaDB) or SQLSTATE (PostgreSQL); "conn" when libpq gave none."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code = str(code)
        self.message = message


# ---------------------------------------------------------------- MariaDB through libmariadb

_MYSQL_OPT_CONNECT_TIMEOUT = 0
_MYSQL_OPT_READ_TIMEOUT = 11
_MYSQL_OPT_WRITE_TIMEOUT = 12
_lib = None
_lib_lock = threading.Lock()


def _libmariadb():
    global _lib
    with _lib_lock:
        if _lib is None:
            lib = ctypes.CDLL("libmariadb.so.3")
            lib.mysql_init.restype = ctypes.c_void_p
            lib.mysql_init.argtypes = [ctypes.c_void_p]
            lib.mysql_options.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
            lib.mysql_real_connect.restype = ctypes.c_void_p
            lib.mysql_real_connect.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                               ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint,
                                               ctypes.c_char_p, ctypes.c_ulong]
            lib.mysql_query.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            lib.mysql_errno.argtypes = [ctypes.c_void_p]
            lib.mysql_errno.restype = ctypes.c_uint
            lib.mysql_error.argtypes = [ctypes.c_void_p]
            lib.mysql_error.restype = ctypes.c_char_p
            lib.mysql_close.argtypes = [ctypes.c_void_p]
            # The first mysql_init initialises the library, which is not thread safe.
            lib.mysql_close(lib.mysql_init(None))
            _lib = lib
        return _lib


class CapiConn:
    """One libmariadb connection, autocommit (the server default)."""

    def __init__(self, port, user, password, db):
        lib = _libmariadb()
        self.lib = lib
        self.m = lib.mysql_init(None)
        for opt, v in ((_MYSQL_OPT_CONNECT_TIMEOUT, CONNECT_TIMEOUT_S),
                       (_MYSQL_OPT_READ_TIMEOUT, STMT_TIMEOUT_S),
                       (_MYSQL_OPT_WRITE_TIMEOUT, STMT_TIMEOUT_S)):
            val = ctypes.c_uint(v)
            lib.mysql_options(self.m, opt, ctypes.byref(val))
        if not lib.mysql_real_connect(self.m, b"127.0.0.1", user.encode(), password.encode(),
                                      db.encode(), port, None, 0):
            err = self._error()
            self.close()
            raise err

    def _error(self):
        return ClientError(self.lib.mysql_errno(self.m),
                           (self.lib.mysql_error(self.m) or b"").decode(errors="replace"))

    def execute(self, sql):
        if self.lib.mysql_query(self.m, sql.encode()) != 0:
            raise self._error()

    def close(self):
        if self.m:
            self.lib.mysql_close(self.m)
            self.m = None


class PyMysqlConn:
    def __init__(self, port, user, password, db, timeout=STMT_TIMEOUT_S):
        try:
            self.c = pymysql.connect(host="127.0.0.1", port=port, user=user, password=password,
                                     database=db, connect_timeout=CONNECT_TIMEOUT_S,
                                     read_timeout=timeout, write_timeout=timeout, autocommit=True)
        except pymysql.err.MySQLError as e:
            raise _pymysql_error(e)

    def execute(self, sql):
        self.query_all(sql)

    def query_one(self, sql):
        try:
            with self.c.cursor() as cur:
                cur.execute(sql)
                row = cur.fetchone()
                return row[0] if row else None
        except pymysql.err.MySQLError as e:
            raise _pymysql_error(e)

    def query_all(self, sql):
        try:
            with self.c.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        except pymysql.err.MySQLError as e:
            raise _pymysql_error(e)

    def close(self):
        try:
            self.c.close()
        except Exception:  # noqa: BLE001 -- closing a broken connection
            pass


def _pymysql_error(e):
    code = e.args[0] if e.args and isinstance(e.args[0], int) else "pymysql"
    return ClientError(code, str(e.args[1] if len(e.args) > 1 else e))


# ---------------------------------------------------------------- PostgreSQL through libpq

class PgConn:
    """psycopg2, autocommit. libpq has no read timeout: a statement that outlives
    STMT_TIMEOUT_S is cut by shutting its socket down from the Watchdog."""

    def __init__(self, port, user, password, db):
        try:
            self.c = psycopg2.connect(host="127.0.0.1", port=port, user=user, password=password,
                                      dbname=db, connect_timeout=CONNECT_TIMEOUT_S)
            self.c.autocommit = True
        except psycopg2.Error as e:
            raise _pg_error(e)

    def fileno(self):
        return self.c.fileno()

    def execute(self, sql):
        self.query_one(sql, fetch=False)

    def query_one(self, sql, fetch=True):
        try:
            with self.c.cursor() as cur:
                cur.execute(sql)
                if not fetch:
                    return None
                row = cur.fetchone()
                return row[0] if row else None
        except psycopg2.Error as e:
            raise _pg_error(e)

    def query_all(self, sql):
        try:
            with self.c.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        except psycopg2.Error as e:
            raise _pg_error(e)

    def close(self):
        try:
            self.c.close()
        except Exception:  # noqa: BLE001
            pass


def _pg_error(e):
    msg = (getattr(e, "pgerror", None) or str(e)).strip().splitlines()
    # An error without a message still says what raised it (psycopg2's class and args).
    return ClientError(getattr(e, "pgcode", None) or "conn",
                       msg[0] if msg else "%s%r" % (type(e).__name__, e.args))


class Watchdog:
    """Bounds a blocking libpq call: arm(conn) before it, disarm() after; past the bound the
    connection's socket is shut down, which makes the call fail at once."""

    def __init__(self, bound_s):
        self.bound = bound_s
        self.lock = threading.Lock()
        self.armed = None
        self.fired = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def arm(self, conn):
        with self.lock:
            self.armed = (conn, time.monotonic())

    def disarm(self):
        with self.lock:
            self.armed = None

    def _run(self):
        while not self.stop.wait(0.2):
            with self.lock:
                if self.armed is None or time.monotonic() - self.armed[1] < self.bound:
                    continue
                conn, _ = self.armed
                self.armed = None
                try:
                    s = socket.socket(fileno=conn.fileno())
                    s.shutdown(socket.SHUT_RDWR)
                    s.detach()
                    self.fired += 1
                except Exception:  # noqa: BLE001 -- the connection went away meanwhile
                    pass


# ---------------------------------------------------------------- the cluster's two kinds

class Engine:
    """What differs between MariaDB and PostgreSQL for the campaign."""

    def __init__(self, kind, env):
        self.kind = kind
        self.env = env
        self.db = env["DATABASE"]

    def app_writer(self, port):
        e = self.env
        if self.kind == "mariadb":
            return CapiConn(port, e["APP_USER"], e["APP_PASSWORD"], self.db)
        return PgConn(port, e["APP_USER"], e["APP_PASSWORD"], self.db)

    def app_reader(self, port):
        e = self.env
        if self.kind == "mariadb":
            return PyMysqlConn(port, e["APP_USER"], e["APP_PASSWORD"], self.db)
        return PgConn(port, e["APP_USER"], e["APP_PASSWORD"], self.db)

    def direct(self, port, timeout=STMT_TIMEOUT_S):
        e = self.env
        if self.kind == "mariadb":
            return PyMysqlConn(port, e["ADMIN_USER"], e["ADMIN_PASSWORD"], self.db, timeout)
        return PgConn(port, e["ADMIN_USER"], e["ADMIN_PASSWORD"], self.db)

    def writable_sql(self):
        """True when the node accepts writes. PostgreSQL: not in recovery and not fenced by
        default_transaction_read_only (what sluice's fencing sets)."""
        if self.kind == "mariadb":
            return "SELECT @@read_only = 0"
        return ("SELECT NOT pg_is_in_recovery() AND "
                "current_setting('default_transaction_read_only') = 'off'")

    def create_table_sql(self):
        return ["CREATE TABLE IF NOT EXISTS faults (id BIGINT PRIMARY KEY, at DOUBLE PRECISION)"] + (
            ["GRANT ALL ON faults TO %s" % self.env["APP_USER"]] if self.kind == "postgres" else [])


def _now():
    return time.monotonic()


class Writer(threading.Thread):
    """Autocommit INSERTs of unique ids through sluice, one connection, reconnect on error.
    acked: (id, started, done); errors: (started, done, code, message)."""

    def __init__(self, engine, port, deadline, pause_s=0.005):
        super().__init__(daemon=True)
        self.engine, self.port, self.deadline, self.pause = engine, port, deadline, pause_s
        self.acked = []
        self.errors = []
        self.stop = threading.Event()
        self.next_id = 1
        self.watchdog = Watchdog(STMT_TIMEOUT_S) if engine.kind == "postgres" else None

    def run(self):
        conn = None
        while not self.stop.is_set() and _now() < self.deadline:
            rid = self.next_id
            self.next_id += 1
            t0 = _now()
            try:
                if conn is None:
                    conn = self.engine.app_writer(self.port)
                if self.watchdog:
                    self.watchdog.arm(conn)
                conn.execute("INSERT INTO faults (id, at) VALUES (%d, %f)" % (rid, time.time()))
                if self.watchdog:
                    self.watchdog.disarm()
                self.acked.append((rid, t0, _now()))
            except ClientError as e:
                if self.watchdog:
                    self.watchdog.disarm()
                self.errors.append((t0, _now(), e.code, e.message))
                if conn is not None:
                    conn.close()
                conn = None
                self.stop.wait(0.05)
            self.stop.wait(self.pause)
        if conn is not None:
            conn.close()
        if self.watchdog:
            self.watchdog.stop.set()


class Reader(threading.Thread):
    """SELECTs through sluice (replicas serve them); errors: (started, done, code, message)."""

    def __init__(self, engine, port, deadline, pause_s=0.02):
        super().__init__(daemon=True)
        self.engine, self.port, self.deadline, self.pause = engine, port, deadline, pause_s
        self.reads = 0
        self.errors = []
        self.stop = threading.Event()
        self.watchdog = Watchdog(STMT_TIMEOUT_S) if engine.kind == "postgres" else None

    def run(self):
        conn = None
        while not self.stop.is_set() and _now() < self.deadline:
            t0 = _now()
            try:
                if conn is None:
                    conn = self.engine.app_reader(self.port)
                if self.watchdog:
                    self.watchdog.arm(conn)
                conn.query_one("SELECT max(id) FROM faults")
                if self.watchdog:
                    self.watchdog.disarm()
                self.reads += 1
            except ClientError as e:
                if self.watchdog:
                    self.watchdog.disarm()
                self.errors.append((t0, _now(), e.code, e.message))
                if conn is not None:
                    conn.close()
                conn = None
                self.stop.wait(0.05)
            self.stop.wait(self.pause)
        if conn is not None:
            conn.close()
        if self.watchdog:
            self.watchdog.stop.set()


class Prober(threading.Thread):
    """Asks one node directly, every interval, whether it accepts writes. last: (when, True /
    False), None while it has no answer on a working connection: a hung node keeps its last
    answer until the watchdog gives up on it (count_writable() ignores one older than
    `fresh_s`); a failed probe (the node killed, or its fencing terminated our session) drops
    it at once. A writable answer is evidence while its connection lives, no longer: kept
    after a kill or a fence, it would count the old primary writable beside a replica
    promoted a moment later."""

    def __init__(self, engine, name, port, deadline, interval_s=0.2):
        super().__init__(daemon=True)
        self.engine, self.name, self.port = engine, name, port
        self.deadline, self.interval = deadline, interval_s
        self.last = None
        self.stop = threading.Event()
        self.watchdog = Watchdog(2) if engine.kind == "postgres" else None

    def run(self):
        conn = None
        while not self.stop.is_set() and _now() < self.deadline:
            try:
                if conn is None:
                    conn = self.engine.direct(self.port, timeout=2)
                if self.watchdog:
                    self.watchdog.arm(conn)
                v = conn.query_one(self.engine.writable_sql())
                if self.watchdog:
                    self.watchdog.disarm()
                self.last = (_now(), bool(v))
            except ClientError:
                if self.watchdog:
                    self.watchdog.disarm()
                self.last = None
                if conn is not None:
                    conn.close()
                conn = None
            self.stop.wait(self.interval)
        if conn is not None:
            conn.close()
        if self.watchdog:
            self.watchdog.stop.set()


def count_writable(probers, fresh_s=1.0):
    """Nodes whose answer of the last fresh_s seconds says writable, by name."""
    now = _now()
    return sorted(p.name for p in probers
                  if p.last is not None and p.last[1] and now - p.last[0] <= fresh_s)
