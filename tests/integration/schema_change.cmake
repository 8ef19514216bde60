# The schema-change report end to end (schema_change_test.py), each on a private cluster and
# a shadow made with cluster.sh add-replica; a workload of ten shapes mirrored before and
# after three changes on the shadow; the HTML page in headless Chromium. MariaDB: sysbench,
# and 100,000 digests under the digest cap; PostgreSQL: pgbench -M prepared.
sluice_private_cluster_python_tests(${CMAKE_CURRENT_LIST_DIR}/schema_change_test.py TIMEOUT 360
  TESTS schema_change_mariadb:MariadbSchemaChangeTest schema_change_postgres:PgSchemaChangeTest)
