# Shadow-cluster mirroring (mirror_test.py), each on a private cluster (a primary + a shadow
# made with cluster.sh add-replica): MariaDB with sysbench, PostgreSQL with pgbench and
# psycopg2; traffic mirrored to the shadow, checksums equal; exposure sampling; a stopped or
# locked and a killed shadow cut sessions, production unharmed.
sluice_private_cluster_test(mirror_mariadb TIMEOUT 400
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/mirror_test.py $<TARGET_FILE:sluice>
          MariadbMirrorTest)
sluice_private_cluster_test(mirror_postgres TIMEOUT 300
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/mirror_test.py $<TARGET_FILE:sluice>
          PgMirrorTest)
