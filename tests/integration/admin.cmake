# The admin port (tables, LOAD/SAVE, stats, events) and the Prometheus endpoint against the
# mariadb_cluster fixture, with pymysql, the mariadb CLI, sysbench, promtool and prometheus.
add_test(NAME admin_integration
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/admin_test.py $<TARGET_FILE:sluice>)
set_tests_properties(admin_integration PROPERTIES
  LABELS integration
  TIMEOUT 600
  FIXTURES_REQUIRED mariadb_cluster
  ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR}")
