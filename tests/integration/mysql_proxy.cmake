# MariaDB through sluice with real clients (mariadb CLI, PyMySQL, sysbench, libmariadb, raw
# sockets) against the mariadb_cluster fixture. Each test starts its own sluice on free ports
# (tests/integration/sluice_proc.py, or the C++ test's own launcher) and stops it by PID.
# One CTest test per area so that a failure is named; together they take < 4 min on 2 cores
# (sysbench runs 10 s each: SLUICE_SYSBENCH_SECONDS, the issue's figure is 30 s).

set(_sluice_mysql_test_env
  "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR}"
  "SLUICE_CLUSTER_SCRIPT=${SLUICE_CLUSTER_SCRIPT}")

# name -> unittest class in mysql_proxy_test.py
foreach(_pair
    "mysql_clients:MysqlClientsTest"
    "mysql_sysbench:MysqlSysbenchTest"
    "mysql_pooling:MysqlPoolingTest"
    "mysql_streaming:MysqlStreamingTest"
    "mysql_replica_kill:MysqlReplicaKillTest"
    "mysql_malformed:MysqlMalformedTest"
    "mysql_session_state:MysqlSessionStateTest"
    "mysql_tls:MysqlTlsTest")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  add_test(NAME ${_name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/mysql_proxy_test.py
            $<TARGET_FILE:sluice> ${_class})
  set_tests_properties(${_name} PROPERTIES
    LABELS integration
    TIMEOUT 300
    FIXTURES_REQUIRED mariadb_cluster
    ENVIRONMENT "${_sluice_mysql_test_env}")
endforeach()
# kill-node / start-node change the shared cluster: nothing else runs at the same time.
set_tests_properties(mysql_replica_kill PROPERTIES RUN_SERIAL TRUE)
# 2,000 client threads and the per-server processlist bound: alone, so that another test's
# backend connections do not count against the bound.
set_tests_properties(mysql_pooling mysql_sysbench PROPERTIES RUN_SERIAL TRUE)

# libmariadb's C API: text and binary protocol, prepared statements, auth plugins.
sluice_integration_test(mysql_capi_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/mysql_capi_test.cc
  FIXTURES mariadb_cluster
  TIMEOUT 180)
add_dependencies(mysql_capi_test sluice)
set_property(TEST mysql_capi_test APPEND PROPERTY ENVIRONMENT
  "SLUICE_BINARY=$<TARGET_FILE:sluice>")

# Wire compatibility (issue #14): what a libmariadb client could tell from the server.
sluice_integration_test(mysql_compat_capi_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/mysql_compat_capi_test.cc
  FIXTURES mariadb_cluster
  TIMEOUT 180)
add_dependencies(mysql_compat_capi_test sluice)
set_property(TEST mysql_compat_capi_test APPEND PROPERTY ENVIRONMENT
  "SLUICE_BINARY=$<TARGET_FILE:sluice>")
# The same with PyMySQL and the mariadb CLI, each check against the server directly too.
foreach(_pair "mysql_compat:MysqlCompatTest" "mysql_compat_session:MysqlSessionPoolingTest")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  add_test(NAME ${_name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/mysql_compat_test.py
            $<TARGET_FILE:sluice> ${_class})
  set_tests_properties(${_name} PROPERTIES
    LABELS integration
    TIMEOUT 180
    FIXTURES_REQUIRED mariadb_cluster
    ENVIRONMENT "${_sluice_mysql_test_env}")
endforeach()
