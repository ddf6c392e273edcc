# The install test: installs this build into a temporary prefix and builds
# tests/install, a program outside the tree, with find_package(dray).
# The lead includes this file from tests/CMakeLists.txt (or the top level):
#   include(${CMAKE_SOURCE_DIR}/tests/install_tests.cmake)
# It needs the whole build (cmake --install installs dray, dray-sim and dray).
add_test(NAME install_find_package
  COMMAND bash ${CMAKE_SOURCE_DIR}/tests/install_test.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
set_tests_properties(install_find_package PROPERTIES
  TIMEOUT 600
  LABELS install
  PASS_REGULAR_EXPRESSION "install_test: PASS")
