# Hostile clients and careless operators outside the sessions (issue #13): fd exhaustion,
# the admin port's guards, per-user limits and the connection counters, both protocols.
# Together about a minute on an idle machine.
#
# The session janitor against real clusters (janitor_test.py, issue #13 items 1, 2, 7, 10,
# 13): login floods and a 60 MiB statement on the shared clusters; drains and reloads with
# open transactions, plain and TLS (drain_test.py, items 5 and 6); the
# hung-server tests SIGSTOP a server, so each starts its own one-node cluster and they run
# serially. Together about two minutes more.
set(_sluice_hardening_tests
  "hardening_fd:hardening:FdExhaustionTest:mariadb_cluster"
  "hardening_admin:hardening:AdminGuardTest:mariadb_cluster"
  "hardening_limits_mysql:hardening:MysqlLimitsTest:mariadb_cluster"
  "hardening_limits_pgsql:hardening:PgsqlLimitsTest:pg_cluster"
  "hardening_verifier_mysql:hardening:MysqlVerifierTest:mariadb_cluster"
  "hardening_verifier_pgsql:hardening:PgsqlVerifierTest:pg_cluster"
  "janitor_flood_mysql:janitor:MysqlLoginFloodTest:mariadb_cluster"
  "janitor_flood_pgsql:janitor:PgsqlLoginFloodTest:pg_cluster"
  "janitor_preauth_mysql:janitor:MysqlPreAuthBoundsTest:mariadb_cluster"
  "janitor_preauth_pgsql:janitor:PgsqlPreAuthBoundsTest:pg_cluster"
  "janitor_large_command_mysql:janitor:MysqlLargeCommandTest:mariadb_cluster"
  "drain_mysql:drain:MysqlDrainTest:mariadb_cluster"
  "drain_mysql_tls:drain:MysqlTlsDrainTest:mariadb_cluster"
  "drain_pgsql:drain:PgsqlDrainTest:pg_cluster"
  "drain_pgsql_tls:drain:PgsqlTlsDrainTest:pg_cluster"
  "drain_listener:drain:ListenerCloseTest:mariadb_cluster"
  "janitor_hung_mysql:janitor:MysqlHungServerTest"
  "janitor_hung_pgsql:janitor:PgsqlHungServerTest")
foreach(_t ${_sluice_hardening_tests})
  string(REPLACE ":" ";" _t "${_t}")
  list(GET _t 0 _name)
  list(GET _t 1 _script)
  list(GET _t 2 _class)
  list(LENGTH _t _fields)
  set(_cmd /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/${_script}_test.py
           $<TARGET_FILE:sluice> ${_class})
  if(_fields GREATER 3)
    list(GET _t 3 _fixture)
    add_test(NAME ${_name} COMMAND ${_cmd})
    set_tests_properties(${_name} PROPERTIES
      LABELS integration
      TIMEOUT 180
      FIXTURES_REQUIRED ${_fixture}
      ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR};SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
  else()  # no shared cluster: its own, serially
    sluice_private_cluster_test(${_name} TIMEOUT 300 COMMAND ${_cmd})
  endif()
endforeach()
