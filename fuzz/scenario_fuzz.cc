// libFuzzer target for the scenario-file parser (sim/scenario.h): any text
// either parses or throws dray::Error naming the file and the line; what
// parses formats to a file that parses to the same scenario, and formats to
// the same text again. A violation (a crash, another exception, a round trip
// that differs) aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "dray/errors.h"
#include "sim/scenario.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail = "") {
  std::fprintf(stderr, "scenario_fuzz: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

bool Same(const dray::sim::Scenario& a, const dray::sim::Scenario& b) {
  return a.spec == b.spec && a.workload == b.workload && a.tasks == b.tasks && a.faults == b.faults;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  dray::sim::Scenario s;
  try {
    s = dray::sim::ParseScenario(text, "'fuzz'");
  } catch (const dray::Error& e) {
    std::string what = e.what();
    if (what.rfind("dray: scenario 'fuzz', line ", 0) != 0) Fail("an error that names no line", what);
    return 0;
  } catch (const std::exception& e) {
    Fail("an exception other than dray::Error", e.what());
  }
  std::string formatted = dray::sim::FormatScenario(s);
  dray::sim::Scenario again;
  try {
    again = dray::sim::ParseScenario(formatted, "'formatted'");
  } catch (const std::exception& e) {
    Fail("a formatted scenario does not parse", std::string(e.what()) + "\n" + formatted);
  }
  // (A workload name or spec with spaces cannot be written back; the parser
  // splits on whitespace, so neither has any.)
  if (!Same(s, again)) Fail("a round trip changed the scenario", formatted);
  if (dray::sim::FormatScenario(again) != formatted) Fail("formatting is not stable", formatted);
  return 0;
}
