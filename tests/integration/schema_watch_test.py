#!/usr/bin/python3
"""Schema-change detection (schema_watch_interval_ms) against the fixture clusters.

The test works in a database of its own (created and dropped here) that the watch is pointed
at (schema_watch_databases), so other tests' tables never count as changes. It asserts, with
the watch's own round counter (stats_schema.rounds) instead of sleeps:
  - no SCHEMA_CHANGED while nothing changes, over a fixed number of rounds;
  - ALTER TABLE ... ADD COLUMN and DROP INDEX made directly on the primary raise
    SCHEMA_CHANGED naming the table and the column / index within two rounds;
  - stats_schema (fingerprint, last change, diff) and sluice_schema_changes_total agree.

Usage: schema_watch_test.py SLUICE_BINARY mariadb|postgres
Environment: SLUICE_MARIADB_CLUSTER_DIR or SLUICE_PG_CLUSTER_DIR.
"""
import os
import re
import subprocess
import sys
import time
import unittest
import urllib.request

import psycopg2
import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sluice_proc import Sluice, admin_query, free_port, read_cluster_env, wait_port  # noqa: E402

SLUICE = None
KIND = None
INTERVAL_MS = 700
DB = "sluice_schema_watch"


class SchemaWatchTest(unittest.TestCase):
    def setUp(self):
        var = "SLUICE_MARIADB_CLUSTER_DIR" if KIND == "mariadb" else "SLUICE_PG_CLUSTER_DIR"
        self.env = read_cluster_env(os.environ[var])
        self.primary = int(self.env["PRIMARY_PORT"])
        self.sluice = None
        if KIND == "mariadb":
            c = self.connect(None)
            self.run_sql(c, "DROP DATABASE IF EXISTS %s" % DB)
            self.run_sql(c, "CREATE DATABASE %s" % DB)
            c.close()
            c = self.connect(DB)
            self.run_sql(c, "CREATE TABLE t_watch (id INT PRIMARY KEY, v INT, KEY idx_v (v))")
        else:
            c = self.connect("postgres")
            self.run_sql(c, "DROP DATABASE IF EXISTS %s" % DB)
            self.run_sql(c, "CREATE DATABASE %s" % DB)
            c.close()
            c = self.connect(DB)
            self.run_sql(c, "CREATE TABLE t_watch (id INT PRIMARY KEY, v INT)")
            self.run_sql(c, "CREATE INDEX idx_v ON t_watch (v)")
        c.close()

    def tearDown(self):
        if self.sluice is not None:
            self.sluice.stop()
            if self._outcome and not all(e is None for _, e in getattr(self._outcome, "errors", [])):
                print(self.sluice.log_tail(40))
        c = self.connect(None if KIND == "mariadb" else "postgres")
        self.run_sql(c, "DROP DATABASE IF EXISTS %s" % DB)
        c.close()

    def connect(self, db):
        e = self.env
        if KIND == "mariadb":
            return pymysql.connect(host="127.0.0.1", port=self.primary, user=e["ADMIN_USER"],
                                   password=e["ADMIN_PASSWORD"], database=db, connect_timeout=5,
                                   autocommit=True)
        c = psycopg2.connect(host="127.0.0.1", port=self.primary, user=e["ADMIN_USER"],
                             password=e["ADMIN_PASSWORD"], dbname=db, connect_timeout=5)
        c.autocommit = True
        return c

    @staticmethod
    def run_sql(conn, sql):
        with conn.cursor() as cur:
            cur.execute(sql)

    def admin(self, sql):
        return admin_query(self.sluice.admin_port, self.sluice.admin_password, sql)

    def schema_row(self):
        """stats_schema's row for the test database as a dict, or None."""
        cols = ["schema", "fingerprint", "tables", "columns", "indexes", "rounds", "skipped",
                "errors", "last_change", "diff"]
        rows = self.admin("SELECT %s FROM stats_schema WHERE schema LIKE '%s%%'" %
                          (", ".join(cols), DB))
        if not rows:
            return None
        self.assertEqual(len(rows), 1, rows)
        return dict(zip(cols, rows[0]))

    def rounds(self):
        row = self.schema_row()
        return int(row["rounds"]) if row else 0

    def changes(self):
        return [e for e in self.admin("SELECT time, kind, server, message FROM stats_events")
                if e[1] == "SCHEMA_CHANGED"]

    def metric(self, name):
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                      timeout=10).read().decode()
        m = re.search(r'^%s\{cluster="test"\} (\S+)$' % name, text, re.M)
        self.assertIsNotNone(m, "no %s in the metrics" % name)
        return float(m.group(1))

    def wait_rounds(self, n, timeout):
        """Polls until the watch completed N rounds; fails after TIMEOUT seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.rounds() >= n:
                return
            time.sleep(0.05)
        self.fail("the schema watch did not reach %d rounds in %.0f s (at %d): %s" %
                  (n, timeout, self.rounds(), self.schema_row()))

    def wait_change(self, pattern, since_rounds):
        """The first SCHEMA_CHANGED whose message matches PATTERN, and how many rounds after
        SINCE_ROUNDS it appeared; fails when 2 rounds passed without it."""
        start = time.monotonic()
        deadline = start + 60
        while time.monotonic() < deadline:
            rounds = self.rounds()  # read before the events: a round that raised is counted
            for e in self.changes():
                if re.search(pattern, e[3]):
                    return e, time.monotonic() - start, rounds - since_rounds
            self.assertLess(rounds - since_rounds, 3,
                            "no SCHEMA_CHANGED matching %r within two rounds: %s" %
                            (pattern, self.changes()))
            time.sleep(0.02)
        self.fail("no SCHEMA_CHANGED matching %r" % pattern)

    def test_add_column_and_drop_index(self):
        e = self.env
        self.metrics_port = free_port()
        opts = {"schema_watch_interval_ms": INTERVAL_MS, "schema_watch_databases": DB,
                "admin_user": e["ADMIN_USER"], "admin_password": e["ADMIN_PASSWORD"]}
        self.sluice = Sluice(SLUICE, e, cluster_options=opts,
                             extra_toml='[metrics]\nlisten = "127.0.0.1:%d"' %
                             self.metrics_port).start()
        wait_port(self.sluice.admin_port, 30, self.sluice.proc)  # listens after the clients' port
        self.wait_rounds(1, 30)
        first = self.schema_row()
        self.assertEqual(int(first["tables"]), 1, first)
        self.assertEqual(int(first["columns"]), 2, first)
        self.assertGreaterEqual(int(first["indexes"]), 2, first)  # primary key and idx_v
        self.assertRegex(first["fingerprint"], r"^[0-9a-f]{16}$")

        # Nothing changes: nothing is raised over 4 rounds.
        r0 = self.rounds()
        self.wait_rounds(r0 + 4, 30)
        self.assertEqual(self.changes(), [])
        self.assertEqual(self.schema_row()["fingerprint"], first["fingerprint"])
        self.assertIsNone(self.schema_row()["last_change"])
        self.assertEqual(self.metric("sluice_schema_changes_total"), 0)
        self.assertGreaterEqual(self.metric("sluice_schema_watch_rounds_total"), r0 + 4)

        # ADD COLUMN on the primary, directly (MariaDB: with the mariadb CLI, libmariadb).
        c = self.connect(DB)
        r1 = self.rounds()
        if KIND == "mariadb":
            r = subprocess.run(["mariadb", "-h127.0.0.1", "-P%d" % self.primary,
                                "-u" + e["ADMIN_USER"], "-p" + e["ADMIN_PASSWORD"], DB, "-e",
                                "ALTER TABLE t_watch ADD COLUMN extra_col VARCHAR(20)"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        else:
            self.run_sql(c, "ALTER TABLE t_watch ADD COLUMN extra_col VARCHAR(20)")
        ev, took, rounds = self.wait_change(r"column added: t_watch\.extra_col", r1)
        print("%s: ADD COLUMN raised SCHEMA_CHANGED after %.2f s (%d round(s), interval %d ms): "
              "%s" % (KIND, took, rounds, INTERVAL_MS, ev[3]))
        self.assertEqual(ev[2], "127.0.0.1:%d" % self.primary)
        row = self.schema_row()
        self.assertNotEqual(row["fingerprint"], first["fingerprint"])
        self.assertIsNotNone(row["last_change"])
        self.assertIn("column added: t_watch.extra_col", row["diff"])
        self.assertEqual(int(row["columns"]), 3)

        # DROP INDEX on the primary, directly.
        r2 = self.rounds()
        if KIND == "mariadb":
            self.run_sql(c, "DROP INDEX idx_v ON t_watch")
        else:
            self.run_sql(c, "DROP INDEX idx_v")
        c.close()
        ev, took, rounds = self.wait_change(r"index dropped: t_watch\.idx_v", r2)
        print("%s: DROP INDEX raised SCHEMA_CHANGED after %.2f s (%d round(s)): %s" %
              (KIND, took, rounds, ev[3]))
        self.assertEqual(len(self.changes()), 2, self.changes())
        row = self.schema_row()
        self.assertIn("index dropped: t_watch.idx_v", row["diff"])
        self.assertNotIn("extra_col", row["diff"])  # the last change only

        # And quiet again.
        r3 = self.rounds()
        self.wait_rounds(r3 + 3, 30)
        self.assertEqual(len(self.changes()), 2, self.changes())
        self.assertEqual(self.metric("sluice_schema_changes_total"), 2)
        self.assertEqual(int(self.schema_row()["errors"]), 0)
        self.assertTrue(self.sluice.alive())


if __name__ == "__main__":
    SLUICE = sys.argv[1]
    KIND = sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
