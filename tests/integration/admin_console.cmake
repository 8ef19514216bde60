# Issue #18's admin leftovers: pool-wait and per-user statistics, and the PostgreSQL-protocol
# admin console (psql, psycopg2), against the mariadb_cluster fixture. About 20 s together.
foreach(_test admin_pool_metrics admin_pg_console)
  add_test(NAME ${_test}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/${_test}_test.py $<TARGET_FILE:sluice>)
  set_tests_properties(${_test} PROPERTIES
    LABELS integration
    TIMEOUT 240
    FIXTURES_REQUIRED mariadb_cluster
    ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR}")
endforeach()
