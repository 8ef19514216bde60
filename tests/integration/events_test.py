#!/usr/bin/python3
"""Event webhooks ([[event_sink]]) against real clusters, both engines.

A tiny HTTP receiver inside the test (http.server on 127.0.0.1) takes the POSTs. The test
switches over (admin SWITCHOVER) and kills -9 the primary, and checks that a JSON event for the
switchover and a Slack-format one for the failover arrive within 2 s of being raised. Then the
receiver goes down (a port that accepts TCP but never answers, so each POST runs into its
timeout): sluice keeps serving and the admin port stays quick, the bounded sink counts its
drops (stats_event_sinks and the Prometheus metric agree); when the receiver is back, later
events arrive and every event is either delivered or counted as dropped.

Usage: events_test.py SLUICE_BINARY [TestClass ...]
Environment: SLUICE_CLUSTER_SCRIPT, SLUICE_SCRATCH_DIR (as failover_test.py).
"""
import datetime
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import failover_test as ft  # noqa: E402
from sluice_proc import free_port  # noqa: E402

QUEUE = 3  # the bounded sink's queue_size


class Receiver:
    """An HTTP server on 127.0.0.1:PORT recording every POST as (path, body, time.time())."""

    def __init__(self, port):
        self.port = port
        self.posts = []
        self.lock = threading.Lock()
        self.server = None
        self.thread = None
        self.blackhole = None

    def start(self):
        if self.blackhole is not None:
            self.blackhole.close()
            self.blackhole = None
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 -- http.server's name
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    outer.posts.append((self.path, body, time.time(),
                                        self.headers.get("Content-Type")))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def go_dark(self):
        """Stops serving; the port keeps a listening socket that never accepts, so a POST
        connects (the kernel's backlog) and then waits for an answer that never comes."""
        self.server.shutdown()
        self.server.server_close()
        self.server = None
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.blackhole = s

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.blackhole is not None:
            self.blackhole.close()

    def bodies(self, path):
        with self.lock:
            return [(json.loads(b), t, ct) for p, b, t, ct in self.posts if p == path]

    def wait_for(self, path, pred, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body, t, ct in self.bodies(path):
                if pred(body):
                    return body, t, ct
            time.sleep(0.02)
        return None


def iso_to_unix(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class EventsCase(ft.HealthCase):
    def setUp(self):
        super().setUp()
        self.receiver = Receiver(free_port())
        self.receiver.start()

    def tearDown(self):
        self.receiver.stop()
        super().tearDown()

    def sink_stats(self, name):
        rows = self.admin("SELECT queued, sent, dropped, rejected, failed_attempts, last_error "
                          "FROM stats_event_sinks WHERE name = '%s'" % name)
        self.assertEqual(len(rows), 1, "no stats_event_sinks row for %s" % name)
        # The admin port sends every value as text.
        names = ["queued", "sent", "dropped", "rejected", "failed_attempts"]
        out = {k: int(v) for k, v in zip(names, rows[0])}
        out["last_error"] = rows[0][5]
        return out

    def metric(self, port, name, sink):
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read()
        m = re.search(r'^%s\{sink="%s"\} (\S+)$' % (name, sink), text.decode(), re.M)
        self.assertIsNotNone(m, "metric %s{sink=%s} missing" % (name, sink))
        return float(m.group(1))

    def primary_port(self):
        ports = [int(self.env["PRIMARY_PORT"])] + self.env["REPLICA_PORTS_LIST"]
        for p in ports:
            if self.db.is_primary(p):
                return p
        return None

    def node_of(self, port):
        for k, v in self.env.items():
            if k.startswith("NODE_") and k.endswith("_PORT") and int(v) == port:
                return k[len("NODE_"):-len("_PORT")]
        raise AssertionError("no node listens on %d" % port)

    def test_webhooks(self):
        url = "http://127.0.0.1:%d" % self.receiver.port
        metrics_port = free_port()
        sinks = "\n".join([
            "[metrics]", 'listen = "127.0.0.1:%d"' % metrics_port, "",
            "[[event_sink]]", 'name = "ops-json"', 'url = "%s/json"' % url,
            'kinds = ["SWITCHOVER*", "LOAD"]', 'format = "json"', "timeout_ms = 500",
            "retry_backoff_ms = 100", "retry_max_backoff_ms = 400", "",
            "[[event_sink]]", 'name = "chat"', 'url = "%s/slack"' % url,
            'kinds = ["FAILOVER*"]', 'format = "slack"', "timeout_ms = 500", "",
            "[[event_sink]]", 'name = "bounded"', 'url = "%s/all"' % url,
            "queue_size = %d" % QUEUE, "timeout_ms = 300", "retry_backoff_ms = 100",
            "retry_max_backoff_ms = 400"])
        # After a switchover and a failover a PostgreSQL cluster may have no standby left
        # (the old primaries need a rejoin): reads then go to the primary.
        self.start_sluice(extra_toml=sinks, cluster_options={"reader_fallback_to_writer": True})
        cluster = "test"

        # 1. A switchover: SWITCHOVER_DONE as one JSON object, within 2 s of being raised.
        old = self.primary_port()
        # Through the mariadb CLI (libmariadb) on the admin port.
        r = subprocess.run(["mariadb", "-h127.0.0.1", "-P%d" % self.sluice.admin_port,
                            "-uadmin", "-p%s" % self.sluice.admin_password, "-N", "-B",
                            "-e", "SWITCHOVER test"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [(r.stdout.strip(),)]
        got = self.receiver.wait_for("/json", lambda b: b["kind"] == "SWITCHOVER_DONE", 5)
        self.assertIsNotNone(got, "no SWITCHOVER_DONE event posted: %s" %
                             self.receiver.bodies("/json"))
        body, received, ctype = got
        new = self.primary_port()
        self.assertNotEqual(new, old)
        self.assertEqual(ctype, "application/json")
        self.assertEqual(body["cluster"], cluster)
        self.assertEqual(body["node"], "127.0.0.1:%d" % new)
        self.assertTrue(body["reason"], body)
        self.assertAlmostEqual(iso_to_unix(body["time"]), body["time_unix_ms"] / 1000.0, 2)
        delay = received - body["time_unix_ms"] / 1000.0
        print("%s: SWITCHOVER_DONE posted %.3f s after it was raised (%s)" %
              (self.KIND, delay, rows[0][0]))
        self.assertLess(delay, 2.0)
        self.assertGreaterEqual(delay, 0.0)
        kinds = [b["kind"] for b, _, _ in self.receiver.bodies("/json")]
        self.assertIn("SWITCHOVER", kinds)
        self.assertFalse(any(k.startswith("FAILOVER") for k in kinds), kinds)

        # 2. kill -9 the primary: FAILOVER_DONE in Slack's {"text": ...}, within 2 s.
        self.assertTrue(self.wait_readable(), "sluice does not serve after the switchover")
        ft.cluster_sh("kill-node", self.dir, self.node_of(new))
        got = self.receiver.wait_for(
            "/slack", lambda b: "*FAILOVER_DONE*" in b.get("text", ""), 30)
        self.assertIsNotNone(got, "no FAILOVER_DONE posted: %s" % self.receiver.bodies("/slack"))
        body, received, _ = got
        self.assertEqual(list(body.keys()), ["text"])
        text = body["text"]
        self.assertIn("cluster `%s`" % cluster, text)
        m = re.search(r"node `127\.0\.0\.1:(\d+)`: (.+) \((\S+Z)\)$", text)
        self.assertIsNotNone(m, text)
        self.assertNotEqual(int(m.group(1)), new)
        self.assertTrue(m.group(2))
        delay = received - iso_to_unix(m.group(3))
        print("%s: FAILOVER_DONE posted to the Slack sink %.3f s after it was raised: %s" %
              (self.KIND, delay, text))
        self.assertLess(delay, 2.0)

        # 3. The receiver goes dark (accepts, never answers): the sinks hang in their
        # timeouts and retries, nothing else waits. 12 LOAD events while it is dark.
        self.assertTrue(self.wait_drained("bounded", 10), self.sink_stats("bounded"))
        # Reads are served again (by a re-pointed replica or the new primary).
        self.assertTrue(self.wait_readable(read=True), "no reads through sluice after failover")
        before = self.sink_stats("bounded")
        self.receiver.go_dark()
        worst = 0.0
        conn = self.db.app(self.sluice.port)
        start = time.monotonic()
        for i in range(12):
            t0 = time.monotonic()
            self.admin("LOAD MYSQL SERVERS TO RUNTIME")
            self.assertEqual(self.db.one(conn, "SELECT 1"), 1)
            worst = max(worst, time.monotonic() - t0)
        total = time.monotonic() - start
        conn.close()
        print("%s: receiver dark: 12 LOADs + statements in %.3f s, slowest round %.3f s" %
              (self.KIND, total, worst))
        # Had a LOAD waited for a POST, each round would take a sink timeout (300-500 ms).
        self.assertLess(total, 12 * 0.3 / 2, "an admin command or a statement waited on a sink")
        stats = self.sink_stats("bounded")
        self.assertGreaterEqual(stats["dropped"] - before["dropped"], 12 - QUEUE - 1, stats)
        self.assertEqual(stats["queued"], QUEUE + 1, stats)
        deadline = time.monotonic() + 5
        while self.sink_stats("bounded")["failed_attempts"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = self.sink_stats("bounded")
        self.assertGreater(stats["failed_attempts"], 0, stats)
        self.assertIn("timed out", stats["last_error"])
        self.assertEqual(self.metric(metrics_port, "sluice_event_sink_dropped_total", "bounded"),
                         stats["dropped"])
        self.assertTrue(self.sluice.alive())

        # 4. The receiver is back: the held and queued events arrive, and later ones too.
        self.receiver.start()
        self.admin("LOAD MYSQL SERVERS TO RUNTIME")
        version = self.admin("SELECT value FROM stats_global WHERE name='runtime_version'")
        last_load = self.last_event("LOAD")
        got = self.receiver.wait_for("/all", lambda b: b["reason"] == last_load, 10)
        self.assertIsNotNone(got, "the event raised after the receiver came back never arrived")
        got = self.receiver.wait_for("/json", lambda b: b["reason"] == last_load, 10)
        self.assertIsNotNone(got, "ops-json did not deliver after the receiver came back")
        # Nothing lost but what overflowed: every event the log holds was delivered to the
        # catch-all sink or counted as dropped.
        self.assertTrue(self.wait_drained("bounded", 10), self.sink_stats("bounded"))
        n_events = len(self.events())
        stats = self.sink_stats("bounded")
        delivered = len(self.receiver.bodies("/all"))
        print("%s: bounded sink: %d events, %d delivered, %d dropped, %d failed attempts "
              "(runtime version %s)" % (self.KIND, n_events, delivered, stats["dropped"],
                                        stats["failed_attempts"], version[0][0]))
        self.assertEqual(stats["sent"], delivered)
        self.assertEqual(delivered + stats["dropped"], n_events)
        self.assertEqual(self.metric(metrics_port, "sluice_event_sink_sent_total", "bounded"),
                         delivered)

    def last_event(self, kind):
        rows = [e for e in self.events() if e[0] == kind]
        self.assertTrue(rows, "no %s event" % kind)
        return rows[-1][2]

    def wait_drained(self, sink, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sink_stats(sink)["queued"] == 0:
                return True
            time.sleep(0.05)
        return False

    def wait_readable(self, timeout=20, read=False):
        """Whether a write (READ: a read) through sluice succeeds within TIMEOUT seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                c = self.db.app(self.sluice.port, timeout=2)
                if read:
                    self.db.one(c, "SELECT 1")
                else:
                    self.db.run(c, "INSERT INTO t_health VALUES (%d, 1)" %
                                int(time.time() * 1000 % 1e9))
                c.close()
                return True
            except Exception:  # noqa: BLE001 -- retried until the deadline
                time.sleep(0.2)
        return False


class MariadbEventsTest(EventsCase):
    KIND = "mariadb"


class PgEventsTest(EventsCase):
    KIND = "postgres"


if __name__ == "__main__":
    ft.SLUICE = sys.argv[1]
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
