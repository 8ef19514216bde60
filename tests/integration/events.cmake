# Event webhooks ([[event_sink]]) with a receiver inside the test (events_test.py): a
# switchover, a kill -9 failover, a receiver that goes dark and comes back. Each test starts
# its own cluster (the failover destroys the topology) and its own sluice, stopped by PID.
sluice_private_cluster_python_tests(${CMAKE_CURRENT_LIST_DIR}/events_test.py TIMEOUT 300 TESTS
    "events_webhook_mariadb:MariadbEventsTest"
    "events_webhook_pg:PgEventsTest")
