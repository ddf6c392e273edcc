// The scenario fuzz target's seeds: a line of every fault kind, a whole file
// with a spec and a workload, and the scenario files CI replays. Each must
// parse.
#include "dray/errors.h"
#include "fuzz/fuzz_target.h"
#include "sim/scenario.h"

namespace dray::fuzz {

FuzzTarget MakeFuzzTarget() {
  FuzzTarget t;
  t.name = "scenario_fuzz_standalone";
  const char* lines[] = {
      "at_us 1500 crash_worker 3",     "at_us 2000 crash_node 1",          "at_us 2500 partition 0 25000",
      "at_us 3000 restart_gcs 0 2000", "at_us 3500 partition_out 0 1000",  "at_us 3500 partition_in 1 20000",
      "at_us 4000 clog 1 500",         "at_us 4500 slow_links 0 300 10000", "at_us 5000 slow_node 1 300 500",
      "at_us 5500 loss 0 200 50",      "at_us 5500 duplicate 0 200 50",     "at_us 5500 reorder 0 200 100",
      "at_us 6000 disk_error 0 300 500", "at_ns 6000123 clog 1 500000001",
  };
  std::string all = "# every kind\nspec seed=3,nodes=3,cpus=2,task_retries=0\nworkload random_dag 40\n";
  for (const char* l : lines) {
    t.seeds.push_back({std::string("kind-") + std::to_string(t.seeds.size()), std::string(l) + "\n"});
    all += std::string(l) + "   # a comment\n";
  }
  t.seeds.push_back({"whole-file", all});
  t.seeds.push_back({"empty", ""});
  t.seed_ok = [](const Seed& s, std::string* error) {
    try {
      sim::ParseScenario(s.bytes, "'seed'");
      return true;
    } catch (const std::exception& e) {
      *error = e.what();
      return false;
    }
  };
  t.accepted = [](const std::string& bytes) {
    try {
      sim::ParseScenario(bytes, "'mutation'");
      return true;
    } catch (const std::exception&) {
      return false;
    }
  };
  t.accepted_what = "still parsed as a scenario";
  return t;
}

}  // namespace dray::fuzz
