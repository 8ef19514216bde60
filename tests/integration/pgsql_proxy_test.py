#!/usr/bin/python3
"""PostgreSQL through sluice against the harness cluster (tests/cluster/cluster.sh).

Starts sluice with a config written for the cluster in $SLUICE_PG_CLUSTER_DIR, then drives it
with psql, psycopg2, pgbench and a raw-protocol client (for SQLSTATEs of login errors,
malformed input and streaming). Usage: pgsql_proxy_test.py SLUICE_BINARY [unittest args].
"""
import base64
import hashlib
import hmac
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import psycopg2
import psycopg2.errors

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sluice_proc import admin_query, free_port, read_cluster_env  # noqa: E402

SLUICE = None
CLUSTER_DIR = os.environ.get("SLUICE_PG_CLUSTER_DIR", "")


def wait_port(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("sluice exited with %d" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("sluice did not listen on %d" % port)


# ---- a minimal raw protocol client: enough to see SQLSTATEs and pace reads ----------------

def msg(t, payload):
    return t + struct.pack("!i", len(payload) + 4) + payload


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf


def recv_msg(sock):
    hdr = recv_exact(sock, 5)
    (length,) = struct.unpack("!i", hdr[1:])
    return hdr[:1], recv_exact(sock, length - 4)


def error_fields(payload):
    out = {}
    for part in payload.split(b"\0"):
        if part:
            out[chr(part[0])] = part[1:].decode()
    return out


def raw_login(port, user, password, database, timeout=10):
    """Logs in with SCRAM-SHA-256. Returns (socket, None) or (None, error fields)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    body = struct.pack("!i", 196608) + b"user\0" + user.encode() + b"\0database\0" + \
        database.encode() + b"\0\0"
    sock.sendall(struct.pack("!i", len(body) + 4) + body)
    nonce = base64.b64encode(os.urandom(18)).decode()
    client_first_bare = "n=,r=" + nonce
    salted = auth_message = None
    while True:
        t, p = recv_msg(sock)
        if t == b"E":
            sock.close()
            return None, error_fields(p)
        if t == b"Z":
            return sock, None
        if t != b"R":
            continue
        (code,) = struct.unpack("!i", p[:4])
        if code == 10:
            first = ("n,," + client_first_bare).encode()
            sock.sendall(msg(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
        elif code == 11:
            server_first = p[4:].decode()
            attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
            salted = hashlib.pbkdf2_hmac("sha256", password.encode(),
                                         base64.b64decode(attrs["s"]), int(attrs["i"]))
            without_proof = "c=biws,r=" + attrs["r"]
            auth_message = ",".join([client_first_bare, server_first, without_proof])
            client_key = hmac.new(salted, b"Client Key", "sha256").digest()
            stored = hashlib.sha256(client_key).digest()
            sig = hmac.new(stored, auth_message.encode(), "sha256").digest()
            proof = bytes(a ^ b for a, b in zip(client_key, sig))
            final = without_proof + ",p=" + base64.b64encode(proof).decode()
            sock.sendall(msg(b"p", final.encode()))


def simple_query(sock, sql):
    """Sends Query; returns (rows, error fields or None) at ReadyForQuery."""
    sock.sendall(msg(b"Q", sql.encode() + b"\0"))
    rows, err = [], None
    while True:
        t, p = recv_msg(sock)
        if t == b"D":
            (n,) = struct.unpack("!h", p[:2])
            vals, off = [], 2
            for _ in range(n):
                (ln,) = struct.unpack("!i", p[off:off + 4])
                off += 4
                vals.append(None if ln < 0 else p[off:off + ln].decode())
                off += max(ln, 0)
            rows.append(vals)
        elif t == b"E":
            err = error_fields(p)
        elif t == b"Z":
            return rows, err


def terminate_matching(direct, ports, marker, rounds=50):
    """pg_terminate_backend() on the statements whose text holds marker, on every node of
    ports (direct(port): a superuser connection), polling until one is found (bounded)."""
    for _ in range(rounds):
        killed = False
        for port in ports:
            d = direct(port)
            d.autocommit = True
            dc = d.cursor()
            dc.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE query LIKE %s AND pid <> pg_backend_pid()", ("%" + marker + "%",))
            killed |= any(r[0] for r in dc.fetchall())
            d.close()
        if killed:
            return
        time.sleep(0.1)


class PgsqlProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = read_cluster_env(CLUSTER_DIR)
        cls.primary = int(cls.env["PRIMARY_PORT"])
        cls.replicas = [int(p) for p in cls.env["REPLICA_PORTS"].split()]
        cls.user, cls.password = cls.env["APP_USER"], cls.env["APP_PASSWORD"]
        cls.db = cls.env["DATABASE"]
        cls.tmp = tempfile.mkdtemp(prefix="sluice-pgsql-")
        cls.port = free_port()
        cls.session_port = free_port()
        cls.small_port = free_port()
        cls.dead_port = free_port()
        cls.unreachable = free_port()  # nothing listens there
        servers = '  [[cluster.server]]\n  host = "127.0.0.1"\n  port = %d\n  role = "primary"\n' % cls.primary
        for p in cls.replicas:
            servers += '  [[cluster.server]]\n  host = "127.0.0.1"\n  port = %d\n  role = "replica"\n' % p

        # Replicas are asynchronous: a session that wrote reads from the primary for a
        # while, so the tests read their own writes (read_your_writes_ms).
        def cluster(name, port, mode, wg, maxc=1000, server_block=servers, extra=""):
            return ('[[cluster]]\nname = "%s"\nprotocol = "postgresql"\nlisten = "127.0.0.1:%d"\n'
                    'pool_mode = "%s"\nwriter_hostgroup = %d\nreader_hostgroup = %d\n'
                    'max_client_connections = %d\nconnect_timeout_ms = 2000\n'
                    'read_your_writes_ms = 5000\n%s'
                    'monitor_user = "monitor"\nmonitor_password = "monitor_pw"\n%s\n'
                    % (name, port, mode, wg, wg + 1, maxc, extra, server_block))

        dead = '  [[cluster.server]]\n  host = "127.0.0.1"\n  port = %d\n  role = "primary"\n' % cls.unreachable
        cls.admin_port = free_port()
        config = ('[sluice]\nworkers = 2\nlog_level = "info"\n[admin]\nlisten = "127.0.0.1:%d"\n'
                  'user = "admin"\npassword = "x"\n' % cls.admin_port)
        config += cluster("pg_tx", cls.port, "transaction", 10)
        config += cluster("pg_session", cls.session_port, "session", 20)
        config += cluster("pg_small", cls.small_port, "transaction", 30, maxc=2)
        # Writes (and logins, which go to the writer) are held from the primary's first failed
        # check for write_hold_timeout_ms; 0 here: no hold, so what is measured is the error a
        # client gets from a server that cannot be reached, not the length of a hold.
        config += cluster("pg_dead", cls.dead_port, "transaction", 40, server_block=dead,
                          extra="write_hold_timeout_ms = 0\n")
        for i, c in enumerate(["pg_tx", "pg_session", "pg_small", "pg_dead"]):
            name = cls.user if i == 0 else "%s_%d" % (cls.user, i)
            config += ('[[user]]\nname = "%s"\npassword = "%s"\ncluster = "%s"\n'
                       'backend_user = "%s"\nbackend_password = "%s"\n'
                       % (name, cls.password, c, cls.user, cls.password))
        cls.config = os.path.join(cls.tmp, "sluice.toml")
        with open(cls.config, "w") as f:
            f.write(config)
        cls.log = open(os.path.join(cls.tmp, "sluice.log"), "w")
        # Under ASan, freed memory sits in a 256 MB quarantine and would read as growth in
        # the bounded-memory test; a small quarantine keeps RSS meaningful there.
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "quarantine_size_mb=1:thread_local_quarantine_size_kb=64")
        cls.proc = subprocess.Popen([SLUICE, "--config", cls.config], stdout=cls.log,
                                    stderr=subprocess.STDOUT, env=env)
        try:
            for p in (cls.port, cls.session_port, cls.small_port, cls.dead_port):
                wait_port(p, cls.proc)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.send_signal(signal.SIGTERM)
            try:
                cls.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                cls.proc.wait()
        cls.log.close()
        with open(os.path.join(cls.tmp, "sluice.log")) as f:
            tail = f.read()[-3000:]
        sys.stderr.write("--- sluice log tail ---\n" + tail + "\n")

    # ---- helpers ----
    def connect(self, port=None, user=None, **kw):
        return psycopg2.connect(host="127.0.0.1", port=port or self.port, user=user or self.user,
                                password=self.password, dbname=self.db, sslmode="prefer",
                                connect_timeout=10, **kw)

    def direct(self, port):
        return psycopg2.connect(host=self.env["SOCKET_DIR"], port=port, user="postgres",
                                dbname=self.db)

    def psql(self, script, port=None):
        env = dict(os.environ, PGPASSWORD=self.password)
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port or self.port), "-U",
                               self.user, "-d", self.db, "-X", "-v", "ON_ERROR_STOP=1", "-At"],
                              input=script, env=env, capture_output=True, text=True, timeout=120,
                              cwd=self.tmp)

    def pgbench(self, *args, timeout=120):
        env = dict(os.environ, PGPASSWORD=self.password)
        return subprocess.run(["pgbench", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]
                              + list(args) + [self.db], env=env, capture_output=True, text=True,
                              timeout=timeout)

    def stat_sum(self, ports, col="xact_commit"):
        total = 0
        for p in ports:
            c = self.direct(p)
            c.autocommit = True
            cur = c.cursor()
            cur.execute("SELECT pg_stat_clear_snapshot()")
            cur.execute("SELECT %s FROM pg_stat_database WHERE datname = %%s" % col, (self.db,))
            total += cur.fetchone()[0]
            c.close()
        return total

    # ---- tests ----
    def test_psql_ddl_dml_transaction_copy(self):
        out = os.path.join(self.tmp, "rows.csv")
        r = self.psql("""
DROP TABLE IF EXISTS psql_t;
CREATE TABLE psql_t (id int PRIMARY KEY, v text);
INSERT INTO psql_t SELECT g, 'v' || g FROM generate_series(1, 500) g;
BEGIN;
UPDATE psql_t SET v = 'changed' WHERE id = 1;
SELECT v FROM psql_t WHERE id = 1;
COMMIT;
\\copy psql_t TO '%s' CSV
TRUNCATE psql_t;
\\copy psql_t FROM '%s' CSV
SELECT count(*), min(id), max(id) FROM psql_t;
SELECT v FROM psql_t WHERE id = 1;
""" % (out, out))
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.split()
        self.assertIn("500|1|500", lines)
        self.assertEqual(lines.count("changed"), 2)
        with open(out) as f:
            self.assertEqual(len(f.readlines()), 500)

    def test_psycopg2_login_parameters_transactions(self):
        c = self.connect()
        self.assertEqual(c.server_version // 10000, 15)
        self.assertEqual(c.encoding, "UTF8")
        self.assertGreater(c.get_backend_pid(), 0)
        cur = c.cursor()
        cur.execute("DROP TABLE IF EXISTS py_t")
        cur.execute("CREATE TABLE py_t (id int PRIMARY KEY, v text, n numeric)")
        c.commit()
        cur.executemany("INSERT INTO py_t VALUES (%s, %s, %s)",
                        [(i, "it's %d" % i, i / 4) for i in range(20)])
        c.commit()
        cur.execute("UPDATE py_t SET v = %s WHERE id = %s", ("rolled back", 3))
        c.rollback()
        # Read-your-transaction: inside a transaction a read sees the transaction's write.
        cur.execute("INSERT INTO py_t VALUES (100, 'tx', 0)")
        cur.execute("SELECT v FROM py_t WHERE id = 100")
        self.assertEqual(cur.fetchone()[0], "tx")
        c.commit()
        cur.execute("SELECT v FROM py_t WHERE id = %s", (3,))
        self.assertEqual(cur.fetchone()[0], "it's 3")
        c.commit()
        # SQL-level PREPARE pins the backend: EXECUTE finds it in later transactions.
        c.autocommit = True
        cur.execute("PREPARE add_one(int) AS SELECT $1 + 1")
        for _ in range(3):
            cur.execute("EXECUTE add_one(%s)", (41,))
            self.assertEqual(cur.fetchone()[0], 42)
        # A session SET is replayed on whichever connection serves the next statements.
        cur.execute("SET application_name = 'pgsql_proxy_test'")
        cur.execute("SHOW application_name")
        self.assertEqual(cur.fetchone()[0], "pgsql_proxy_test")
        c.close()

    def test_temp_table_pins_in_transaction_mode(self):
        c = self.connect()
        c.autocommit = True
        cur = c.cursor()
        cur.execute("CREATE TEMP TABLE tmp_x (a int)")
        cur.execute("INSERT INTO tmp_x VALUES (1), (2)")
        cur.execute("SELECT count(*) FROM tmp_x")
        self.assertEqual(cur.fetchone()[0], 2)
        c.close()

    def test_session_mode_keeps_settings(self):
        c = self.connect(port=self.session_port, user=self.user + "_1")
        c.autocommit = True
        cur = c.cursor()
        cur.execute("SET work_mem = '7MB'")
        pids = set()
        for _ in range(5):
            cur.execute("SELECT current_setting('work_mem'), pg_backend_pid()")
            wm, pid = cur.fetchone()
            self.assertEqual(wm, "7MB")
            pids.add(pid)
        self.assertEqual(len(pids), 1)
        c.close()
        # The next session gets a reset connection (DISCARD ALL), not the old setting.
        c = self.connect(port=self.session_port, user=self.user + "_1")
        cur = c.cursor()
        cur.execute("SELECT current_setting('work_mem')")
        self.assertNotEqual(cur.fetchone()[0], "7MB")
        c.close()

    def test_pgbench_modes_and_replica_reads(self):
        r = self.pgbench("-i", "-s", "2", "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        for args in (["-M", "simple"], ["-M", "extended"], ["-M", "prepared"],
                     ["-S", "-M", "prepared"]):
            replicas_before = self.stat_sum(self.replicas)
            r = self.pgbench("-c", "8", "-j", "2", "-T", "10", *args)
            out = r.stdout + r.stderr
            self.assertEqual(r.returncode, 0, out)
            self.assertRegex(out, r"number of failed transactions: 0 ")
            self.assertNotRegex(out, r"aborted|error")
            done = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
            self.assertGreater(done, 0)
            if "-S" in args:
                # Statistics reach pg_stat_database when a backend goes idle (PG15 flushes
                # at most every 10 s): poll, bounded.
                deadline = time.time() + 20
                delta = 0
                while time.time() < deadline:
                    delta = self.stat_sum(self.replicas) - replicas_before
                    if delta >= done * 0.9:
                        break
                    time.sleep(1)
                self.assertGreaterEqual(delta, done * 0.9, "-S reads did not land on replicas")

    def test_one_clients_reads_spread_over_the_replicas(self):
        # The least-outstanding balancer counts a statement's backend lease when it starts
        # and uncounts it when it ends; a count without its end makes a replica look busy
        # for good, and reads drift away from it (the MySQL session leaked one per login).
        conn = self.connect()
        conn.autocommit = True
        cur = conn.cursor()
        got = {}
        for _ in range(200):
            cur.execute("SELECT inet_server_port()")
            port = cur.fetchone()[0]
            got[port] = got.get(port, 0) + 1
        conn.close()
        self.assertNotIn(self.primary, got)
        for p in self.replicas:
            # Random picks by weight among idle replicas: about 100 each.
            self.assertGreater(got.get(p, 0), 50, got)

    def test_wrong_password_is_28P01(self):
        sock, err = raw_login(self.port, self.user, "not-the-password", self.db)
        self.assertIsNone(sock)
        self.assertEqual(err["C"], "28P01")
        self.assertEqual(err["M"], 'password authentication failed for user "%s"' % self.user)
        with self.assertRaises(psycopg2.OperationalError):
            psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, password="nope",
                             dbname=self.db, connect_timeout=10)

    def test_unknown_user_is_28P01(self):
        sock, err = raw_login(self.port, "nobody_here", "x", self.db)
        self.assertIsNone(sock)
        self.assertEqual(err["C"], "28P01")

    def test_unknown_database_is_3D000(self):
        sock, err = raw_login(self.port, self.user, self.password, "no_such_db")
        self.assertIsNone(sock)
        self.assertEqual(err["C"], "3D000")

    def test_too_many_connections_is_53300(self):
        user = self.user + "_2"
        held = [raw_login(self.small_port, user, self.password, self.db)[0] for _ in range(2)]
        self.assertTrue(all(held))
        sock, err = raw_login(self.small_port, user, self.password, self.db)
        self.assertIsNone(sock)
        self.assertEqual(err["C"], "53300")
        for s in held:
            s.close()

    def test_unreachable_server_is_refused_quickly(self):
        # The monitor's first failed check of pg_dead's only server holds its writes (and
        # logins, which go to the writer); with write_hold_timeout_ms = 0 a held login fails
        # at once with 57P03 (cannot connect now). Wait for the hold, so the outcome does not
        # depend on whether the check ran before the login.
        deadline = time.time() + 20
        while time.time() < deadline:
            rows = admin_query(self.admin_port, "x",
                               "SELECT COUNT(*) FROM stats_events WHERE kind = 'WRITES_HELD' "
                               "AND cluster = 'pg_dead'")
            if int(rows[0][0]) > 0:
                break
            time.sleep(0.2)
        else:
            self.fail("no WRITES_HELD for pg_dead within 20 s")
        t0 = time.time()
        sock, err = raw_login(self.dead_port, self.user + "_3", self.password, self.db)
        self.assertIsNone(sock)
        self.assertEqual(err["C"], "57P03", err)
        self.assertLess(time.time() - t0, 8)

    def test_cancel_returns_57014(self):
        c = self.connect()
        cur = c.cursor()
        timer = threading.Timer(1.0, c.cancel)
        timer.start()
        t0 = time.time()
        with self.assertRaises(psycopg2.errors.QueryCanceled) as cm:
            cur.execute("SELECT pg_sleep(30)")
        timer.join()
        self.assertEqual(cm.exception.pgcode, "57014")
        self.assertLess(time.time() - t0, 10)
        c.rollback()
        cur.execute("SELECT 1")
        self.assertEqual(cur.fetchone()[0], 1)
        c.close()

    def test_cancel_reaches_a_session_on_any_worker(self):
        # sluice runs 2 workers and the kernel hands each cancel connection to either: the
        # cancel is posted to every worker and the session's own carries it out. 8 sessions,
        # each cancelled: all 8 landing on their session's worker is a 1-in-256 chance.
        for _ in range(8):
            c = self.connect()
            cur = c.cursor()
            timer = threading.Timer(0.3, c.cancel)
            timer.start()
            t0 = time.time()
            with self.assertRaises(psycopg2.errors.QueryCanceled):
                cur.execute("SELECT pg_sleep(20)")
            timer.join()
            self.assertLess(time.time() - t0, 8)
            c.close()

    def test_cancel_with_wrong_key_is_ignored(self):
        c = self.connect()
        c.autocommit = True
        cur = c.cursor()
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(struct.pack("!iiii", 16, 80877102, c.get_backend_pid(), 12345))
        self.assertEqual(s.recv(10), b"")  # closed without a reply
        s.close()
        cur.execute("SELECT pg_sleep(1.5), 1")
        self.assertEqual(cur.fetchone()[1], 1)
        c.close()

    def test_backend_killed_mid_query_keeps_session(self):
        c = self.connect()
        c.autocommit = True
        cur = c.cursor()
        marker = "sluice_kill_me_%d" % os.getpid()

        # A read: it may run on any node, so look on all of them.
        t = threading.Thread(target=terminate_matching,
                             args=(self.direct, [self.primary] + self.replicas, marker))
        t.start()
        with self.assertRaises(psycopg2.OperationalError) as cm:
            cur.execute("SELECT pg_sleep(20), '%s'" % marker)
        t.join()
        # The server's own error (57P01 admin_shutdown and its text), not a sluice 08006.
        self.assertEqual(cm.exception.pgcode, "57P01")
        self.assertIn("terminating connection due to administrator command",
                      cm.exception.pgerror)
        cur.execute("SELECT 2")
        self.assertEqual(cur.fetchone()[0], 2)
        c.close()

    def test_malformed_message_is_08P01_and_closes_only_that_client(self):
        other = self.connect()
        sock, err = raw_login(self.port, self.user, self.password, self.db)
        self.assertIsNone(err)
        sock.sendall(b"Q\x00\x00\x00\x02")  # a length below 4
        t, p = recv_msg(sock)
        self.assertEqual(t, b"E")
        self.assertEqual(error_fields(p)["C"], "08P01")
        self.assertEqual(sock.recv(10), b"")
        sock.close()
        cur = other.cursor()
        cur.execute("SELECT 3")
        self.assertEqual(cur.fetchone()[0], 3)
        other.close()

    def test_large_result_streams_with_bounded_memory(self):
        def rss_kb():
            with open("/proc/%d/status" % self.proc.pid) as f:
                return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

        sock, err = raw_login(self.port, self.user, self.password, self.db)
        self.assertIsNone(err)
        base = rss_kb()
        # 200 000 rows of 1 000 bytes: 200 MB that sluice must not hold.
        sql = "SELECT repeat('x', 1000) FROM generate_series(1, 200000)"
        sock.sendall(msg(b"Q", sql.encode() + b"\0"))
        time.sleep(2)  # a slow reader: sluice has to stop reading the server
        peak = rss_kb()
        rows = total = 0
        buf = b""
        done = False
        while not done:
            chunk = sock.recv(1 << 20)
            self.assertTrue(chunk)
            total += len(chunk)
            buf += chunk
            while len(buf) >= 5:
                (ln,) = struct.unpack("!i", buf[1:5])
                if len(buf) < ln + 1:
                    break
                t = buf[:1]
                buf = buf[ln + 1:]
                rows += t == b"D"
                done = t == b"Z"
            if rows % 20000 == 0:
                peak = max(peak, rss_kb())
        self.assertEqual(rows, 200000)
        self.assertGreater(total, 200 * 1000 * 1000)
        self.assertLess(peak - base, 64 * 1024, "sluice grew by %d kB" % (peak - base))
        rows_, err = simple_query(sock, "SELECT 'after'")
        self.assertEqual(rows_, [["after"]])
        sock.close()

    def admin(self, sql):
        return admin_query(self.admin_port, "x", sql)

    def digest_rows(self, marker):
        return self.admin("SELECT username, schemaname, count_star, errors, digest_text, "
                          "sum_rows_sent FROM stats_query_digest WHERE digest_text LIKE '%%%s%%'"
                          % marker)

    def test_statements_are_counted_by_digest(self):
        """Simple and extended (named prepared) statements land in stats_query_digest with
        their user and database, once per statement, errors counted."""
        self.admin("SELECT * FROM stats_query_digest_reset")
        with self.connect() as c:
            c.autocommit = True
            with c.cursor() as cur:
                for i in range(5):
                    cur.execute("SELECT %s::int + 1 AS digest_probe_simple", (i,))
                for n in (3, 4):
                    cur.execute("SELECT generate_series(1, %s) AS digest_probe_rows", (n,))
                    self.assertEqual(len(cur.fetchall()), n)
                with self.assertRaises(psycopg2.Error):
                    cur.execute("SELECT 1 / (0 * %s) AS digest_probe_error", (3,))
        script = os.path.join(self.tmp, "digest_probe.sql")
        with open(script, "w") as f:
            f.write("\\set x random(1, 100)\nSELECT :x::int * 2 AS digest_probe_prepared;\n")
        r = self.pgbench("-n", "-M", "prepared", "-c", "1", "-t", "4", "-f", script)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        # (statements, errors, rows sent): a DataRow each, and none for the error.
        want = {"digest_probe_simple": (5, 0, 5), "digest_probe_error": (1, 1, 0),
                "digest_probe_prepared": (4, 0, 4), "digest_probe_rows": (2, 0, 7)}
        # Workers hand their counts over once a second.
        deadline = time.time() + 15
        while True:
            got = {}
            for marker in want:
                rows = self.digest_rows(marker)
                got[marker] = tuple(sum(int(r[i]) for r in rows) for i in (2, 3, 5))
            if got == want or time.time() > deadline:
                break
            time.sleep(0.3)
        self.assertEqual(got, want)
        for marker in want:
            for user, schema, _, _, text, _ in self.digest_rows(marker):
                self.assertEqual((user, schema), (self.user, self.db))
                self.assertNotIn("100", text)  # literals are normalised away

    def test_named_prepared_statements_move_between_backends(self):
        # Raw extended protocol: Parse a named statement once, then Bind/Execute it in many
        # transactions. Other clients hold transactions open in turn, so the pool hands this
        # client different backend connections, which must get the statement lazily.
        sock, err = raw_login(self.port, self.user, self.password, self.db)
        self.assertIsNone(err)
        # pg_backend_pid() is not a known-safe read: the statement runs on the primary.
        parse = msg(b"P", b"s1\0SELECT $1::int * 2, pg_backend_pid()\0" + struct.pack("!hi", 1, 23))
        sock.sendall(parse + msg(b"S", b""))
        self.assertEqual(recv_msg(sock)[0], b"1")
        self.assertEqual(recv_msg(sock)[0], b"Z")
        # Pools are per worker and the kernel spreads connections over sluice's 2 workers
        # (SO_REUSEPORT): with 16 holders, the chance that none shares this client's worker
        # is 2^-16, where 3 holders left it at 1/8 and the test flaked.
        n = 16
        holders = [self.connect() for _ in range(n)]
        pids = set()
        for i in range(30):
            holder = holders[i % n]
            holder.cursor().execute("SELECT txid_current()")  # BEGIN + a write: holds a backend
            holders[(i + 1) % n].commit()
            val = str(i).encode()
            bind = msg(b"B", b"\0s1\0" + struct.pack("!h", 0) + struct.pack("!h", 1) +
                       struct.pack("!i", len(val)) + val + struct.pack("!h", 0))
            sock.sendall(bind + msg(b"E", b"\0" + struct.pack("!i", 0)) + msg(b"S", b""))
            got = []
            while True:
                t, p = recv_msg(sock)
                if t == b"E":
                    self.fail(error_fields(p))
                if t == b"D":
                    (ln,) = struct.unpack("!i", p[2:6])
                    got.append(p[6:6 + ln].decode())
                    (ln2,) = struct.unpack("!i", p[6 + ln:10 + ln])
                    pids.add(p[10 + ln:10 + ln + ln2].decode())
                if t == b"Z":
                    break
            self.assertEqual(got, [str(i * 2)])
        self.assertGreater(len(pids), 1, "every execute ran on one backend connection")
        # Close forgets the client's name: a Bind now fails as the server would say.
        sock.sendall(msg(b"C", b"Ss1\0") + msg(b"S", b""))
        self.assertEqual(recv_msg(sock)[0], b"3")
        self.assertEqual(recv_msg(sock)[0], b"Z")
        sock.sendall(msg(b"B", b"\0s1\0" + struct.pack("!hhh", 0, 0, 0)) + msg(b"S", b""))
        t, p = recv_msg(sock)
        self.assertEqual(t, b"E")
        self.assertEqual(error_fields(p)["C"], "26000")  # invalid_sql_statement_name
        self.assertEqual(recv_msg(sock)[0], b"Z")
        for h in holders:
            h.rollback()
            h.close()
        sock.close()

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: pgsql_proxy_test.py SLUICE_BINARY [unittest args]")
    SLUICE = sys.argv.pop(1)
    if not CLUSTER_DIR or not os.path.exists(os.path.join(CLUSTER_DIR, "cluster.env")):
        sys.exit("SLUICE_PG_CLUSTER_DIR must name a running harness cluster")
    unittest.main(verbosity=2)
