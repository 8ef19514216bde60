# A fleet of sluice instances through etcd (fleet_test.py): each test starts its own 3-member
# etcd cluster (tests/cluster/etcd.sh), its own database cluster and 2-3 sluice instances,
# all stopped by PID. Serial: clusters are heavy on 2 cores. fleet_steps_test.py: issue #19's
# leftovers (MIRROR START gated on the leader, a switchover abandoned after its fence rolled
# back by the next leader, the PostgreSQL leader kill) on the same harness.
foreach(_test
    "fleet_failover_mariadb:fleet_test:MariadbFleetFailoverTest"
    "fleet_failover_pg:fleet_test:PgFleetFailoverTest"
    "fleet_leader_kill_mariadb:fleet_test:MariadbFleetLeaderKillTest"
    "fleet_partition_mariadb:fleet_test:MariadbFleetPartitionTest"
    "fleet_partition_pg:fleet_test:PgFleetPartitionTest"
    "fleet_mirror_gate_mariadb:fleet_steps_test:MariadbFleetMirrorGateTest"
    "fleet_switchover_kill_mariadb:fleet_steps_test:MariadbFleetSwitchoverKillTest"
    "fleet_leader_kill_pg:fleet_steps_test:PgFleetLeaderKillTest")
  string(REPLACE ":" ";" _test "${_test}")
  list(GET _test 0 _name)
  list(GET _test 1 _script)
  list(GET _test 2 _class)
  sluice_private_cluster_test(${_name} TIMEOUT 300
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/${_script}.py $<TARGET_FILE:sluice>
            ${_class})
endforeach()

