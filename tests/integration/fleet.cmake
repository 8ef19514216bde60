# A fleet of sluice instances through etcd (fleet_test.py): each test starts its own 3-member
# etcd cluster (tests/cluster/etcd.sh), its own database cluster and 2-3 sluice instances,
# all stopped by PID. Serial: clusters are heavy on 2 cores.
foreach(_pair
    "fleet_failover_mariadb:MariadbFleetFailoverTest"
    "fleet_failover_pg:PgFleetFailoverTest"
    "fleet_leader_kill_mariadb:MariadbFleetLeaderKillTest"
    "fleet_partition_mariadb:MariadbFleetPartitionTest"
    "fleet_partition_pg:PgFleetPartitionTest")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  sluice_private_cluster_test(${_name} TIMEOUT 300
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/fleet_test.py $<TARGET_FILE:sluice> ${_class})
endforeach()

# Issue #19's leftovers (fleet_steps_test.py): MIRROR START gated on the leader, a switchover
# abandoned after its fence rolled back by the next leader, the PostgreSQL leader kill.
foreach(_pair
    "fleet_mirror_gate_mariadb:MariadbFleetMirrorGateTest"
    "fleet_switchover_kill_mariadb:MariadbFleetSwitchoverKillTest"
    "fleet_leader_kill_pg:PgFleetLeaderKillTest")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  sluice_private_cluster_test(${_name} TIMEOUT 300
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/fleet_steps_test.py $<TARGET_FILE:sluice>
            ${_class})
endforeach()
