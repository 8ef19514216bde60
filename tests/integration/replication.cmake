# The harness's own check: the fixture clusters really replicate, and cluster.sh's
# --semisync / --sync / add-replica / kill-node / start-node do what they say.
sluice_integration_test(replication_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/replication_test.cc
  FIXTURES mariadb_cluster pg_cluster
  TIMEOUT 400)
