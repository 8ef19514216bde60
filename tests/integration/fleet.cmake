# A fleet of sluice instances through etcd (fleet_test.py): each test starts its own 3-member
# etcd cluster (tests/cluster/etcd.sh), its own database cluster and 2-3 sluice instances,
# all stopped by PID. Serial: clusters are heavy on 2 cores. fleet_steps_test.py: issue #19's
# leftovers (MIRROR START gated on the leader, a switchover abandoned after its fence rolled
# back by the next leader, the PostgreSQL leader kill) on the same harness.
sluice_private_cluster_python_tests(${CMAKE_CURRENT_LIST_DIR}/fleet_test.py TIMEOUT 300 TESTS
    "fleet_failover_mariadb:MariadbFleetFailoverTest"
    "fleet_failover_pg:PgFleetFailoverTest"
    "fleet_leader_kill_mariadb:MariadbFleetLeaderKillTest"
    "fleet_partition_mariadb:MariadbFleetPartitionTest"
    "fleet_partition_pg:PgFleetPartitionTest")
sluice_private_cluster_python_tests(${CMAKE_CURRENT_LIST_DIR}/fleet_steps_test.py TIMEOUT 300
  TESTS
    "fleet_mirror_gate_mariadb:MariadbFleetMirrorGateTest"
    "fleet_switchover_kill_mariadb:MariadbFleetSwitchoverKillTest"
    "fleet_leader_kill_pg:PgFleetLeaderKillTest")
