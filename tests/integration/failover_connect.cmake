# Issue #11's data-plane leftovers (failover_connect_test.py): kill -9 the primary under write
# loops (PyMySQL, the mariadb CLI, psycopg2) with a slow monitor: held, not failed; kill -9 a
# replica under read loops: no read error. Each test starts its own cluster and sluice.
foreach(_pair
    "failover_connect_hold_mariadb:MariadbConnectHoldTest"
    "failover_connect_hold_pg:PgConnectHoldTest"
    "failover_replica_read_mariadb:MariadbReplicaReadTest"
    "failover_replica_read_pg:PgReplicaReadTest")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  sluice_private_cluster_test(${_name} TIMEOUT 300
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/failover_connect_test.py $<TARGET_FILE:sluice> ${_class})
endforeach()
