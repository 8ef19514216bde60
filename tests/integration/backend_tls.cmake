# Backend TLS (issue #14, backend_tls_test.py): each test starts its own small cluster with
# cluster.sh --tls (TLS-only servers) and sluices with backend_tls settings in front of it.
sluice_private_cluster_python_tests(${CMAKE_CURRENT_LIST_DIR}/backend_tls_test.py TIMEOUT 300 TESTS
    "backend_tls_mariadb:MariadbBackendTlsTest"
    "backend_tls_pg:PgBackendTlsTest")
