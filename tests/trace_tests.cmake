# Traces (DESIGN §7): record in the sim, replay, timeline, and the dray
# command. Included from tests/CMakeLists.txt.
if(NOT TARGET GTest::gtest_main)
  find_package(GTest REQUIRED)
endif()
include(GoogleTest)

add_executable(trace_test ${CMAKE_CURRENT_LIST_DIR}/trace_test.cc)
target_compile_options(trace_test PRIVATE ${DRAY_WARNINGS})
# The test runs the dray command, so it is built first.
target_compile_definitions(trace_test PRIVATE DRAY_CLI="$<TARGET_FILE:dray-cli>")
add_dependencies(trace_test dray-cli)
target_link_libraries(trace_test PRIVATE dray_internal GTest::gtest_main SQLite::SQLite3)
gtest_discover_tests(trace_test DISCOVERY_TIMEOUT 60)
