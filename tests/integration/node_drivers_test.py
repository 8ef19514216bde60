#!/usr/bin/env python3
"""Node.js drivers through sluice answer as they do against the server (issue #14).

The `mariadb` connector (MariaDB's own: extended type info, so a JSON column arrives as an
object; compression), `mysql2` (prepared statements, transactions, compression, TLS to
sluice) and `pg` (the pure-JavaScript PostgreSQL driver: extended protocol, named
statements, JSON, error codes, TLS) run tests/integration/node/drivers.js once against the
primary directly and once through sluice, in session and transaction pooling; every check
must give the same answer both ways, and the answers must be the right ones.

    node_drivers_test.py <sluice-binary> <node_modules dir> [unittest args]

The node_modules dir is made by the node_deps CTest fixture (`npm ci` from the committed
package-lock.json). sluice lists only the primary: this test is about the wire, not about
read routing (a replica may lag behind the write a check reads back).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sluice_proc import Sluice, read_cluster_env  # noqa: E402
from pgsql_tls_auth_test import make_cert  # noqa: E402

SLUICE = None
NODE_MODULES = None
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node", "drivers.js")


def run_driver(driver, port, env, tls=False):
    args = ["node", SCRIPT, driver, str(port), env["APP_USER"], env["APP_PASSWORD"],
            env["DATABASE"]] + (["tls"] if tls else [])
    p = subprocess.run(args, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, NODE_PATH=NODE_MODULES))
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise AssertionError("%s on port %d printed no result (exit %d): %s %s"
                             % (driver, port, p.returncode, p.stdout, p.stderr))
    got = json.loads(lines[-1])
    if "fatal" in got:
        raise AssertionError("%s on port %d failed: %s" % (driver, port, got))
    return got


class DriverCase(unittest.TestCase):
    ENV_VAR = None
    DRIVERS = ()

    @classmethod
    def setUpClass(cls):
        cls.env = read_cluster_env(os.environ[cls.ENV_VAR])
        cls.tmp = tempfile.mkdtemp(prefix="sluice-node-")
        cls.cert, cls.key = make_cert(cls.tmp)
        cls.sluices = {}
        for mode in ("session", "transaction"):
            cls.sluices[mode] = Sluice(SLUICE, cls.env, pool_mode=mode, replicas=False,
                                       cluster_options={"tls_cert": cls.cert,
                                                        "tls_key": cls.key}).start()
        cls.direct = {d: run_driver(d, int(cls.env["PRIMARY_PORT"]), cls.env)
                      for d in cls.DRIVERS}

    @classmethod
    def tearDownClass(cls):
        for s in cls.sluices.values():
            s.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def same_as_direct(self, driver, mode, tls=False):
        got = run_driver(driver, self.sluices[mode].port, self.env, tls=tls)
        want = self.direct[driver]
        for name, value in want.items():
            self.assertEqual(got.get(name), value, "%s %s: check %s" % (driver, mode, name))
        return got


class MariadbDrivers(DriverCase):
    ENV_VAR = "SLUICE_MARIADB_CLUSTER_DIR"
    DRIVERS = ("mariadb", "mysql2")

    def test_direct_answers_are_the_right_ones(self):
        # What the comparisons below compare against is itself right.
        m = self.direct["mariadb"]
        self.assertEqual(m["json_column_is_an_object"],
                         {"type": "object", "value": {"a": [1, 2]}})
        self.assertEqual(m["prepared_binary_rows"], [[42, "x"]])
        self.assertEqual(m["compressed_large_result"], {"rows": 10000, "last": 10000, "two": 2})
        self.assertEqual(m["error_code"], {"errno": 1054, "sqlState": "42S22"})
        y = self.direct["mysql2"]
        self.assertEqual(y["execute_prepared_twice"], [10, 20])
        self.assertEqual(y["transaction_rollback"], 0)
        self.assertEqual(y["compressed"], {"rows": 20000, "two": 2})
        self.assertEqual(y["error_code"], {"errno": 1146, "sqlState": "42S02"})

    def test_mariadb_connector_session_pooling(self):
        self.same_as_direct("mariadb", "session")

    def test_mariadb_connector_transaction_pooling(self):
        got = run_driver("mariadb", self.sluices["transaction"].port, self.env)
        for name, value in self.direct["mariadb"].items():
            if name == "user_variable_in_session":
                continue  # a user variable pins the session, checked in session mode
            self.assertEqual(got.get(name), value, name)

    def test_mysql2_session_and_transaction_pooling(self):
        self.same_as_direct("mysql2", "session")
        self.same_as_direct("mysql2", "transaction")

    def test_mysql2_over_tls_to_sluice(self):
        got = self.same_as_direct("mysql2", "transaction", tls=True)
        self.assertIs(got.get("tls_cipher"), True)


class PostgresDrivers(DriverCase):
    ENV_VAR = "SLUICE_PG_CLUSTER_DIR"
    DRIVERS = ("pg",)

    def test_direct_answers_are_the_right_ones(self):
        d = self.direct["pg"]
        self.assertEqual(d["named_prepared_twice"], [101, 102])
        self.assertEqual(d["json_parsed"], {"j": {"a": [1, 2]}, "jb": {"b": 1}})
        self.assertEqual(d["error_code"], {"code": "22012", "severity": "ERROR"})
        self.assertEqual(d["after_error_transaction"], "25P02")

    def test_pg_session_pooling(self):
        self.same_as_direct("pg", "session")

    def test_pg_transaction_pooling(self):
        self.same_as_direct("pg", "transaction")

    def test_pg_over_tls_to_sluice(self):
        got = self.same_as_direct("pg", "transaction", tls=True)
        self.assertIs(got.get("tls"), True)


if __name__ == "__main__":
    SLUICE = sys.argv[1]
    NODE_MODULES = sys.argv[2]
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
