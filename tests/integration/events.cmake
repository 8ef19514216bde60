# Event webhooks ([[event_sink]]) with a receiver inside the test (events_test.py): a
# switchover, a kill -9 failover, a receiver that goes dark and comes back. Each test starts
# its own cluster (the failover destroys the topology) and its own sluice, stopped by PID.
foreach(_pair "events_webhook_mariadb:MariadbEventsTest" "events_webhook_pg:PgEventsTest")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  add_test(NAME ${_name}
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/events_test.py
            $<TARGET_FILE:sluice> ${_class})
  set_tests_properties(${_name} PROPERTIES
    LABELS integration
    TIMEOUT 300
    RUN_SERIAL TRUE
    ENVIRONMENT "SLUICE_CLUSTER_SCRIPT=${SLUICE_CLUSTER_SCRIPT};SLUICE_SCRATCH_DIR=${SLUICE_CLUSTER_SCRATCH_DIR}/${_name}")
endforeach()
