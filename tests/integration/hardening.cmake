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
