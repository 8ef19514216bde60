# Real test clusters as CTest fixtures (tests/cluster/cluster.sh), the sluice_test_cluster
# helper library, and sluice_integration_test() for every integration test binary.
# Named 00-* so that tests/integration/CMakeLists.txt includes it before the other *.cmake
# files, which use the variables and the function defined here.
#
# Fixtures: mariadb_cluster (primary + 2 GTID replicas), pg_cluster (primary + 2 streaming
# replicas). Both asynchronous. A test that needs them: FIXTURES_REQUIRED and the
# environment variables below (sluice_integration_test sets both).

set(SLUICE_CLUSTER_SCRIPT ${CMAKE_SOURCE_DIR}/tests/cluster/cluster.sh)
set(SLUICE_MARIADB_CLUSTER_DIR ${CMAKE_BINARY_DIR}/clusters/mariadb)
set(SLUICE_CLUSTER_SCRATCH_DIR ${CMAKE_BINARY_DIR}/clusters/scratch)

# PostgreSQL runs as the postgres OS user, which must be able to traverse every parent of its
# data directory; a build dir under e.g. /root (mode 700) is not, so fall back to /tmp.
set(SLUICE_PG_CLUSTER_DIR ${CMAKE_BINARY_DIR}/clusters/postgres)
execute_process(COMMAND runuser -u postgres -- test -x ${CMAKE_BINARY_DIR}
  RESULT_VARIABLE _sluice_pg_can_traverse OUTPUT_QUIET ERROR_QUIET)
if(NOT _sluice_pg_can_traverse EQUAL 0)
  string(MD5 _sluice_build_hash ${CMAKE_BINARY_DIR})
  string(SUBSTRING ${_sluice_build_hash} 0 12 _sluice_build_hash)
  set(SLUICE_PG_CLUSTER_DIR /tmp/sluice-clusters-${_sluice_build_hash}/postgres)
  set(SLUICE_CLUSTER_SCRATCH_DIR /tmp/sluice-clusters-${_sluice_build_hash}/scratch)
  message(STATUS "postgres cannot traverse ${CMAKE_BINARY_DIR}: test clusters under /tmp")
endif()

# The start test watches its parent (ctest): if ctest is killed, the watchdog stops the cluster.
add_test(NAME cluster_mariadb_start
  COMMAND bash ${SLUICE_CLUSTER_SCRIPT} start mariadb ${SLUICE_MARIADB_CLUSTER_DIR}
          --watch-pid parent)
add_test(NAME cluster_mariadb_stop
  COMMAND bash ${SLUICE_CLUSTER_SCRIPT} stop ${SLUICE_MARIADB_CLUSTER_DIR})
set_tests_properties(cluster_mariadb_start PROPERTIES FIXTURES_SETUP mariadb_cluster
  LABELS integration TIMEOUT 240)
set_tests_properties(cluster_mariadb_stop PROPERTIES FIXTURES_CLEANUP mariadb_cluster
  LABELS integration TIMEOUT 120)

add_test(NAME cluster_postgres_start
  COMMAND bash ${SLUICE_CLUSTER_SCRIPT} start postgres ${SLUICE_PG_CLUSTER_DIR}
          --watch-pid parent)
add_test(NAME cluster_postgres_stop
  COMMAND bash ${SLUICE_CLUSTER_SCRIPT} stop ${SLUICE_PG_CLUSTER_DIR})
set_tests_properties(cluster_postgres_start PROPERTIES FIXTURES_SETUP pg_cluster
  LABELS integration TIMEOUT 240)
set_tests_properties(cluster_postgres_stop PROPERTIES FIXTURES_CLEANUP pg_cluster
  LABELS integration TIMEOUT 120)

# sluice_private_cluster_test(<name> TIMEOUT <s> [FIXTURES <fixture...>] COMMAND <cmd...>)
# A test that starts its own clusters (it destroys or reshapes a topology) under
# SLUICE_SCRATCH_DIR=<scratch>/<name>: labelled "integration", serial (clusters are heavy on
# 2 cores), run through scratch_run.sh, which frees the scratch dir's disk when it ends.
set(SLUICE_SCRATCH_RUN ${CMAKE_SOURCE_DIR}/tests/cluster/scratch_run.sh)
function(sluice_private_cluster_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "FIXTURES;COMMAND" ${ARGN})
  add_test(NAME ${name}
    COMMAND bash ${SLUICE_SCRATCH_RUN} ${SLUICE_CLUSTER_SCRATCH_DIR}/${name} -- ${ARG_COMMAND})
  set_tests_properties(${name} PROPERTIES
    LABELS integration
    TIMEOUT ${ARG_TIMEOUT}
    RUN_SERIAL TRUE
    FIXTURES_REQUIRED "${ARG_FIXTURES}"
    ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR};SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR};SLUICE_CLUSTER_SCRIPT=${SLUICE_CLUSTER_SCRIPT};SLUICE_SCRATCH_DIR=${SLUICE_CLUSTER_SCRATCH_DIR}/${name}")
endfunction()

# sluice_private_cluster_python_tests(<script.py> TIMEOUT <s> TESTS <name:Class>...)
# One sluice_private_cluster_test per pair: `python3 <script.py> <sluice> <Class>`.
function(sluice_private_cluster_python_tests script)
  cmake_parse_arguments(ARG "" "TIMEOUT" "TESTS" ${ARGN})
  foreach(_pair ${ARG_TESTS})
    string(REPLACE ":" ";" _pair "${_pair}")
    list(GET _pair 0 _name)
    list(GET _pair 1 _class)
    sluice_private_cluster_test(${_name} TIMEOUT ${ARG_TIMEOUT}
      COMMAND /usr/bin/python3 ${script} $<TARGET_FILE:sluice> ${_class})
  endforeach()
endfunction()

add_library(sluice_test_cluster STATIC ${CMAKE_CURRENT_LIST_DIR}/cluster_env.cc)
target_link_libraries(sluice_test_cluster PUBLIC sluice_common PkgConfig::MARIADB
  PostgreSQL::PostgreSQL)

# sluice_integration_test(<name> SOURCES <files...> [FIXTURES <fixture...>] [LIBS <libs...>]
#                         [TIMEOUT <s>])
# One GoogleTest binary = one CTest test labelled "integration" that requires the fixtures
# and gets SLUICE_MARIADB_CLUSTER_DIR, SLUICE_PG_CLUSTER_DIR, SLUICE_CLUSTER_SCRIPT and
# SLUICE_SCRATCH_DIR (a directory of its own for private clusters) in its environment.
function(sluice_integration_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;FIXTURES;LIBS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE sluice_test_cluster ${ARG_LIBS} GTest::gtest
    GTest::gtest_main GTest::gmock)
  add_test(NAME ${name}
    COMMAND bash ${SLUICE_SCRATCH_RUN} ${SLUICE_CLUSTER_SCRATCH_DIR}/${name} -- $<TARGET_FILE:${name}>)
  set_tests_properties(${name} PROPERTIES
    LABELS integration
    TIMEOUT ${ARG_TIMEOUT}
    FIXTURES_REQUIRED "${ARG_FIXTURES}"
    ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR};SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR};SLUICE_CLUSTER_SCRIPT=${SLUICE_CLUSTER_SCRIPT};SLUICE_SCRATCH_DIR=${SLUICE_CLUSTER_SCRATCH_DIR}/${name}")
endfunction()
