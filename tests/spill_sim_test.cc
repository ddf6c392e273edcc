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
#include <vector>
#include <unistd.h>

#include "core/common/probe.h"
#include "random_dag.h"
#include "sim/trace.h"

// The size of a value read as a task's argument.
int64_t SpillPutSize(std::string v) { return static_cast<int64_t>(v.size()); }
DRAY_REMOTE(SpillPutSize);

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

// Disk errors (faults=disk_error): a restore that fails loses that copy while
// its node lives. A task's lost return is rebuilt from lineage, so the DAG
// stays right.
TEST(SpillSim, DiskErrorsLoseSpilledCopiesAndLineageRebuildsThem) {
  uint64_t failed0 = Probe("node.store.restore_failed");
  DagRun r = RunDag(std::string("seed=31,") + kTinyStore +
                        ",faults=disk_error,disk_error_permille=300,faults_until_ms=100000,task_retries=-1",
                    31, 120);
  ASSERT_TRUE(r.result.ok) << r.result.error;
  EXPECT_GT(r.stats.disk_errors, 0u);
  EXPECT_EQ(r.stats.crashes, 0u);
  EXPECT_GT(Probe("node.store.restore_failed"), failed0);
}

// A put's primary copy lives on its owner's node: only the disk can lose it
// while the owner lives. The driver's puts fill the head's small store, the
// older ones are spilled, and every restore fails: a task reading one gets
// ObjectLostError saying it was put (a put has no lineage), and so does the
// driver; the puts still in memory keep their values.
TEST(SpillSim, ADiskErrorLosesASpilledPutWhoseOwnerLives) {
  uint64_t lost0 = Probe("object.lost.put");
  dray::Init(dray::Config{.sim = "seed=32,nodes=2,cpus=2,store_kb=512,head_cpus=0,faults=disk_error,"
                                 "disk_error_permille=1000,faults_until_ms=100000"});
  const size_t kBytes = 200 * 1024;
  std::vector<dray::ObjectRef<std::string>> puts;
  for (int i = 0; i < 6; ++i) puts.push_back(dray::Put(std::string(kBytes, static_cast<char>('a' + i))));
  std::vector<dray::ObjectRef<int64_t>> sizes;
  for (const auto& p : puts) sizes.push_back(dray::Task(SpillPutSize).Remote(p));
  int lost = 0, read = 0;
  for (size_t i = 0; i < puts.size(); ++i) {
    try {
      EXPECT_EQ(*dray::Get(sizes[i]), static_cast<int64_t>(kBytes));
      ++read;
    } catch (const dray::Error& e) {
      std::string what = e.what();
      EXPECT_NE(what.find("was put"), std::string::npos) << what;
      ++lost;
      try {
        (void)dray::Get(puts[i]);
        ADD_FAILURE() << "put " << i << " was lost for a task but not for its owner";
      } catch (const dray::ObjectLostError& e2) {
        EXPECT_NE(std::string(e2.what()).find("was put"), std::string::npos) << e2.what();
      }
    }
  }
  puts.clear();
  sizes.clear();
  dray::Shutdown();
  EXPECT_GT(lost, 0);
  EXPECT_GT(read, 0);
  EXPECT_GT(dray::sim::LastStats().disk_errors, 0u);
  EXPECT_GT(Probe("object.lost.put"), lost0);
}

}  // namespace
