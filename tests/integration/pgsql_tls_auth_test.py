#!/usr/bin/python3
"""PostgreSQL clients through sluice: TLS (SSLRequest), md5 users, and 2,000 concurrent
clients served by at most 50 backend connections per server in transaction mode.

Usage: pgsql_tls_auth_test.py SLUICE_BINARY (cluster from SLUICE_PG_CLUSTER_DIR)."""
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sluice_proc  # noqa: E402

BINARY = None
ENV = None


def make_cert(directory):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


# A password SASLprep changes (RFC 4013): a soft hyphen (mapped to nothing), U+2168 ROMAN
# NUMERAL NINE (NFKC: "IX") and a no-break space (mapped to SPACE). PostgreSQL hashes the
# prepared form when the role's password is set, and libpq prepares what the client typed.
SASLPREP_USER = "saslprep_user"
SASLPREP_PASSWORD = "p\u00e4ss\u00adw\u00f6rd\u2168\u00a0!"
# The same password as another client may type it: "a" + COMBINING DIAERESIS, an ordinary
# space; SASLprep makes both spellings one.
SASLPREP_PASSWORD_DECOMPOSED = "pa\u0308ssw\u00f6rdIX !"


def create_saslprep_role():
    conn = psycopg2.connect(host="127.0.0.1", port=int(ENV["PRIMARY_PORT"]),
                            user=ENV["ADMIN_USER"], password=ENV["ADMIN_PASSWORD"],
                            dbname=ENV["DATABASE"], connect_timeout=10)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("DROP ROLE IF EXISTS %s" % SASLPREP_USER)
    cur.execute("CREATE ROLE %s LOGIN PASSWORD %%s" % SASLPREP_USER, (SASLPREP_PASSWORD,))
    conn.close()


class PgTlsAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-pgtls-")
        cert, key = make_cert(cls.tmp)
        create_saslprep_role()
        users = [
            {"name": ENV["APP_USER"], "password": ENV["APP_PASSWORD"]},
            # A non-ASCII password, in sluice's config as the operator typed it: sluice's
            # verifier and its own login to the server must both use the SASLprep'd form.
            {"name": SASLPREP_USER, "password": SASLPREP_PASSWORD},
            # A second login name for the same server role, challenged with md5.
            {"name": "md5_user", "password": "md5_pw", "pg_auth": "md5",
             "backend_user": ENV["APP_USER"], "backend_password": ENV["APP_PASSWORD"]},
        ]
        cls.sluice = sluice_proc.Sluice(
            BINARY, ENV, kind="postgres", users=users, server_max_connections=50,
            max_client_connections=5000, read_your_writes_ms=5000,
            cluster_options={"tls_cert": cert, "tls_key": key}, workdir=cls.tmp)
        cls.sluice.start()

    @classmethod
    def tearDownClass(cls):
        cls.sluice.stop()

    def connect(self, user=None, password=None, **kw):
        return psycopg2.connect(host="127.0.0.1", port=self.sluice.port,
                                user=user or ENV["APP_USER"],
                                password=password or ENV["APP_PASSWORD"],
                                dbname=ENV["DATABASE"], connect_timeout=10, **kw)

    def test_tls_required_is_encrypted(self):
        conn = self.connect(sslmode="require")
        self.assertTrue(conn.info.ssl_in_use)
        cur = conn.cursor()
        cur.execute("SELECT 40 + 2")
        self.assertEqual(cur.fetchone()[0], 42)
        conn.close()

    def test_plain_still_works_when_tls_is_offered(self):
        conn = self.connect(sslmode="disable")
        self.assertFalse(conn.info.ssl_in_use)
        cur = conn.cursor()
        cur.execute("SELECT 1")
        self.assertEqual(cur.fetchone()[0], 1)
        conn.close()

    def test_non_ascii_password_is_saslprepped(self):
        # Directly, the server accepts both spellings (it proves the role exists as set up).
        for pw in (SASLPREP_PASSWORD, SASLPREP_PASSWORD_DECOMPOSED):
            direct = psycopg2.connect(host="127.0.0.1", port=int(ENV["PRIMARY_PORT"]),
                                      user=SASLPREP_USER, password=pw, dbname=ENV["DATABASE"],
                                      connect_timeout=10)
            direct.close()
        # Through sluice: the client's proof checks against sluice's verifier, and sluice's
        # backend login (the same password, as SCRAM client) against the server's.
        for pw in (SASLPREP_PASSWORD, SASLPREP_PASSWORD_DECOMPOSED):
            conn = self.connect(user=SASLPREP_USER, password=pw)
            cur = conn.cursor()
            cur.execute("SELECT current_user")
            self.assertEqual(cur.fetchone()[0], SASLPREP_USER)
            conn.close()
        with self.assertRaises(psycopg2.OperationalError) as cm:
            self.connect(user=SASLPREP_USER, password="p\u00e4ssw\u00f6rd")
        self.assertIn('password authentication failed for user "%s"' % SASLPREP_USER,
                      str(cm.exception))

    def test_wrong_password_over_tls_is_28P01(self):
        with self.assertRaises(psycopg2.OperationalError) as cm:
            self.connect(password="wrong", sslmode="require")
        self.assertIn('password authentication failed for user "%s"' % ENV["APP_USER"],
                      str(cm.exception))

    def test_md5_user(self):
        conn = self.connect(user="md5_user", password="md5_pw")
        cur = conn.cursor()
        cur.execute("SELECT current_user")
        self.assertEqual(cur.fetchone()[0], ENV["APP_USER"])  # the backend login
        conn.close()
        with self.assertRaises(psycopg2.OperationalError) as cm:
            self.connect(user="md5_user", password="nope")
        self.assertIn('password authentication failed for user "md5_user"', str(cm.exception))

    def backend_count(self, port):
        c = psycopg2.connect(host="127.0.0.1", port=port, user=ENV["ADMIN_USER"],
                             password=ENV["ADMIN_PASSWORD"], dbname="postgres", connect_timeout=10)
        c.autocommit = True
        cur = c.cursor()
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s",
                    (ENV["APP_USER"],))
        n = cur.fetchone()[0]
        c.close()
        return n

    def test_2000_clients_share_50_backend_connections(self):
        resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
        clients = []
        for _ in range(2000):
            c = self.connect()
            c.autocommit = True
            clients.append(c)
        ports = [int(ENV["PRIMARY_PORT"])] + list(ENV["REPLICA_PORTS_LIST"])
        peak = {p: 0 for p in ports}
        errors = []
        done = threading.Event()

        def sample():
            while not done.is_set():
                for p in ports:
                    peak[p] = max(peak[p], self.backend_count(p))
                time.sleep(0.2)

        def work(chunk):
            try:
                for c in chunk:
                    cur = c.cursor()
                    cur.execute("SELECT pg_sleep(0.005), 1")
                    if cur.fetchone()[1] != 1:
                        errors.append("wrong result")
            except Exception as e:  # noqa: BLE001 - every failure is counted and shown
                errors.append(repr(e))

        sampler = threading.Thread(target=sample)
        sampler.start()
        workers = [threading.Thread(target=work, args=(clients[i::100],)) for i in range(100)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
        done.set()
        sampler.join(timeout=30)
        for c in clients:
            c.close()
        self.assertEqual(errors, [])
        for p in ports:
            # Per server: max_connections = 50 for all of sluice's workers together.
            self.assertLessEqual(peak[p], 50, "server %d saw %d connections" % (p, peak[p]))
        self.assertGreater(sum(peak.values()), 0)


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    ENV = sluice_proc.read_cluster_env(os.environ["SLUICE_PG_CLUSTER_DIR"])
    unittest.main(verbosity=2)
