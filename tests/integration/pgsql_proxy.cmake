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

# Issue #14's PostgreSQL items and #21's settings replay, one sluice per pool mode.
foreach(_pair "pgsql_compat_tx:PgTransactionCompatTest" "pgsql_compat_session:PgSessionCompatTest")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  add_test(NAME ${_name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/pgsql_compat_test.py
            $<TARGET_FILE:sluice> ${_class})
  set_tests_properties(${_name} PROPERTIES
    LABELS integration
    TIMEOUT 300
    FIXTURES_REQUIRED pg_cluster
    ENVIRONMENT "SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
endforeach()
