# Shadow-cluster mirroring (mirror_test.py): a private MariaDB cluster (primary + a shadow
# made with cluster.sh add-replica), sysbench through sluice mirrored to the shadow, checksums
# equal; exposure sampling; a stopped and a killed shadow cut sessions, production unharmed.
sluice_private_cluster_test(mirror_mariadb TIMEOUT 400
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/mirror_test.py $<TARGET_FILE:sluice>)
