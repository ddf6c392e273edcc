// Eviction and spilling in the simulator: the random DAG (values up to 200
// KiB) on nodes whose object stores hold 1 MiB gives the serial oracle's
// results while objects are evicted, spilled and restored; the same seed gives
// the same trace hash; a recorded run replays; a node crash loses its
// spilled objects, which lineage rebuilds.
#include <dray/dray.h>
#include <dray/sim.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <unistd.h>

#include "core/common/probe.h"
#include "random_dag.h"
#include "sim/trace.h"

namespace {

uint64_t Probe(const char* name) {
  auto& hits = dray::ProbeRegistry::Get().hits;
  auto it = hits.find(name);
  return it == hits.end() ? 0 : it->second;
}

struct DagRun {
  dray::workloads::DagResult result;
  dray::sim::RunStats stats;
};

DagRun RunDag(const std::string& spec, uint64_t dag_seed, int tasks) {
  DagRun r;
  dray::Init(dray::Config{.sim = spec});
  dray::workloads::DagParams p;
  p.seed = dag_seed;
  p.tasks = tasks;
  p.max_value_bytes = 200 * 1024;
  r.result = dray::workloads::RunRandomDag(p);
  dray::Shutdown();
  r.stats = dray::sim::LastStats();
  return r;
}

const char* kTinyStore = "nodes=3,cpus=2,store_kb=1024,inline_kb=0";

TEST(SpillSim, ARandomDagOnTinyStoresIsRightAndSpills) {
  uint64_t evicted0 = Probe("node.store.evicted"), spilled0 = Probe("node.store.spilled"),
           restored0 = Probe("node.store.restore"), deleted0 = Probe("node.store.spill_deleted");
  DagRun r = RunDag(std::string("seed=11,") + kTinyStore, 11, 120);
  ASSERT_TRUE(r.result.ok) << r.result.error;
  EXPECT_GT(r.stats.spills, 0u);
  EXPECT_GT(r.stats.restores, 0u);
  EXPECT_GT(r.stats.spill_deletes, 0u);
  EXPECT_GT(Probe("node.store.spilled"), spilled0);
  EXPECT_GT(Probe("node.store.restore"), restored0);
  EXPECT_GT(Probe("node.store.spill_deleted"), deleted0);
  EXPECT_GT(Probe("node.store.evicted"), evicted0);
  std::printf("spills=%llu restores=%llu spill_deletes=%llu evicted=%llu\n",
              static_cast<unsigned long long>(r.stats.spills), static_cast<unsigned long long>(r.stats.restores),
              static_cast<unsigned long long>(r.stats.spill_deletes),
              static_cast<unsigned long long>(Probe("node.store.evicted") - evicted0));
}

TEST(SpillSim, TheSameSeedGivesTheSameTraceHashWithSpilling) {
  DagRun a = RunDag(std::string("seed=12,") + kTinyStore, 12, 80);
  DagRun b = RunDag(std::string("seed=12,") + kTinyStore, 12, 80);
  ASSERT_TRUE(a.result.ok) << a.result.error;
  ASSERT_GT(a.stats.spills, 0u);
  EXPECT_EQ(a.stats.trace_hash, b.stats.trace_hash);
  EXPECT_EQ(a.stats.steps, b.stats.steps);
  EXPECT_EQ(a.result.checksum, b.result.checksum);
}

TEST(SpillSim, ARunWithSpillingReplays) {
  std::string path = "/tmp/dray-spill-replay-" + std::to_string(getpid()) + ".db";
  std::remove(path.c_str());
  DagRun r = RunDag(std::string("seed=13,") + kTinyStore + ",trace=" + path, 13, 60);
  ASSERT_TRUE(r.result.ok) << r.result.error;
  ASSERT_GT(r.stats.restores, 0u);
  dray::sim::ReplayResult rep = dray::sim::Replay(path);
  EXPECT_TRUE(rep.ok) << rep.error;
  EXPECT_GT(rep.events, 0u);
  std::remove(path.c_str());
}

// Node crashes take their disks along: spilled objects are lost like copies
// in memory, and rebuilt from lineage (task retries without limit).
TEST(SpillSim, NodeCrashesLoseSpilledObjectsAndLineageRebuildsThem) {
  for (uint64_t seed : {21, 22, 23}) {
    DagRun r = RunDag("seed=" + std::to_string(seed) + "," + kTinyStore +
                          ",head_cpus=0,faults=node_crash+worker_crash,fault_every_us=500,faults_until_ms=400,"
                          "task_retries=-1",
                      seed, 120);
    ASSERT_TRUE(r.result.ok) << "seed " << seed << ": " << r.result.error;
    EXPECT_GT(r.stats.crashes, 0u);
    EXPECT_GT(r.stats.spills, 0u);
  }
}

// faults=swarm draws a small store for some seeds from a PRNG of its own.
TEST(SpillSim, SwarmDrawsASmallStoreForSomeSeeds) {
  int small = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    dray::Init(dray::Config{.sim = "seed=" + std::to_string(seed) + ",nodes=2,faults=swarm,faults_until_ms=1"});
    dray::Shutdown();
    if (dray::sim::LastStats().fault_kinds & (1u << 12)) ++small;
  }
  EXPECT_GT(small, 0);
  EXPECT_LT(small, 12);
}

}  // namespace
