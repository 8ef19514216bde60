# Workload-driven scale-out / scale-in (scaler_test.py): a read load makes sluice run a
# scale_out_command that adds a replica (cluster.sh add-replica), the replica ramps up, and
# without load it is drained and removed (cluster.sh stop-node). Each test starts its own
# cluster (it changes the topology) and its own sluice, both stopped by PID.
foreach(_pair "scaler_mariadb:MariadbScalerTest" "scaler_pg:PgScalerTest")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  add_test(NAME ${_name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/scaler_test.py
            $<TARGET_FILE:sluice> ${_class})
  set_tests_properties(${_name} PROPERTIES
    LABELS integration
    TIMEOUT 400
    RUN_SERIAL TRUE
    ENVIRONMENT "SLUICE_CLUSTER_SCRIPT=${SLUICE_CLUSTER_SCRIPT};SLUICE_SCRATCH_DIR=${SLUICE_CLUSTER_SCRATCH_DIR}/${_name}")
endforeach()
