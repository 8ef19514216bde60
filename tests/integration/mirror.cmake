# Shadow-cluster mirroring (mirror_test.py): a private MariaDB cluster (primary + a shadow
# made with cluster.sh add-replica), sysbench through sluice mirrored to the shadow, checksums
# equal; exposure sampling; a stopped and a killed shadow cut sessions, production unharmed.
add_test(NAME mirror_mariadb
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/mirror_test.py $<TARGET_FILE:sluice>)
set_tests_properties(mirror_mariadb PROPERTIES
  LABELS integration
  TIMEOUT 400
  RUN_SERIAL TRUE
  ENVIRONMENT "SLUICE_CLUSTER_SCRIPT=${SLUICE_CLUSTER_SCRIPT};SLUICE_SCRATCH_DIR=${SLUICE_CLUSTER_SCRATCH_DIR}/mirror_mariadb")
