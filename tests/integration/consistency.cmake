# Causal reads by position (issue #21): write-then-read loops through sluice with the
# replicas delayed on purpose (MASTER_DELAY) and not. They change the replicas' delay, so
# nothing else runs at the same time. About 1 min each on an idle machine (PostgreSQL: about
# 100 s with a loaded one).
add_test(NAME consistency_mariadb
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/consistency_test.py $<TARGET_FILE:sluice>
          CausalReadsMariadb)
set_tests_properties(consistency_mariadb PROPERTIES
  LABELS integration
  TIMEOUT 300
  RUN_SERIAL TRUE
  FIXTURES_REQUIRED mariadb_cluster
  ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR}")

add_test(NAME consistency_pgsql
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/consistency_test.py $<TARGET_FILE:sluice>
          CausalReadsPostgres)
set_tests_properties(consistency_pgsql PROPERTIES
  LABELS integration
  TIMEOUT 420
  RUN_SERIAL TRUE
  FIXTURES_REQUIRED pg_cluster
  ENVIRONMENT "SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
