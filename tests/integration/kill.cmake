# KILL through sluice and the admin port's session list (issues #14, #18): PyMySQL,
# libmariadb (ctypes), the mariadb CLI and psycopg2 against the cluster fixtures. About 15 s.
foreach(_pair
    "kill_mysql:MysqlKillTest:mariadb_cluster"
    "kill_admin_sessions:AdminSessionsTest:mariadb_cluster"
    "kill_pgsql:PgKillTest:pg_cluster")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  list(GET _pair 2 _fixture)
  add_test(NAME ${_name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/kill_test.py $<TARGET_FILE:sluice> ${_class})
  set_tests_properties(${_name} PROPERTIES
    LABELS integration
    TIMEOUT 180
    FIXTURES_REQUIRED ${_fixture}
    ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR};SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
endforeach()
