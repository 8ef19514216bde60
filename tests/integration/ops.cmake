# Operability (issue #18): the Debian package installed into a scratch root and run with its
# installed config; SIGHUP reload; health endpoints. Against the mariadb_cluster fixture.
add_test(NAME ops_package
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/package_test.py ${CMAKE_BINARY_DIR})
set_tests_properties(ops_package PROPERTIES
  LABELS integration
  TIMEOUT 600
  FIXTURES_REQUIRED mariadb_cluster
  ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR}")
add_test(NAME ops_sighup
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/sighup_test.py $<TARGET_FILE:sluice>)
set_tests_properties(ops_sighup PROPERTIES
  LABELS integration
  TIMEOUT 300
  FIXTURES_REQUIRED mariadb_cluster
  ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR}")
add_test(NAME ops_health_endpoints
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/health_endpoints_test.py $<TARGET_FILE:sluice>)
set_tests_properties(ops_health_endpoints PROPERTIES
  LABELS integration
  TIMEOUT 300
  FIXTURES_REQUIRED mariadb_cluster
  ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR}")
add_test(NAME ops_admin_aliases
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/admin_aliases_test.py $<TARGET_FILE:sluice>)
set_tests_properties(ops_admin_aliases PROPERTIES
  LABELS integration
  TIMEOUT 300
  FIXTURES_REQUIRED mariadb_cluster
  ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR}")
add_test(NAME ops_users_per_cluster
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/users_per_cluster_test.py $<TARGET_FILE:sluice>)
set_tests_properties(ops_users_per_cluster PROPERTIES
  LABELS integration
  TIMEOUT 300
  FIXTURES_REQUIRED "mariadb_cluster;pg_cluster"
  ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR};SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
add_test(NAME ops_check_connect
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/check_connect_test.py $<TARGET_FILE:sluice>)
set_tests_properties(ops_check_connect PROPERTIES
  LABELS integration
  TIMEOUT 300
  FIXTURES_REQUIRED "mariadb_cluster;pg_cluster"
  ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR};SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
