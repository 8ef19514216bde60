# Issue #11's data-plane leftovers (failover_connect_test.py): kill -9 the primary under write
# loops (PyMySQL, the mariadb CLI, psycopg2) with a slow monitor: held, not failed; kill -9 a
# replica under read loops: no read error (PostgreSQL: a killed replica's backends send
# FATAL 57P01 "terminating connection due to unexpected postmaster exit" before the close;
# the read runs elsewhere, proxy/pgsql/session_retry.cc); PostgreSQL logins with
# connect_timeout=2 during an 8 s failover window are answered by sluice and write after the
# promotion. Each test starts its own cluster and sluice.
sluice_private_cluster_python_tests(${CMAKE_CURRENT_LIST_DIR}/failover_connect_test.py
  TIMEOUT 300 TESTS
    "failover_connect_hold_mariadb:MariadbConnectHoldTest"
    "failover_connect_hold_pg:PgConnectHoldTest"
    "failover_login_hold_pg:PgLoginHoldTest"
    "failover_replica_read_mariadb:MariadbReplicaReadTest"
    "failover_replica_read_pg:PgReplicaReadTest")
