# Event webhooks ([[event_sink]]) with a receiver inside the test (events_test.py): a
# switchover, a kill -9 failover, a receiver that goes dark and comes back. Each test starts
# its own cluster (the failover destroys the topology) and its own sluice, stopped by PID.
foreach(_pair "events_webhook_mariadb:MariadbEventsTest" "events_webhook_pg:PgEventsTest")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  sluice_private_cluster_test(${_name} TIMEOUT 300
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/events_test.py $<TARGET_FILE:sluice> ${_class})
endforeach()
