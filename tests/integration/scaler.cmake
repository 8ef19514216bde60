# Workload-driven scale-out / scale-in (scaler_test.py): a read load makes sluice run a
# scale_out_command that adds a replica (cluster.sh add-replica), the replica ramps up, and
# without load it is drained and removed (cluster.sh stop-node). Each test starts its own
# cluster (it changes the topology) and its own sluice, both stopped by PID.
sluice_private_cluster_python_tests(${CMAKE_CURRENT_LIST_DIR}/scaler_test.py TIMEOUT 400 TESTS
    "scaler_mariadb:MariadbScalerTest"
    "scaler_pg:PgScalerTest")
