// CTest learns the unit tests from their names (catch_discover_tests) and cuts a name at
// each ';' (a CMake list separator) into tests that match nothing, and so pass without
// running anything.
#include <catch2/catch.hpp>

TEST_CASE("no unit test name holds a semicolon, which CTest would cut into tests that run nothing") {
  for (const Catch::TestCase& test : Catch::getAllTestCasesSorted(*Catch::getCurrentContext().getConfig())) {
    INFO(test.name);
    CHECK(test.name.find(';') == std::string::npos);
  }
}
