# Schema-change detection (schema_watch_test.py) against the fixture clusters: the test works
# in a database of its own, created and dropped by it, so it does not disturb other tests.
add_test(NAME schema_watch_mariadb
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/schema_watch_test.py $<TARGET_FILE:sluice>
          mariadb)
set_tests_properties(schema_watch_mariadb PROPERTIES
  LABELS integration
  TIMEOUT 180
  FIXTURES_REQUIRED mariadb_cluster
  ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR}")
add_test(NAME schema_watch_pg
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/schema_watch_test.py $<TARGET_FILE:sluice>
          postgres)
set_tests_properties(schema_watch_pg PROPERTIES
  LABELS integration
  TIMEOUT 180
  FIXTURES_REQUIRED pg_cluster
  ENVIRONMENT "SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
