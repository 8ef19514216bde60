#!/usr/bin/python3
"""ProxySQL and PgBouncer vocabulary on the admin port (admin/admin_aliases.cc), against the
harness MariaDB cluster: each alias or command returns what its users expect, through
PyMySQL and the mariadb CLI (libmariadb).

Usage: admin_aliases_test.py SLUICE_BINARY [unittest args].
"""
import os
import subprocess
import sys
import threading
import time
import unittest

import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_common import wait_until  # noqa: E402
from sluice_proc import Sluice, admin_query, read_cluster_env  # noqa: E402

SLUICE = None


class AdminAliasesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = read_cluster_env(os.environ["SLUICE_MARIADB_CLUSTER_DIR"])
        cls.s = Sluice(SLUICE, cls.env, workers=2).start()
        cls.primary = int(cls.env["PRIMARY_PORT"])
        cls.replicas = cls.env["REPLICA_PORTS_LIST"]
        c = cls.app()
        with c.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS ops_alias (x INT)")
            for _ in range(5):
                cur.execute("SELECT 123")
        c.close()

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    @classmethod
    def app(cls):
        return pymysql.connect(host="127.0.0.1", port=cls.s.port, user=cls.env["APP_USER"],
                               password=cls.env["APP_PASSWORD"], database=cls.env["DATABASE"],
                               connect_timeout=5, read_timeout=60, autocommit=True)

    def q(self, sql):
        return admin_query(self.s.admin_port, self.s.admin_password, sql)

    def dict_rows(self, sql):
        c = pymysql.connect(host="127.0.0.1", port=self.s.admin_port, user="admin",
                            password=self.s.admin_password, autocommit=True,
                            cursorclass=pymysql.cursors.DictCursor)
        try:
            with c.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            c.close()

    def test_show_tables_lists_tables_and_aliases(self):
        names = {r[0] for r in self.q("SHOW TABLES")}
        for t in ("servers", "users", "query_rules", "mysql_servers", "runtime_mysql_servers",
                  "mysql_users", "mysql_query_rules", "stats_mysql_query_digest",
                  "stats_mysql_connection_pool"):
            self.assertIn(t, names)
        # The mariadb CLI (libmariadb) sees the same.
        out = subprocess.run(["mariadb", "-h127.0.0.1", "-P%d" % self.s.admin_port, "-uadmin",
                              "-p" + self.s.admin_password, "--batch", "--skip-column-names",
                              "-e", "SHOW TABLES"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("mysql_servers", out.stdout.split())

    def test_mysql_servers_and_runtime(self):
        rows = self.dict_rows("SELECT hostgroup_id, hostname, port, status FROM mysql_servers "
                              "ORDER BY port")
        expect = sorted([(0, self.primary)] + [(1, p) for p in self.replicas], key=lambda t: t[1])
        self.assertEqual([(int(r["hostgroup_id"]), int(r["port"])) for r in rows], expect)
        self.assertTrue(all(r["hostname"] == "127.0.0.1" and r["status"] == "ONLINE"
                            for r in rows))
        # The memory table changes at once, the runtime only after LOAD, as in ProxySQL.
        r0 = self.replicas[0]
        self.q("UPDATE servers SET status = 'OFFLINE_SOFT' WHERE port = %d" % r0)
        try:
            self.assertEqual(self.q("SELECT status FROM mysql_servers WHERE port = %d" % r0),
                             (("OFFLINE_SOFT",),))
            self.assertEqual(self.q("SELECT status FROM runtime_mysql_servers WHERE port = %d"
                                    % r0), (("ONLINE",),))
            self.q("LOAD MYSQL SERVERS TO RUNTIME")
            self.assertEqual(self.q("SELECT status FROM runtime_mysql_servers WHERE port = %d"
                                    % r0), (("OFFLINE_SOFT",),))
        finally:
            self.q("UPDATE servers SET status = 'ONLINE' WHERE port = %d" % r0)
            self.q("LOAD MYSQL SERVERS TO RUNTIME")

    def test_mysql_users_and_query_rules(self):
        users = self.dict_rows("SELECT username, password, default_hostgroup, default_schema "
                               "FROM mysql_users")
        self.assertEqual(users, [{"username": self.env["APP_USER"],
                                  "password": self.env["APP_PASSWORD"],
                                  "default_hostgroup": "0",
                                  "default_schema": self.env["DATABASE"]}])
        self.q("INSERT INTO query_rules (id, match_pattern, destination_hostgroup) "
               "VALUES (77, '^SELECT 77', 0)")
        try:
            rules = self.dict_rows("SELECT rule_id, match_pattern, destination_hostgroup, "
                                   "error_msg, apply FROM mysql_query_rules")
            self.assertEqual(rules, [{"rule_id": "77", "match_pattern": "^SELECT 77",
                                      "destination_hostgroup": "0", "error_msg": None,
                                      "apply": "1"}])
            self.assertEqual(self.q("SELECT count(*) FROM runtime_mysql_query_rules"),
                             (("0",),))
            self.q("LOAD MYSQL QUERY RULES TO RUNTIME")
            self.assertEqual(self.q("SELECT rule_id FROM runtime_mysql_query_rules"),
                             (("77",),))
        finally:
            self.q("DELETE FROM query_rules WHERE id = 77")
            self.q("LOAD MYSQL QUERY RULES TO RUNTIME")

    def test_stats_mysql_query_digest_and_connection_pool(self):
        rows = self.dict_rows("SELECT digest_text, count_star, username, schemaname FROM "
                              "stats_mysql_query_digest WHERE digest_text LIKE 'SELECT ?%'")
        self.assertTrue(rows, "no digest for SELECT 123")
        self.assertGreaterEqual(sum(int(r["count_star"]) for r in rows), 5)
        self.assertEqual(rows[0]["username"], self.env["APP_USER"])
        pool = self.dict_rows("SELECT hostgroup, srv_host, srv_port, status, ConnUsed, ConnFree, "
                              "Queries FROM stats_mysql_connection_pool")
        self.assertEqual(sorted(int(r["srv_port"]) for r in pool),
                         sorted([self.primary] + self.replicas))
        self.assertGreaterEqual(sum(int(r["Queries"]) for r in pool), 6)
        primary = [r for r in pool if int(r["srv_port"]) == self.primary][0]
        self.assertEqual((primary["hostgroup"], primary["srv_host"], primary["status"]),
                         ("0", "127.0.0.1", "ONLINE"))

    def test_pgbouncer_show_commands(self):
        pools = self.dict_rows("SHOW POOLS")
        self.assertEqual(sorted(r["server"] for r in pools),
                         sorted("127.0.0.1:%d" % p for p in [self.primary] + self.replicas))
        self.assertTrue(all(r["database"] == "test" for r in pools))
        # Backend connections used so far are back in the pools as idle ones.
        self.assertGreaterEqual(sum(int(r["sv_idle"]) for r in pools), 1)
        # SHOW SERVERS: one row per backend connection, as PgBouncer's. The ones used so far
        # are idle in the pools, on the cluster's servers, with the servers' thread ids.
        servers = self.dict_rows("SHOW SERVERS")
        self.assertGreaterEqual(len(servers), 1)
        self.assertLessEqual({int(r["port"]) for r in servers},
                             set([self.primary] + self.replicas))
        self.assertEqual({r["addr"] for r in servers}, {"127.0.0.1"})
        self.assertEqual({r["state"] for r in servers}, {"idle"})
        self.assertTrue(all(r["type"] == "S" and r["database"] == "test" and r["link"] is None
                            and r["user"] == self.env["APP_USER"] and int(r["remote_pid"]) > 0
                            for r in servers), servers)
        stats = self.dict_rows("SHOW STATS")
        self.assertEqual([r["database"] for r in stats], ["test"])
        self.assertGreaterEqual(int(stats[0]["total_query_count"]), 6)
        self.assertGreater(int(stats[0]["total_query_time"]), 0)
        # Bytes per server are not counted by the workers yet: no column pretends they are.
        self.assertNotIn("total_received", stats[0])
        clusters = self.dict_rows("SHOW CLUSTERS")
        self.assertEqual(clusters, [{"name": "test", "listen": "127.0.0.1:%d" % self.s.port,
                                     "protocol": "mysql", "pool_mode": "transaction",
                                     "max_client_connections": "10000"}])

    def test_show_servers_links_a_held_connection_to_its_client(self):
        c = self.app()
        try:
            with c.cursor() as cur:
                cur.execute("BEGIN")
                cur.execute("SELECT @@pseudo_thread_id, CONNECTION_ID()")
                thread, client_id = cur.fetchone()
                held = [r for r in self.dict_rows("SHOW SERVERS")
                        if int(r["remote_pid"] or 0) == int(thread)]
                self.assertEqual(len(held), 1, self.dict_rows("SHOW SERVERS"))
                self.assertEqual((held[0]["state"], int(held[0]["port"]), held[0]["link"]),
                                 ("active", self.primary, str(client_id)))
                # link is SHOW CLIENTS' ptr; remote_pid is the server's own thread id.
                self.assertIn(str(client_id), {r["ptr"] for r in self.dict_rows("SHOW CLIENTS")})
                direct = pymysql.connect(host="127.0.0.1", port=self.primary,
                                         user=self.env["ADMIN_USER"],
                                         password=self.env["ADMIN_PASSWORD"], connect_timeout=5)
                with direct.cursor() as d:
                    d.execute("SELECT USER FROM information_schema.PROCESSLIST WHERE ID = %s",
                              (thread,))
                    self.assertEqual(d.fetchall(), ((self.env["APP_USER"],),))
                direct.close()
                cur.execute("COMMIT")
            back = [r for r in self.dict_rows("SHOW SERVERS") if r["ptr"] == held[0]["ptr"]]
            self.assertEqual([(r["state"], r["link"]) for r in back], [("idle", None)])
            # The same rows under sluice's own name, with the server's hostgroup.
            rows = self.dict_rows("SELECT state, hostgroup, protocol FROM stats_backends "
                                  "WHERE id = %s" % held[0]["ptr"])
            self.assertEqual(rows, [{"state": "idle", "hostgroup": "0", "protocol": "mysql"}])
        finally:
            c.close()

    def test_reload_reads_the_config_file(self):
        with open(self.s.config_path, "a") as f:
            f.write('\n[[query_rule]]\nid = 88\nmatch_pattern = "^SELECT 8888"\n'
                    'action = "reject"\nerror_message = "reloaded by RELOAD"\n')
        try:
            self.q("RELOAD")
            self.assertEqual(self.q("SELECT rule_id FROM runtime_mysql_query_rules"),
                             (("88",),))
            c = self.app()
            with self.assertRaises(pymysql.err.MySQLError) as e, c.cursor() as cur:
                cur.execute("SELECT 8888")
            self.assertIn("reloaded by RELOAD", str(e.exception))
            c.close()
            with open(self.s.config_path, "a") as f:
                f.write("\nnot toml at all\n")
            with self.assertRaises(pymysql.err.MySQLError) as e:
                self.q("RELOAD")
            self.assertRegex(str(e.exception), r"sluice\.toml:\d+: -: ")
            self.assertEqual(self.q("SELECT rule_id FROM runtime_mysql_query_rules"),
                             (("88",),))
        finally:
            with open(self.s.config_path, "w") as f:
                f.write(self.s.config)
            self.q("RELOAD")

    def test_pause_holds_writes_and_resume_releases_them(self):
        self.q("PAUSE test")
        done = {}

        def write():
            c = self.app()
            t0 = time.monotonic()
            with c.cursor() as cur:
                cur.execute("INSERT INTO ops_alias VALUES (1)")
            done["after_s"] = time.monotonic() - t0
            c.close()
        t = threading.Thread(target=write)
        t.start()
        try:
            time.sleep(1.0)  # the write must still be waiting after a second
            self.assertNotIn("after_s", done)
            # Reads go on while writes wait.
            c = self.app()
            with c.cursor() as cur:
                cur.execute("SELECT 5")
                self.assertEqual(cur.fetchone()[0], 5)
            c.close()
            kinds = [r[0] for r in self.q("SELECT kind FROM stats_events WHERE kind = 'PAUSE'")]
            self.assertEqual(kinds, ["PAUSE"])
        finally:
            self.q("RESUME")
            t.join(30)
        self.assertFalse(t.is_alive())
        self.assertGreaterEqual(done["after_s"], 1.0)

    def test_zz_shutdown_drains_and_exits(self):
        self.q("SHUTDOWN")
        wait_until("sluice to exit", lambda: not self.s.alive(), timeout=20)
        self.assertEqual(self.s.proc.returncode, 0)
        self.assertIn("draining", self.s.log_tail())


if __name__ == "__main__":
    SLUICE = sys.argv.pop(1)
    unittest.main()
