# The sessions' client-side state machines (tests/fuzz/{mysql,pgsql}_session_driver.h): the
# whole data plane (libevent, OpenSSL, re2, the pool and router), so unlike the codec targets
# they need every library built with clang and libFuzzer's coverage: SLUICE_FUZZ=ON in a
# clang build, which scripts/fuzz-sessions.sh configures. The normal (g++) build replays
# their kept corpora through the same entry points (proxy_session_fuzz_replay_test).
if(SLUICE_FUZZ)
  foreach(name mysql_session_fuzz pgsql_session_fuzz)
    add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/${name}.cc)
    target_link_libraries(${name} PRIVATE ${SLUICE_ALL_LIBS} GTest::gtest)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  endforeach()
endif()
