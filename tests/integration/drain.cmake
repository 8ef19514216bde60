# Drain and reload against the shared clusters (drain_test.py, issue #13 items 5, 6): open
# transactions and a CLI's statement in flight across SIGTERM and SIGHUP, plain and over
# TLS, both protocols. Each class runs its own sluice; about 40 s together on an idle machine.
foreach(_t
    "drain_mysql:MysqlDrainTest:mariadb_cluster"
    "drain_mysql_tls:MysqlTlsDrainTest:mariadb_cluster"
    "drain_pgsql:PgsqlDrainTest:pg_cluster"
    "drain_pgsql_tls:PgsqlTlsDrainTest:pg_cluster")
  string(REPLACE ":" ";" _t "${_t}")
  list(GET _t 0 _name)
  list(GET _t 1 _class)
  list(GET _t 2 _fixture)
  add_test(NAME ${_name} COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/drain_test.py
           $<TARGET_FILE:sluice> ${_class})
  set_tests_properties(${_name} PROPERTIES
    LABELS integration
    TIMEOUT 180
    FIXTURES_REQUIRED ${_fixture}
    ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR};SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
endforeach()
