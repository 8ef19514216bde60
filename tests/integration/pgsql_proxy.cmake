# PostgreSQL through sluice with real clients (psql, psycopg2, pgbench, a raw protocol
# client) against the pg_cluster fixture. One Python unittest run = one CTest test.
add_test(NAME pgsql_proxy
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/pgsql_proxy_test.py $<TARGET_FILE:sluice>)
set_tests_properties(pgsql_proxy PROPERTIES
  LABELS integration
  TIMEOUT 600
  FIXTURES_REQUIRED pg_cluster
  ENVIRONMENT "SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
