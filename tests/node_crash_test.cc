// Node crashes in the simulator: failure detection by health checks, tasks
// lost with their node retried elsewhere, lost stored objects rebuilt from
// lineage (only those needed), and the run's determinism under all that.
// Simulated workers share the test's address space, so a global can count
// how often each task body ran (a sim-only convenience).
#include <dray/dray.h>
#include <dray/sim.h>
#include <gtest/gtest.h>

#include "core/common/probe.h"

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace {

std::map<std::pair<int, int>, int> g_add_done;  // (x, y) -> completed runs

int NodeAdd(int x, int y) {
  dray::SleepFor(std::chrono::seconds(1));
  ++g_add_done[{x, y}];
  return x + y;
}
int NodeSlow(int x) {
  dray::SleepFor(std::chrono::seconds(2));
  return x * 10;
}
int g_long_done = 0;
int NodeLong(int x) {
  dray::SleepFor(std::chrono::seconds(30));
  ++g_long_done;
  return x + 1;
}
DRAY_REMOTE(NodeAdd, NodeSlow, NodeLong);

struct Sim {
  explicit Sim(const std::string& spec) {
    g_add_done.clear();
    dray::Init(dray::Config{.sim = spec});
  }
  ~Sim() {
    if (dray::IsInitialized()) dray::Shutdown();
  }
};

void Let(int ms) { dray::SleepFor(std::chrono::milliseconds(ms)); }

// Seed 000's tree aggregation of 8 values. The head node runs no tasks and
// every return goes to a store (inline_kb=0), so the four first-level sums
// live only on node 1. Node 1 crashes once they are done (the second level
// is running there); a new node joins. The answer is still 36, and exactly
// the four first-level tasks ran again (rebuilt from lineage for the
// second-level retries), each once more.
TEST(NodeCrash, TreeAggregationSurvivesLosingTheFirstLevel) {
  Sim sim("seed=1,nodes=2,cpus=4,head_cpus=0,inline_kb=0");
  auto t1 = dray::Task(NodeAdd).Remote(1, 2);
  auto t2 = dray::Task(NodeAdd).Remote(3, 4);
  auto t3 = dray::Task(NodeAdd).Remote(5, 6);
  auto t4 = dray::Task(NodeAdd).Remote(7, 8);
  auto t5 = dray::Task(NodeAdd).Remote(t1, t2);
  auto t6 = dray::Task(NodeAdd).Remote(t3, t4);
  auto t7 = dray::Task(NodeAdd).Remote(t5, t6);
  Let(1500);  // the first level is done, the second is running
  ASSERT_EQ(g_add_done.size(), 4u);
  dray::sim::CrashNode(1);
  uint32_t fresh = dray::sim::AddNode();
  EXPECT_EQ(fresh, 2u);
  EXPECT_EQ(*dray::Get(t7), 36);
  for (auto [x, y] : std::vector<std::pair<int, int>>{{1, 2}, {3, 4}, {5, 6}, {7, 8}})
    EXPECT_EQ((g_add_done[{x, y}]), 2) << x << "+" << y << " should have run once more";
  EXPECT_EQ((g_add_done[{3, 7}]), 1);
  EXPECT_EQ((g_add_done[{11, 15}]), 1);
  EXPECT_EQ((g_add_done[{10, 26}]), 1);
  // Detection takes five missed 3 s health checks.
  EXPECT_GT(dray::Now(), std::chrono::seconds(15));
}

// A task running on a node that dies is retried on another node (here a new
// one: both worker nodes die); a task pinned to a dead node's `node:N`
// resource can run nowhere any more and waits as infeasible, as in Ray.
TEST(NodeCrash, TasksOnDeadNodesAreRetriedOnANewNode) {
  Sim sim("seed=2,nodes=3,cpus=1,head_cpus=0");
  auto r = dray::Task(NodeSlow).SetResource("node:1", 0.001).Remote(4);  // pinned to node 1
  auto free = dray::Task(NodeSlow).Remote(5);
  Let(500);
  dray::sim::CrashNode(1);
  dray::sim::CrashNode(2);
  dray::sim::AddNode();
  EXPECT_EQ(*dray::Get(free), 50);
  EXPECT_THROW(dray::Get(r, std::chrono::seconds(30)), dray::GetTimeoutError);
}

// Scenario (4) of issue 3: a node cut off by a partition is declared dead
// and its task retried on a new node; healed, it learns it was declared dead
// and fences itself (stops its workers), and the owner takes one result.
TEST(NodeCrash, APartitionedNodeIsDeclaredDeadThenFencedWhenHealed) {
  Sim sim("seed=6,nodes=2,cpus=1,head_cpus=0");
  g_long_done = 0;
  uint64_t fenced_before = dray::ProbeCounter("node.fenced_itself");
  auto r = dray::Task(NodeLong).Remote(41);  // runs on node 1, the only one with a CPU
  Let(1000);
  dray::sim::Partition(1);
  dray::sim::AddNode();  // where the retry will run
  Let(19000);            // node 1 is declared dead after five missed checks
  dray::sim::Heal(1);
  EXPECT_EQ(*dray::Get(r), 42);
  // The retry finished (about 30 s after the ~17 s detection); node 1's
  // worker was stopped when it fenced itself (about 9 s after the heal, by
  // its watchdog), before its own 30 s were over: one completion only.
  EXPECT_EQ(g_long_done, 1);
  EXPECT_EQ(dray::ProbeCounter("node.fenced_itself"), fenced_before + 1);
  EXPECT_GT(dray::sim::CurrentStats().held, 0u);
  r = dray::ObjectRef<int>();
  dray::sim::ClusterState st = dray::sim::RunUntilQuiet();
  EXPECT_TRUE(st.Clean()) << st.Str();
}

TEST(NodeCrash, BadNodesAreRejected) {
  Sim sim("seed=3,nodes=2,cpus=1");
  EXPECT_THROW(dray::sim::CrashNode(0), dray::Error);
  EXPECT_THROW(dray::sim::CrashNode(7), dray::Error);
  EXPECT_THROW(dray::sim::Partition(0), dray::Error);
}

// Same seed, same crash, same trace hash.
TEST(NodeCrash, SameSeedSameHash) {
  uint64_t hashes[2];
  for (int run = 0; run < 2; ++run) {
    {
      Sim sim("seed=4,nodes=3,cpus=2,head_cpus=0,inline_kb=0");
      std::vector<dray::ObjectRef<int>> refs;
      for (int i = 0; i < 6; ++i) refs.push_back(dray::Task(NodeAdd).Remote(i, i));
      Let(1200);
      dray::sim::CrashNode(1);
      dray::sim::AddNode();
      for (int i = 0; i < 6; ++i) ASSERT_EQ(*dray::Get(refs[i]), 2 * i);
    }
    hashes[run] = dray::sim::LastStats().trace_hash;
  }
  EXPECT_EQ(hashes[0], hashes[1]);
}

}  // namespace
