# Backend TLS (issue #14, backend_tls_test.py): each test starts its own small cluster with
# cluster.sh --tls (TLS-only servers) and sluices with backend_tls settings in front of it.
foreach(_pair "backend_tls_mariadb:MariadbBackendTlsTest" "backend_tls_pg:PgBackendTlsTest")
  string(REPLACE ":" ";" _pair "${_pair}")
  list(GET _pair 0 _name)
  list(GET _pair 1 _class)
  sluice_private_cluster_test(${_name} TIMEOUT 300
    COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/backend_tls_test.py $<TARGET_FILE:sluice> ${_class})
endforeach()
