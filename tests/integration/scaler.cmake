# Workload-driven scale-out / scale-in (scaler_test.py): a read load makes sluice run a
# scale_out_command that adds a replica (cluster.sh add-replica), the replica ramps up, and
# without load it is drained and removed (cluster.sh stop-node). Each test starts its own
# cluster (it changes the topology) and its own sluice, both stopped by PID.
foreach(_pair "scaler_mariadb:MariadbScalerTest" "scaler_pg:PgScalerTest")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  sluice_private_cluster_test(${_name} TIMEOUT 400
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/scaler_test.py $<TARGET_FILE:sluice> ${_class})
endforeach()
