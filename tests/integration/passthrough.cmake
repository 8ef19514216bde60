# Passthrough authentication (issue #18: auth_user / auth_query, both protocols).
add_test(NAME passthrough_auth
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/passthrough_auth_test.py $<TARGET_FILE:sluice>)
set_tests_properties(passthrough_auth PROPERTIES
  LABELS integration
  TIMEOUT 300
  FIXTURES_REQUIRED "mariadb_cluster;pg_cluster"
  ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR};SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
