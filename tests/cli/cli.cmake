# CLI tests of the sluice binary: flags, and the one-line "FILE:LINE: key: ..." error with exit
# status 2 for a broken config. Included from tests/CMakeLists.txt; label "unit".
set(SLUICE_CLI_DIR ${CMAKE_CURRENT_LIST_DIR})
set(SLUICE_CLI_EXPECT ${SLUICE_CLI_DIR}/expect_config_error.sh)

# Exit status 0 and a line of output (stdout and stderr) matching REGEX.
function(sluice_cli_test name regex)
  add_test(NAME ${name} COMMAND ${SLUICE_CLI_DIR}/expect_success.sh $<TARGET_FILE:sluice> ${regex}
    ${ARGN})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 30)
endfunction()

# Exit status 2 and one stderr line that is exactly REGEX.
function(sluice_cli_config_error name config regex)
  add_test(NAME ${name} COMMAND ${SLUICE_CLI_EXPECT} $<TARGET_FILE:sluice> ${config} ${regex})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 30)
endfunction()

sluice_cli_test(cli_version "^sluice ${PROJECT_VERSION}$" --version)
sluice_cli_test(cli_help "[Uu]sage" --help)
sluice_cli_test(cli_check_example ".*" --config ${CMAKE_SOURCE_DIR}/examples/sluice.toml --check)

set(bad ${SLUICE_CLI_DIR}/bad)
sluice_cli_config_error(cli_config_missing_key ${bad}/missing_key.toml
  "${bad}/missing_key.toml:5: cluster\\[0\\]\\.protocol: missing required key")
sluice_cli_config_error(cli_config_wrong_type ${bad}/wrong_type.toml
  "${bad}/wrong_type.toml:12: cluster\\[0\\]\\.server\\[0\\]\\.port: expected integer, got string")
sluice_cli_config_error(cli_config_unknown_key ${bad}/unknown_key.toml
  "${bad}/unknown_key.toml:4: sluice\\.worker: unknown key")
sluice_cli_config_error(cli_config_syntax_error ${bad}/syntax_error.toml
  "${bad}/syntax_error.toml:3: -: .+")
sluice_cli_config_error(cli_config_no_admin_password ${bad}/no_admin_password.toml
  "${bad}/no_admin_password.toml:2: admin\\.password: missing required key \\(.+\\)")
sluice_cli_config_error(cli_config_log_format ${bad}/log_format.toml
  "${bad}/log_format.toml:3: sluice\\.log_format: expected one of text\\|json, got \"xml\"")
# Unreadable: chmod 000 does not stop root, so use a path that does not exist and a directory.
sluice_cli_config_error(cli_config_nonexistent ${CMAKE_CURRENT_BINARY_DIR}/no-such-dir/sluice.toml
  "${CMAKE_CURRENT_BINARY_DIR}/no-such-dir/sluice\\.toml:0: -: cannot read: No such file or directory")
sluice_cli_config_error(cli_config_directory ${bad}
  "${bad}:0: -: cannot read: Is a directory")
# Without --check the same error must stop the binary before it serves anything.
add_test(NAME cli_config_error_without_check
  COMMAND ${CMAKE_COMMAND} -E env NO_CHECK=1 ${SLUICE_CLI_EXPECT} $<TARGET_FILE:sluice>
    ${bad}/wrong_type.toml
    "${bad}/wrong_type.toml:12: cluster\\[0\\]\\.server\\[0\\]\\.port: expected integer, got string")
set_tests_properties(cli_config_error_without_check PROPERTIES LABELS unit TIMEOUT 30)

# Stored verifiers instead of plaintext passwords (issue #13 item 12).
sluice_cli_config_error(cli_config_md5_with_scram_verifier ${bad}/md5_with_scram_verifier.toml
  "${bad}/md5_with_scram_verifier.toml:20: user\\[0\\]\\.pg_auth: md5 cannot be checked against a SCRAM-SHA-256 verifier .+")
sluice_cli_config_error(cli_config_bad_native_verifier ${bad}/bad_native_verifier.toml
  "${bad}/bad_native_verifier.toml:18: user\\[0\\]\\.password: looks like a mysql_native_password verifier .+")
sluice_cli_config_error(cli_config_verifier_without_backend_password
  ${bad}/verifier_without_backend_password.toml
  "${bad}/verifier_without_backend_password.toml:[0-9]+: user\\[0\\]\\.backend_password: required when password is a stored verifier.+")
# --check loads the TLS files: a key that does not match its certificate, or a missing
# certificate, is a problem line and exit status 2.
add_test(NAME cli_check_tls COMMAND ${SLUICE_CLI_DIR}/check_tls.sh $<TARGET_FILE:sluice>)
set_tests_properties(cli_check_tls PROPERTIES LABELS unit TIMEOUT 60)
