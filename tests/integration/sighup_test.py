#!/usr/bin/python3
"""SIGHUP (issue #13 item 6): re-read the config file and apply what can change at runtime,
never exit. Against the harness MariaDB cluster, with clients that stay connected through
every reload: PyMySQL and a mariadb CLI session (libmariadb) fed statement by statement.

Usage: sighup_test.py SLUICE_BINARY [unittest args]. Needs $SLUICE_MARIADB_CLUSTER_DIR.
"""
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import unittest

import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_common import wait_until  # noqa: E402
from sluice_proc import Sluice, admin_query, read_cluster_env  # noqa: E402

SLUICE = None
RULE = """[[query_rule]]
id = 50
match_pattern = "^SELECT 4242"
action = "reject"
error_message = "blocked after reload"
"""


class CliSession:
    """One long-lived mariadb CLI connection; run() sends one statement, returns its output."""

    def __init__(self, port, user, password, database):
        self.proc = subprocess.Popen(
            ["mariadb", "-h127.0.0.1", "-P%d" % port, "-u" + user, "-p" + password, "--batch",
             "--unbuffered", "--force", "--skip-column-names", database],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def run(self, sql, timeout=20):
        """The result's one line, or the ERROR line (--force echoes a failed statement
        between dashed lines first; those are skipped)."""
        self.proc.stdin.write(sql + ";\n")
        self.proc.stdin.flush()
        while True:
            line = self.lines.get(timeout=timeout)
            if line and not line.startswith("-----") and line != sql:
                return line

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


class SighupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = read_cluster_env(os.environ["SLUICE_MARIADB_CLUSTER_DIR"])
        cls.s = Sluice(SLUICE, cls.env, workers=2).start()
        cls.good = cls.s.config

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def client(self):
        return pymysql.connect(host="127.0.0.1", port=self.s.port, user=self.env["APP_USER"],
                               password=self.env["APP_PASSWORD"], database=self.env["DATABASE"],
                               connect_timeout=5, read_timeout=30, autocommit=True)

    def write_config(self, text):
        with open(self.s.config_path, "w") as f:
            f.write(text)

    def hup_and_wait_log(self, pattern):
        """SIGHUP, then waits for a new log line matching PATTERN; returns it."""
        seen = len(open(self.s.log_path, errors="replace").readlines())
        os.kill(self.s.pid, signal.SIGHUP)

        def found():
            lines = open(self.s.log_path, errors="replace").readlines()[seen:]
            return next((l for l in lines if re.search(pattern, l)), None)
        return wait_until("log line %r" % pattern, found, timeout=20)

    def select(self, c, sql):
        with c.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]

    def rejected(self, c, sql):
        try:
            self.select(c, sql)
            return None
        except pymysql.err.MySQLError as e:
            return str(e)

    def test_1_changed_rule_applies_without_dropping_clients(self):
        c = self.client()
        cli = CliSession(self.s.port, self.env["APP_USER"], self.env["APP_PASSWORD"],
                         self.env["DATABASE"])
        try:
            self.assertEqual(self.select(c, "SELECT 4242"), 4242)
            self.assertEqual(cli.run("SELECT 4242"), "4242")
            self.write_config(self.good + "\n" + RULE)
            self.hup_and_wait_log(r"SIGHUP: .* applied")
            self.assertTrue(self.s.alive())
            # The same connections: the new rule on their next statement, and still serving.
            self.assertIn("blocked after reload", self.rejected(c, "SELECT 4242"))
            self.assertEqual(self.select(c, "SELECT 1"), 1)
            self.assertIn("blocked after reload", cli.run("SELECT 4242"))
            self.assertEqual(cli.run("SELECT 7"), "7")
            rules = admin_query(self.s.admin_port, self.s.admin_password,
                                "SELECT id FROM runtime_query_rules")
            self.assertIn(("50",), rules)
            events = admin_query(self.s.admin_port, self.s.admin_password,
                                 "SELECT kind FROM stats_events WHERE kind = 'RELOAD'")
            self.assertTrue(events)
        finally:
            cli.close()
            c.close()

    def test_2_broken_files_keep_the_runtime_and_keep_serving(self):
        self.write_config(self.good + "\n" + RULE)
        self.hup_and_wait_log(r"SIGHUP: .* applied")
        c = self.client()
        path = re.escape(self.s.config_path)
        cases = [
            # TOML syntax error: the file's line, key "-".
            (self.good + "\nthis is not toml\n", path + r":\d+: -: "),
            # A bad value: file, line and the key's dotted path.
            (self.good.replace('role = "primary"', 'role = "primary"\n  weight = 0', 1),
             path + r":\d+: cluster\[0\]\.server\[0\]\.weight: "),
            # Valid as a file, but a listener cannot move at runtime.
            (self.good.replace('listen = "127.0.0.1:%d"' % self.s.port,
                               'listen = "127.0.0.1:%d"' % (self.s.port + 1), 1),
             r"cannot change at runtime"),
        ]
        try:
            for text, pattern in cases:
                with self.subTest(pattern=pattern):
                    self.write_config(text + "\n" + RULE.replace("4242", "4343"))
                    line = self.hup_and_wait_log(r"SIGHUP: .* not applied")
                    self.assertRegex(line, pattern)
                    self.assertTrue(self.s.alive())
                    # The runtime in force is kept: rule 50 as it was, 4343 not blocked.
                    self.assertIn("blocked after reload", self.rejected(c, "SELECT 4242"))
                    self.assertEqual(self.select(c, "SELECT 4343"), 4343)
                    with self.client() as c2:  # new logins are served too
                        self.assertEqual(self.select(c2, "SELECT 2"), 2)
            failed = admin_query(self.s.admin_port, self.s.admin_password,
                                 "SELECT count(*) FROM stats_events WHERE kind = 'RELOAD_FAILED'")
            self.assertEqual(int(failed[0][0]), len(cases))
            # The memory tables were not touched by the failed reloads either.
            rules = admin_query(self.s.admin_port, self.s.admin_password,
                                "SELECT match_pattern FROM query_rules WHERE id = 50")
            self.assertEqual(rules, (("^SELECT 4242",),))
        finally:
            c.close()
            self.write_config(self.good)


class LogFileTest(unittest.TestCase):
    """log_format = "json" and log_file: every line is one JSON object; SIGHUP reopens the
    file after logrotate moved it."""

    def test_json_lines_and_reopen_on_sighup(self):
        import json
        env = read_cluster_env(os.environ["SLUICE_MARIADB_CLUSTER_DIR"])
        s = Sluice(SLUICE, env, workers=2)
        log_file = os.path.join(s.workdir, "json.log")
        s.config = s.config.replace("[sluice]\n", '[sluice]\nlog_format = "json"\n'
                                    'log_file = "%s"\n' % log_file, 1)
        with s:
            def records(path):
                out = []
                for line in open(path).read().splitlines():
                    rec = json.loads(line)  # fails the test on any non-JSON line
                    self.assertEqual(sorted(rec), ["level", "msg", "thread", "time"])
                    out.append(rec)
                return out
            started = wait_until("the started line", lambda: any(
                "started" in r["msg"] for r in records(log_file)))
            self.assertTrue(started)
            os.rename(log_file, log_file + ".1")
            os.kill(s.pid, signal.SIGHUP)
            wait_until("SIGHUP applied in the new file", lambda: os.path.exists(log_file) and any(
                re.search(r"SIGHUP: .* applied", r["msg"]) for r in records(log_file)))
            self.assertTrue(any(r["msg"].startswith("SIGHUP: reloading")
                                for r in records(log_file)))
            self.assertFalse(any("SIGHUP" in r["msg"] for r in records(log_file + ".1")))
            self.assertEqual(open(s.log_path).read(), "")  # nothing on stderr


if __name__ == "__main__":
    SLUICE = sys.argv.pop(1)
    unittest.main()
