# Hostile clients and careless operators outside the sessions (issue #13): fd exhaustion,
# the admin port's guards, per-user limits and the connection counters, both protocols.
# Together about a minute on an idle machine.
set(_sluice_hardening_tests
  "hardening_fd:FdExhaustionTest:mariadb_cluster"
  "hardening_admin:AdminGuardTest:mariadb_cluster"
  "hardening_limits_mysql:MysqlLimitsTest:mariadb_cluster"
  "hardening_limits_pgsql:PgsqlLimitsTest:pg_cluster"
  "hardening_verifier_mysql:MysqlVerifierTest:mariadb_cluster"
  "hardening_verifier_pgsql:PgsqlVerifierTest:pg_cluster")
foreach(_t ${_sluice_hardening_tests})
  string(REPLACE ":" ";" _t "${_t}")
  list(GET _t 0 _name)
  list(GET _t 1 _class)
  list(GET _t 2 _fixture)
  add_test(NAME ${_name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/hardening_test.py
            $<TARGET_FILE:sluice> ${_class})
  set_tests_properties(${_name} PROPERTIES
    LABELS integration
    TIMEOUT 180
    FIXTURES_REQUIRED ${_fixture}
    ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR};SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
endforeach()

# The session janitor against real clusters (janitor_test.py, issue #13 items 1, 2, 7, 10, 13):
# login floods on the shared clusters; the hung-server tests SIGSTOP a server, so each starts
# its own one-node cluster and they run serially. Together about two minutes.
set(_sluice_janitor_tests
  "janitor_flood_mysql:MysqlLoginFloodTest:mariadb_cluster"
  "janitor_flood_pgsql:PgsqlLoginFloodTest:pg_cluster"
  "janitor_large_command_mysql:MysqlLargeCommandTest:mariadb_cluster")
foreach(_t ${_sluice_janitor_tests})
  string(REPLACE ":" ";" _t "${_t}")
  list(GET _t 0 _name)
  list(GET _t 1 _class)
  list(GET _t 2 _fixture)
  add_test(NAME ${_name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/janitor_test.py
            $<TARGET_FILE:sluice> ${_class})
  set_tests_properties(${_name} PROPERTIES
    LABELS integration
    TIMEOUT 180
    FIXTURES_REQUIRED ${_fixture}
    ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR};SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
endforeach()
foreach(_pair "janitor_hung_mysql:MysqlHungServerTest" "janitor_hung_pgsql:PgsqlHungServerTest")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  add_test(NAME ${_name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/janitor_test.py
            $<TARGET_FILE:sluice> ${_class})
  set_tests_properties(${_name} PROPERTIES
    LABELS integration
    TIMEOUT 300
    RUN_SERIAL TRUE
    ENVIRONMENT "SLUICE_CLUSTER_SCRIPT=${SLUICE_CLUSTER_SCRIPT};SLUICE_SCRATCH_DIR=${SLUICE_CLUSTER_SCRATCH_DIR}/${_name}")
endforeach()
