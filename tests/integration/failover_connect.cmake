# Issue #11's data-plane leftovers (failover_connect_test.py): kill -9 the primary under write
# loops (PyMySQL, the mariadb CLI, psycopg2) with a slow monitor: held, not failed; kill -9 a
# replica under read loops: no read error (PostgreSQL: a killed replica's backends send
# FATAL 57P01 "terminating connection due to unexpected postmaster exit" before the close;
# the read runs elsewhere, proxy/pgsql/session_retry.cc). Each test starts its own cluster
# and sluice.
sluice_private_cluster_python_tests(${CMAKE_CURRENT_LIST_DIR}/failover_connect_test.py
  TIMEOUT 300 TESTS
    "failover_connect_hold_mariadb:MariadbConnectHoldTest"
    "failover_connect_hold_pg:PgConnectHoldTest"
    "failover_replica_read_mariadb:MariadbReplicaReadTest"
    "failover_replica_read_pg:PgReplicaReadTest")
