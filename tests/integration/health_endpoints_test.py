#!/usr/bin/python3
"""/health/live and /health/ready on the metrics port, against the harness MariaDB cluster.

Readiness follows the runtime: 503 with the reason while the cluster has no writable primary
(its primary set OFFLINE_HARD through the admin port), 200 again once it is back; 503 while
sluice drains. The sluice_ready gauge says the same on /metrics.

Usage: health_endpoints_test.py SLUICE_BINARY [unittest args].
"""
import json
import os
import signal
import sys
import unittest
import urllib.error
import urllib.request

import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_common import http_get, wait_until  # noqa: E402
from sluice_proc import Sluice, admin_query, free_port, read_cluster_env, wait_port  # noqa: E402

SLUICE = None


class HealthEndpointsTest(unittest.TestCase):
    def setUp(self):
        self.env = read_cluster_env(os.environ["SLUICE_MARIADB_CLUSTER_DIR"])
        self.metrics_port = free_port()
        self.s = Sluice(SLUICE, self.env, workers=2, extra_toml='[metrics]\nlisten = "127.0.0.1:%d"\n'
                        % self.metrics_port).start()
        # The client port listens before the control plane starts; wait for the metrics one.
        wait_port(self.metrics_port, 30, self.s.proc)
        self.primary = "127.0.0.1:%s" % self.env["PRIMARY_PORT"]

    def tearDown(self):
        self.s.stop()

    def ready(self):
        status, body = http_get(self.metrics_port, "/health/ready")
        return status, json.loads(body)

    def admin(self, sql):
        return admin_query(self.s.admin_port, self.s.admin_password, sql)

    def gauge(self, name):
        status, body = http_get(self.metrics_port, "/metrics")
        self.assertEqual(status, 200)
        for line in body.splitlines():
            if line.startswith(name + " ") or (line.startswith(name + "{") and "{" not in name):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError("no %s in /metrics" % name)

    def test_live_and_ready_follow_the_writable_primary(self):
        status, body = http_get(self.metrics_port, "/health/live")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["status"], "live")
        status, body = self.ready()
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"], "ready")
        self.assertEqual(body["clusters"][0]["primary"], self.primary)
        self.assertEqual(self.gauge("sluice_ready"), 1)

        self.admin("UPDATE servers SET status = 'OFFLINE_HARD' WHERE role = 'primary'")
        self.admin("LOAD SERVERS TO RUNTIME")
        status, body = self.ready()
        self.assertEqual(status, 503, body)
        self.assertEqual(body["status"], "not_ready")
        self.assertEqual(body["reason"],
                         "cluster test: no writable primary: %s is OFFLINE_HARD" % self.primary)
        self.assertEqual(body["clusters"][0]["state"], "no_primary")
        self.assertEqual(self.gauge("sluice_ready"), 0)
        self.assertEqual(self.gauge("sluice_cluster_ready"), 0)
        # Liveness is about the process, not the cluster.
        self.assertEqual(http_get(self.metrics_port, "/health/live")[0], 200)

        self.admin("UPDATE servers SET status = 'ONLINE' WHERE role = 'primary'")
        self.admin("LOAD SERVERS TO RUNTIME")
        status, body = self.ready()
        self.assertEqual(status, 200, body)
        self.assertEqual(self.gauge("sluice_ready"), 1)
        # HEAD works for checkers that only look at the status; other methods do not.
        url = "http://127.0.0.1:%d/health/ready" % self.metrics_port
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=5) as r:
            self.assertEqual((r.status, r.read()), (200, b""))
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="POST"), timeout=5)
        self.assertEqual(e.exception.code, 405)
        self.assertEqual(http_get(self.metrics_port, "/health/nope")[0], 404)

    def test_cluster_client_connections_gauge(self):
        def clients():
            return self.gauge('sluice_cluster_client_connections{cluster="test"}')
        held = [pymysql.connect(host="127.0.0.1", port=self.s.port, user=self.env["APP_USER"],
                                password=self.env["APP_PASSWORD"], database=self.env["DATABASE"],
                                connect_timeout=5) for _ in range(3)]
        try:
            wait_until("3 clients", lambda: clients() == 3, timeout=10)
        finally:
            for c in held:
                c.close()
        wait_until("0 clients", lambda: clients() == 0, timeout=10)

    def test_ready_is_503_while_draining(self):
        # An open transaction keeps the drain going (drain_timeout_ms = 1000 in sluice_proc).
        c = pymysql.connect(host="127.0.0.1", port=self.s.port, user=self.env["APP_USER"],
                            password=self.env["APP_PASSWORD"], database=self.env["DATABASE"],
                            connect_timeout=5, read_timeout=30)
        with c.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT 1")
        self.assertEqual(self.ready()[0], 200)
        os.kill(self.s.pid, signal.SIGTERM)
        status, body = wait_until("503 while draining", lambda: (lambda r: r if r[0] == 503 else None)(
            self.ready()), timeout=1.0, step=0.02)
        self.assertEqual(body["reason"], "not accepting connections (starting or draining)")
        c.close()


if __name__ == "__main__":
    SLUICE = sys.argv.pop(1)
    unittest.main()
