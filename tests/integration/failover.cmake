# Health monitor, failover, switchover, lag-aware routing and discovery (failover_test.py).
# Each test starts its own cluster (it destroys the topology) under the scratch dir and its
# own sluice; both stopped by PID. Clusters are heavy on 2 cores: the tests run serially.
sluice_private_cluster_python_tests(${CMAKE_CURRENT_LIST_DIR}/failover_test.py TIMEOUT 420 TESTS
    "failover_mariadb:MariadbFailoverTest"
    "failover_pg:PgFailoverTest"
    "health_lag_mariadb:MariadbLagTest"
    "health_lag_pg:PgLagTest"
    "health_replica_kill_mariadb:MariadbReplicaKillTest"
    "failover_switchover_mariadb:MariadbSwitchoverTest"
    "failover_switchover_pg:PgSwitchoverTest"
    "health_discovery_mariadb:MariadbDiscoveryTest"
    "health_discovery_pg:PgDiscoveryTest")

# Issue #11 against real clusters (failover_trust_test.py): a quiet cluster fails over and
# its returning old primary refuses direct writes; split brain held, outside switchover
# adopted.
sluice_private_cluster_python_tests(${CMAKE_CURRENT_LIST_DIR}/failover_trust_test.py TIMEOUT 300 TESTS
    "failover_quiet_pg:PgQuietTest"
    "failover_quiet_mariadb:MariadbQuietTest"
    "failover_outside_mariadb:MariadbOutsideTest"
    "failover_outside_pg:PgOutsideTest"
    "failover_inflight_mariadb:MariadbInflightTest"
    "health_host_names_mariadb:MariadbHostNameTest"
    "failover_admin_repair_pg:PgAdminRepairTest")
