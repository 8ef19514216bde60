# Node.js drivers (mariadb, mysql2, pg) against the servers directly and through sluice
# (node_drivers_test.py, issue #14). The node_deps fixture installs the drivers with `npm ci`
# from the committed package-lock.json into the build tree (nothing is vendored in the repo).
find_program(SLUICE_NPM npm)
if(NOT SLUICE_NPM)
  message(FATAL_ERROR "npm is needed for the Node.js driver tests (scripts/install-deps.sh installs it)")
endif()
set(_node_dir ${CMAKE_CURRENT_BINARY_DIR}/node)
configure_file(${CMAKE_CURRENT_LIST_DIR}/node/package.json ${_node_dir}/package.json COPYONLY)
configure_file(${CMAKE_CURRENT_LIST_DIR}/node/package-lock.json ${_node_dir}/package-lock.json
  COPYONLY)
add_test(NAME node_deps
  COMMAND ${SLUICE_NPM} ci --no-audit --no-fund --prefix ${_node_dir})
set_tests_properties(node_deps PROPERTIES LABELS integration TIMEOUT 300
  FIXTURES_SETUP node_deps)
foreach(_pair "node_drivers_mariadb:MariadbDrivers:mariadb_cluster"
              "node_drivers_pg:PostgresDrivers:pg_cluster")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  list(GET _pair 2 _fixture)
  add_test(NAME ${_name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/node_drivers_test.py
            $<TARGET_FILE:sluice> ${_node_dir}/node_modules ${_class})
  set_tests_properties(${_name} PROPERTIES
    LABELS integration
    TIMEOUT 240
    FIXTURES_REQUIRED "${_fixture};node_deps"
    ENVIRONMENT "SLUICE_MARIADB_CLUSTER_DIR=${SLUICE_MARIADB_CLUSTER_DIR};SLUICE_PG_CLUSTER_DIR=${SLUICE_PG_CLUSTER_DIR}")
endforeach()
