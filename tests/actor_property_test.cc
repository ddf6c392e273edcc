// The actor property of issue 4: random actor-and-task workloads (1 to 4
// actors, one of them named, 0 to 4 caller tasks holding the handles in a
// value, the driver calling too, a Kill with restart midway) on random
// cluster shapes, with and without random faults (worker and node crashes,
// partitions), keep every answer right and every actor invariant (the
// simulator checks them as calls start: one incarnation at a time, each
// caller's order, no call run twice but as a retry); once the driver let go,
// nothing is left behind.
//
// 20 cases by default. More, or a replay:
//   RC_PARAMS="max_success=300" build/tests/unit_tests --gtest_filter='ActorProperty.*'
//   RC_PARAMS="reproduce=..."   (the string RapidCheck prints on failure)
#include <dray/dray.h>
#include <dray/sim.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "actor_workload.h"

namespace {

using dray::workloads::ActorParams;
using dray::workloads::ActorResult;
using dray::workloads::RunActorWorkload;

struct Case {
  std::string spec;
  ActorParams params;
  std::string Str() const {
    return "DRAY_SIM=\"" + spec + "\" actors=" + std::to_string(params.actors) +
           " callers=" + std::to_string(params.callers) + " calls=" + std::to_string(params.calls) +
           " seed=" + std::to_string(params.seed) + " kill_restart=" + (params.kill_restart ? "1" : "0");
  }
};

std::string RunCase(const Case& c) {
  dray::Init(dray::Config{.sim = c.spec});
  ActorResult r;
  try {
    r = RunActorWorkload(c.params);
  } catch (const std::exception& e) {
    r.error = std::string("exception: ") + e.what();
  }
  dray::sim::ClusterState s = dray::sim::RunUntilQuiet();
  dray::Shutdown();
  if (!r.ok) return r.error;
  if (!s.Clean()) return "left behind after the driver let go: " + s.Str();
  return "";
}

rc::detail::TestParams Params() {
  rc::detail::TestParams p = rc::detail::configuration().testParams;
  const char* env = std::getenv("RC_PARAMS");
  if (!env || std::string(env).find("max_success") == std::string::npos) p.maxSuccess = 20;
  return p;
}

TEST(ActorProperty, RandomActorWorkloadsUnderFaultsKeepTheirAnswersAndInvariants) {
  auto property = [] {
    const auto sim_seed = *rc::gen::inRange<uint64_t>(0, 1000000).as("sim seed");
    const auto nodes = *rc::gen::inRange(1, 6).as("nodes");
    const auto cpus = *rc::gen::inRange(1, 4).as("cpus per node");
    const auto faults = *rc::gen::arbitrary<bool>().as("faults");
    const auto head_cpus = *rc::gen::element(-1, 0).as("head_cpus (-1: like the others)");
    Case c;
    c.params.seed = *rc::gen::arbitrary<uint64_t>().as("workload seed");
    c.params.actors = *rc::gen::inRange(1, 5).as("actors");
    c.params.callers = *rc::gen::inRange(0, 5).as("caller tasks");
    c.params.calls = *rc::gen::inRange(1, 31).as("calls per caller");
    c.params.kill_restart = *rc::gen::arbitrary<bool>().as("kill with restart");
    c.spec = "seed=" + std::to_string(sim_seed) + ",nodes=" + std::to_string(nodes) + ",cpus=" + std::to_string(cpus);
    // A node with no CPUs on a one-node cluster could place nothing.
    if (head_cpus == 0 && nodes > 1) c.spec += ",head_cpus=0";
    if (faults) c.spec += ",faults=swarm,faults_until_ms=300,task_retries=-1";
    RC_LOG() << c.Str() << "\n";
    std::string err = RunCase(c);
    if (!err.empty()) RC_FAIL(c.Str() + ": " + err);
  };
  rc::detail::TestMetadata meta;
  meta.id = "ActorProperty/RandomWorkloads";
  meta.description = "random actor workloads keep their answers and invariants";
  auto result = rc::detail::checkTestable(property, meta, Params());
  std::ostringstream msg;
  rc::detail::printResultMessage(result, msg);
  EXPECT_TRUE(result.is<rc::detail::SuccessResult>()) << msg.str();
}

}  // namespace
