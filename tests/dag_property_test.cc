// The property of issue 2: random task DAGs (up to 300 tasks, random fan-in
// and fan-out, values on both sides of the inline limit, random CPU demands,
// 1 to 8 nodes) give every Get the value a serial run gives; the simulator
// checks the invariants after every step; once the driver dropped every ref
// and the cluster is quiet, nothing is stored, leased, owned or borrowed.
//
// 30 cases by default (about a minute). More, or a replay:
//   RC_PARAMS="max_success=500" build/tests/unit_tests --gtest_filter='DagProperty.*'
//   RC_PARAMS="reproduce=..."   (the string RapidCheck prints on failure)
// A failing case prints its DRAY_SIM spec and DagParams; rerun one directly with
//   DagProperty.OneSpec below (edit the constants) or dray-sim.
#include <dray/dray.h>
#include <dray/sim.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cstdlib>
#include <string>

#include "random_dag.h"

namespace {

using dray::workloads::DagParams;
using dray::workloads::DagResult;
using dray::workloads::RunRandomDag;

struct Case {
  std::string spec;
  DagParams params;
  std::string Str() const {
    return "DRAY_SIM=\"" + spec + "\" tasks=" + std::to_string(params.tasks) +
           " max_fan_in=" + std::to_string(params.max_fan_in) + " dag_seed=" + std::to_string(params.seed) +
           " max_value_bytes=" + std::to_string(params.max_value_bytes) +
           " random_resources=" + (params.random_resources ? "1" : "0");
  }
};

// Runs one case; returns "" when it passed, else what went wrong.
std::string RunCase(const Case& c, dray::sim::ClusterState* state = nullptr) {
  dray::Init(dray::Config{.sim = c.spec});
  DagResult r = RunRandomDag(c.params);
  dray::sim::ClusterState s = dray::sim::RunUntilQuiet();
  dray::Shutdown();
  if (state) *state = s;
  if (!r.ok) return "wrong value: " + r.error;
  if (r.tasks != c.params.tasks) return "submitted " + std::to_string(r.tasks) + " tasks";
  if (!s.Clean()) return "left behind after the driver let go: " + s.Str();
  return "";
}

// Honours RC_PARAMS; without max_success there, runs 30 cases.
rc::detail::TestParams Params() {
  rc::detail::TestParams p = rc::detail::configuration().testParams;
  const char* env = std::getenv("RC_PARAMS");
  if (!env || std::string(env).find("max_success") == std::string::npos) p.maxSuccess = 30;
  return p;
}

TEST(DagProperty, RandomDagsMatchTheSerialRunAndLeaveNothingBehind) {
  auto property = [] {
    const auto sim_seed = *rc::gen::inRange<uint64_t>(0, 1000000).as("sim seed");
    const auto nodes = *rc::gen::inRange(1, 9).as("nodes");
    const auto cpus = *rc::gen::inRange(1, 5).as("cpus per node");
    const auto tasks = *rc::gen::inRange(1, 301).as("tasks");
    const auto fan_in = *rc::gen::inRange(0, 7).as("max fan-in");
    const auto dag_seed = *rc::gen::arbitrary<uint64_t>().as("dag seed");
    // Beyond the cluster shape: network latency, transfer chunk size, value sizes.
    const auto latency_us = *rc::gen::element(0, 10, 100, 2000).as("latency_us");
    const auto chunk_kb = *rc::gen::element(4, 64, 1024).as("chunk_kb");
    const auto max_kb = *rc::gen::element(1, 100, 200, 400).as("max value KiB");
    const auto random_resources = *rc::gen::arbitrary<bool>().as("random CPU demands (0.5 or 1)");
    Case c;
    c.spec = "seed=" + std::to_string(sim_seed) + ",nodes=" + std::to_string(nodes) + ",cpus=" + std::to_string(cpus) +
             ",latency_us=" + std::to_string(latency_us) + ",chunk_kb=" + std::to_string(chunk_kb);
    c.params.seed = dag_seed;
    c.params.tasks = tasks;
    c.params.max_fan_in = fan_in;
    c.params.max_value_bytes = static_cast<uint64_t>(max_kb) * 1024;
    c.params.random_resources = random_resources;
    RC_LOG() << c.Str() << "\n";
    std::string err = RunCase(c);
    if (!err.empty()) RC_FAIL(c.Str() + ": " + err);
  };
  rc::detail::TestMetadata meta;
  meta.id = "DagProperty/RandomDags";
  meta.description = "random DAGs match the serial run and leave nothing behind";
  auto result = rc::detail::checkTestable(property, meta, Params());
  std::ostringstream msg;
  rc::detail::printResultMessage(result, msg);
  EXPECT_TRUE(result.is<rc::detail::SuccessResult>()) << msg.str();
}

// Fixed cases that cover the corners cheaply and always run the same way.
TEST(DagProperty, CornerCases) {
  struct Fixed {
    const char* spec;
    int tasks;
    int fan_in;
    uint64_t max_bytes;
  };
  const Fixed fixed[] = {
      {"seed=1,nodes=1,cpus=1", 1, 0, 200 * 1024},      // one task
      {"seed=2,nodes=1,cpus=1", 60, 6, 200 * 1024},     // one CPU: nested Gets must not deadlock
      {"seed=3,nodes=8,cpus=1", 120, 4, 200 * 1024},    // many small nodes: spillback and transfers
      {"seed=4,nodes=3,cpus=4", 150, 2, 100 * 1024},    // payloads all at or below the inline limit
      {"seed=5,nodes=2,cpus=2", 40, 3, 1024 * 1024},    // multi-chunk transfers (chunk_kb default 1024)
      {"seed=6,nodes=2,cpus=2,chunk_kb=16", 40, 3, 300 * 1024},  // many chunks per object
      {"seed=7,nodes=3,cpus=2,chunk_kb=1", 30, 3, 200 * 1024},   // hundreds of chunks per object
      {"seed=8,nodes=3,cpus=2,store_mb=1", 60, 4, 400 * 1024},   // stores past their capacity
      {"seed=9,nodes=4,cpus=2,latency_us=0,worker_start_us=0", 80, 4, 200 * 1024},  // zero delays
      {"seed=10,nodes=4,cpus=3,latency_us=20000", 80, 4, 200 * 1024},               // slow network
      {"seed=11,nodes=2,cpus=2", 0, 4, 200 * 1024},                                 // no tasks at all
      {"seed=12,nodes=2,cpus=2", 50, 4, 0},                                         // empty payloads
  };
  for (const auto& f : fixed) {
    Case c;
    c.spec = f.spec;
    c.params.seed = 77;
    c.params.tasks = f.tasks;
    c.params.max_fan_in = f.fan_in;
    c.params.max_value_bytes = f.max_bytes;
    dray::sim::ClusterState s;
    EXPECT_EQ(RunCase(c, &s), "") << c.Str() << " max_value_bytes=" << f.max_bytes;
  }
}

TEST(DagProperty, SameSeedSameRun) {
  Case c;
  c.spec = "seed=11,nodes=4,cpus=2";
  c.params.seed = 5;
  c.params.tasks = 80;
  ASSERT_EQ(RunCase(c), "");
  uint64_t h1 = dray::sim::LastStats().trace_hash;
  ASSERT_EQ(RunCase(c), "");
  EXPECT_EQ(dray::sim::LastStats().trace_hash, h1);
}

TEST(DagProperty, ChecksumDependsOnTheDagOnly) {
  // The same DAG on two cluster shapes computes the same values.
  DagParams p;
  p.seed = 9;
  p.tasks = 50;
  uint64_t sums[2];
  const char* specs[2] = {"seed=1,nodes=1,cpus=4", "seed=2,nodes=5,cpus=1"};
  for (int i = 0; i < 2; ++i) {
    dray::Init(dray::Config{.sim = specs[i]});
    DagResult r = RunRandomDag(p);
    dray::Shutdown();
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.tasks, 50);
    sums[i] = r.checksum;
  }
  EXPECT_EQ(sums[0], sums[1]);
  EXPECT_NE(sums[0], 0u);
}

}  // namespace
