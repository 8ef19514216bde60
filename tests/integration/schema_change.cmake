# The schema-change report end to end (schema_change_test.py): a private MariaDB cluster and a
# shadow made with cluster.sh add-replica; a sysbench workload of ten shapes mirrored before
# and after three changes on the shadow; the HTML page in headless Chromium; 100,000 digests
# under the digest cap.
sluice_private_cluster_test(schema_change_mariadb TIMEOUT 360
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/schema_change_test.py $<TARGET_FILE:sluice>)
