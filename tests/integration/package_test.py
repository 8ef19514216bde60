#!/usr/bin/python3
"""The Debian package, end to end: cpack builds it, dpkg -x installs it into a scratch root,
and the installed binary runs with the installed config (pointed at the harness MariaDB
cluster) under a systemd-style notification socket, serving clients through sluice.

Usage: package_test.py BUILD_DIR [unittest args]. Needs $SLUICE_MARIADB_CLUSTER_DIR.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_common import NotifySocket, http_get, mariadb_cli, wait_until  # noqa: E402
from sluice_proc import free_port, read_cluster_env  # noqa: E402

BUILD = None


def control_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", deb, field], capture_output=True, text=True,
                          check=True).stdout.strip()


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-pkg-test-")
        out = os.path.join(cls.tmp, "out")
        # cpack installs the build tree (already built by the test run) into a DESTDIR.
        p = subprocess.run(["cpack", "-G", "DEB", "-B", out, "--config",
                            os.path.join(BUILD, "CPackConfig.cmake")],
                           capture_output=True, text=True, timeout=600, cwd=BUILD)
        if p.returncode != 0:
            raise AssertionError("cpack failed:\n%s\n%s" % (p.stdout, p.stderr))
        debs = [f for f in os.listdir(out) if f.endswith(".deb")]
        assert len(debs) == 1, debs
        cls.deb = os.path.join(out, debs[0])
        cls.root = os.path.join(cls.tmp, "root")
        subprocess.run(["dpkg", "-x", cls.deb, cls.root], check=True)
        cls.ctl = os.path.join(cls.tmp, "control")
        subprocess.run(["dpkg-deb", "-e", cls.deb, cls.ctl], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_control_declares_dependencies(self):
        depends = control_field(self.deb, "Depends")
        for lib in ("adduser", "libmariadb3", "libpq5", "libevent-2.1-7", "libssl3",
                    "libsystemd0", "libsqlite3-0"):
            self.assertIn(lib, depends)
        self.assertEqual(control_field(self.deb, "Package"), "sluice")

    def test_maintainer_scripts_create_user_dirs_and_config(self):
        postinst = open(os.path.join(self.ctl, "postinst")).read()
        self.assertRegex(postinst, r"adduser --system .*sluice")
        self.assertIn("install -d -m 0700 -o sluice -g sluice /var/lib/sluice", postinst)
        self.assertIn("/etc/sluice/sluice.toml", postinst)
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(self.ctl, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            subprocess.run(["sh", "-n", path], check=True)

    def test_unit_is_notify_with_reload_limits_and_hardening(self):
        unit_path = os.path.join(self.root, "usr/lib/systemd/system/sluice.service")
        unit = open(unit_path).read()
        for line in ("Type=notify", "ExecStart=/usr/bin/sluice --config /etc/sluice/sluice.toml",
                     "ExecReload=/bin/kill -HUP $MAINPID", "LimitNOFILE=1048576",
                     "ProtectSystem=strict", "NoNewPrivileges=yes", "User=sluice",
                     "StateDirectoryMode=0700"):
            self.assertIn(line + "\n", unit)
        # systemd's own parser: no unknown key or bad value in the unit (the binary is not
        # at /usr/bin on this machine, which is the one complaint allowed).
        p = subprocess.run(["systemd-analyze", "verify", unit_path],
                           capture_output=True, text=True, timeout=60)
        problems = [l for l in (p.stdout + p.stderr).splitlines()
                    if l.strip() and "is not executable" not in l and "No such file" not in l]
        self.assertEqual(problems, [])

    def test_installed_docs_and_configs(self):
        for f in ("usr/bin/sluice", "usr/share/doc/sluice/operations.md",
                  "usr/share/doc/sluice/configuration.md",
                  "usr/share/doc/sluice/examples/sluice.toml", "usr/share/sluice/sluice.toml"):
            self.assertTrue(os.path.exists(os.path.join(self.root, f)), f)
        binary = os.path.join(self.root, "usr/bin/sluice")
        for cfg in ("usr/share/sluice/sluice.toml", "usr/share/doc/sluice/examples/sluice.toml"):
            p = subprocess.run([binary, "--config", os.path.join(self.root, cfg), "--check"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_installed_binary_serves_clients_with_installed_config(self):
        env = read_cluster_env(os.environ["SLUICE_MARIADB_CLUSTER_DIR"])
        # What postinst does: the packaged default becomes /etc/sluice/sluice.toml.
        etc = os.path.join(self.root, "etc/sluice")
        os.makedirs(etc, exist_ok=True)
        state = os.path.join(self.root, "var/lib/sluice")
        os.makedirs(state, mode=0o700, exist_ok=True)
        text = open(os.path.join(self.root, "usr/share/sluice/sluice.toml")).read()
        # Only what differs on this machine: ports, paths, the harness's logins.
        app_port, metrics_port = free_port(), free_port()
        subs = [
            (r'listen = "/run/sluice/admin.sock"', 'listen = "%s/admin.sock"' % etc),
            (r'data_dir = "/var/lib/sluice"', 'data_dir = "%s"' % state),
            (r'listen = "127.0.0.1:9187"', 'listen = "127.0.0.1:%d"' % metrics_port),
            (r'listen = "127.0.0.1:6033"', 'listen = "127.0.0.1:%d"' % app_port),
            (r'workers = 0 ', 'workers = 2 '),
            (r'monitor_user = "sluice_monitor"', 'monitor_user = "%s"' % env["MONITOR_USER"]),
            (r'monitor_password = "change-me"', 'monitor_password = "%s"' % env["MONITOR_PASSWORD"]),
            (r'port = 3306', 'port = %s' % env["PRIMARY_PORT"]),
            (r'name = "app"', 'name = "%s"' % env["APP_USER"]),
            (r'password = "change-me"\ncluster', 'password = "%s"\ncluster' % env["APP_PASSWORD"]),
        ]
        for pat, rep in subs:
            text, n = re.subn(pat, rep, text)
            self.assertEqual(n, 1, "packaged config no longer has %r" % pat)
        conf = os.path.join(etc, "sluice.toml")
        with open(conf, "w") as f:
            f.write(text)
        binary = os.path.join(self.root, "usr/bin/sluice")
        notify = NotifySocket(os.path.join(self.tmp, "notify.sock"))
        log_path = os.path.join(self.tmp, "sluice.log")
        log = open(log_path, "w")
        proc = subprocess.Popen([binary, "--config", conf], stdout=log, stderr=log,
                                env=dict(os.environ, NOTIFY_SOCKET=notify.path))
        log.close()
        try:
            notify.wait_for("READY=1", timeout=30)
            c = pymysql.connect(host="127.0.0.1", port=app_port, user=env["APP_USER"],
                                password=env["APP_PASSWORD"], database=env["DATABASE"],
                                connect_timeout=5, read_timeout=30)
            with c.cursor() as cur:
                cur.execute("SELECT @@port")
                self.assertEqual(cur.fetchone()[0], int(env["PRIMARY_PORT"]))
            rc, out, err = mariadb_cli(app_port, env["APP_USER"], env["APP_PASSWORD"],
                                       "SELECT 40 + 2", env["DATABASE"])
            self.assertEqual((rc, out.strip()), (0, "42"), err)
            status, body = http_get(metrics_port, "/metrics")
            self.assertEqual(status, 200)
            self.assertIn("sluice_client_connections", body)
            # systemctl reload: RELOADING=1, then READY=1 again; the client stays connected.
            before = len(notify.messages())
            os.kill(proc.pid, signal.SIGHUP)
            i = notify.wait_for("RELOADING=1", after=before)
            notify.wait_for("READY=1", after=i + 1)
            self.assertIsNone(proc.poll())
            with c.cursor() as cur:
                cur.execute("SELECT 1")
                self.assertEqual(cur.fetchone()[0], 1)
            c.close()
            os.kill(proc.pid, signal.SIGTERM)
            notify.wait_for("STOPPING=1")
            self.assertEqual(proc.wait(timeout=30), 0, open(log_path).read())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            notify.close()


if __name__ == "__main__":
    BUILD = os.path.abspath(sys.argv.pop(1))
    unittest.main()
