// Scenario files (sim/scenario.h) and shrinking: a RapidCheck property over
// (workload, fault schedule) whose failure shrinks to a minimal schedule,
// written as a scenario file that replays the same failure exactly.
#include <dray/dray.h>
#include <dray/sim.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "random_dag.h"
#include "sim/scenario.h"

namespace {

using dray::sim::ParseScenario;
using dray::sim::Scenario;
using dray::sim::ScriptedFault;

TEST(Scenario, ParsesFormatsAndRoundTrips) {
  Scenario s = ParseScenario(
      "# a comment\n"
      "spec seed=3,nodes=3,cpus=2   # trailing comment\n"
      "\n"
      "workload random_dag 40\n"
      "at_us 10 crash_worker 2\n"
      "at_us 20 crash_node 0\n"
      "at_us 30 partition 1 25000\n",
      "test");
  EXPECT_EQ(s.spec, "seed=3,nodes=3,cpus=2");
  EXPECT_EQ(s.workload, "random_dag");
  EXPECT_EQ(s.tasks, 40);
  ASSERT_EQ(s.faults.size(), 3u);
  EXPECT_EQ(s.faults[2].kind, ScriptedFault::kPartition);
  EXPECT_EQ(s.faults[2].duration_ms, 25000);
  Scenario again = ParseScenario(dray::sim::FormatScenario(s), "formatted");
  EXPECT_EQ(again.spec, s.spec);
  EXPECT_EQ(again.faults, s.faults);
}

TEST(Scenario, BadLinesNameTheFileTheLineAndTheProblem) {
  auto error = [](const std::string& text) {
    try {
      ParseScenario(text, "'x.scenario'");
    } catch (const dray::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error("at_us 5 explode 1\n").find("line 1: unknown fault 'explode'"), std::string::npos);
  EXPECT_NE(error("spec a=1\nat_us x crash_worker 1\n").find("line 2: at_us must be"), std::string::npos);
  EXPECT_NE(error("at_us 9 crash_worker 1\nat_us 5 crash_worker 1\n").find("time order"), std::string::npos);
  EXPECT_NE(error("at_us 9 partition 1\n").find("duration"), std::string::npos);
  EXPECT_NE(error("bogus\n").find("unknown line 'bogus'"), std::string::npos);
  EXPECT_NE(error("at_us 1 crash_worker 99999999999999999999\n").find("index"), std::string::npos);
}

struct Case {
  uint64_t sim_seed = 1;
  int tasks = 10;
  std::vector<ScriptedFault> faults;
};

std::string SpecOf(const Case& c) {
  return "seed=" + std::to_string(c.sim_seed) + ",nodes=3,cpus=2,task_retries=0";
}

std::string WriteScenario(const Case& c, const std::string& path) {
  Scenario s;
  s.spec = SpecOf(c);
  s.workload = "random_dag";
  s.tasks = c.tasks;
  s.faults = c.faults;
  std::ofstream(path) << dray::sim::FormatScenario(s);
  return path;
}

// "" when the DAG gave the right values, else its error; runs the case's
// faults from a scenario file, as dray-sim --scenario would.
std::string RunCase(const Case& c, const std::string& path, uint64_t* hash = nullptr) {
  WriteScenario(c, path);
  dray::Init(dray::Config{.sim = SpecOf(c) + ",scenario=" + path});
  dray::workloads::DagParams p;
  p.seed = c.sim_seed;
  p.tasks = c.tasks;
  dray::workloads::DagResult r;
  try {
    r = dray::workloads::RunRandomDag(p);
  } catch (const std::exception& e) {
    r.error = e.what();
  }
  dray::Shutdown();
  if (hash) *hash = dray::sim::LastStats().trace_hash;
  return r.ok ? "" : r.error.empty() ? "failed" : r.error;
}

// The property "a DAG survives crashes" is false without retries
// (task_retries=0): RapidCheck finds a failing (workload, schedule) and
// shrinks it. The smallest failing case is a single crash, and its scenario
// file replays the failure exactly (same trace hash).
TEST(Scenario, AFailingScheduleShrinksToAMinimalScenarioThatReplays) {
  std::string path = "/tmp/dray-scenario-test-" + std::to_string(getpid()) + ".scenario";
  Case last_failing;
  bool failed_once = false;
  auto property = [&] {
    Case c;
    c.sim_seed = *rc::gen::inRange<uint64_t>(1, 1000).as("sim seed");
    c.tasks = *rc::gen::inRange(1, 60).as("tasks");
    const auto n = *rc::gen::inRange(0, 6).as("faults");
    int64_t at = 0;
    for (int i = 0; i < n; ++i) {
      ScriptedFault f;
      at += *rc::gen::inRange<int64_t>(0, 3000);
      f.at_us = at;
      f.kind = *rc::gen::element(ScriptedFault::kCrashWorker, ScriptedFault::kCrashNode);
      f.index = *rc::gen::inRange<uint32_t>(0, 8);
      c.faults.push_back(f);
    }
    std::string err = RunCase(c, path);
    if (!err.empty()) {
      last_failing = c;
      failed_once = true;
    }
    RC_ASSERT(err.empty());
  };
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = 200;
  rc::detail::TestMetadata meta;
  meta.id = "Scenario/Shrink";
  auto result = rc::detail::checkTestable(property, meta, params);
  ASSERT_TRUE(result.is<rc::detail::FailureResult>()) << "no schedule broke a DAG without retries";
  ASSERT_TRUE(failed_once);
  // The last failing case RapidCheck ran is the one it shrank to.
  EXPECT_EQ(last_failing.faults.size(), 1u) << dray::sim::FormatScenario(Scenario{SpecOf(last_failing), "random_dag",
                                                                                   last_failing.tasks, last_failing.faults});
  EXPECT_LE(last_failing.tasks, 10);
  uint64_t h1 = 0, h2 = 0;
  std::string e1 = RunCase(last_failing, path, &h1);
  std::string e2 = RunCase(last_failing, path, &h2);
  EXPECT_FALSE(e1.empty());
  EXPECT_EQ(e1, e2);
  EXPECT_EQ(h1, h2);
  std::printf("  | shrunk to:\n%s  | error: %s\n", dray::sim::FormatScenario(Scenario{SpecOf(last_failing),
                                                                                         "random_dag", last_failing.tasks,
                                                                                         last_failing.faults})
                                                   .c_str(),
              e1.c_str());
  std::remove(path.c_str());
}

}  // namespace
