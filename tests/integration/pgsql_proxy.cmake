# PostgreSQL through sluice with real clients (psql, psycopg2, pgbench, a raw protocol
# client) against the pg_cluster fixture. One Python unittest run = one CTest test.
add_test(NAME pgsql_proxy
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/pgsql_proxy_test.py $<TARGET_FILE:sluice>)
set_tests_properties(pgsql_proxy PROPERTIES
  LABELS integration
  TIMEOUT 600
  FIXTURES_REQUIRED pg_cluster
  ENVIRONMENT "SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")

# TLS, md5 users and 2,000 clients over at most 50 backend connections per server.
add_test(NAME pgsql_tls_auth
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/pgsql_tls_auth_test.py $<TARGET_FILE:sluice>)
set_tests_properties(pgsql_tls_auth PROPERTIES
  LABELS integration
  TIMEOUT 600
  RUN_SERIAL TRUE
  FIXTURES_REQUIRED pg_cluster
  ENVIRONMENT "SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
