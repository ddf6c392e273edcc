// Network and node faults in the simulator (issue 3): one-way partitions and
// what failure detection and fencing make of them, clogging, latency spikes,
// slow nodes, and frame loss, duplication and reordering under the
// sequencing layer that gives components reliable FIFO connections. Each is
// scripted here; the swarm draws them (tests/examples_tests.cmake).
#include <dray/dray.h>
#include <dray/sim.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/common/probe.h"
#include "sim/spec.h"

namespace {

int g_net_long_done = 0;
int NetLong(int x) {
  dray::SleepFor(std::chrono::seconds(30));
  ++g_net_long_done;
  return x + 1;
}
int NetSecond(int x) {
  dray::SleepFor(std::chrono::seconds(1));
  return 2 * x;
}
int NetQuick(int x, int y) { return x * 31 + y; }
DRAY_REMOTE(NetLong, NetSecond, NetQuick);

struct Sim {
  explicit Sim(const std::string& spec) { dray::Init(dray::Config{.sim = spec}); }
  ~Sim() {
    if (dray::IsInitialized()) dray::Shutdown();
  }
};

void Let(int ms) { dray::SleepFor(std::chrono::milliseconds(ms)); }

// Scenario (4) with a one-way cut. kOutgoing: node 1 hears the control
// service's pings but its acks wait at the cut, so it misses five rounds and
// is declared dead; its task is retried on a new node. kIncoming: the pings
// wait, so node 1 never answers one; what it says unasked (its watchdog's
// "I am alive", seq 0) does not count, so it is declared dead as well.
// Healed, node 1 learns it was declared dead and fences itself before its own
// 30 s attempt ends: one completion, the right answer, nothing left behind.
void OneWayScenario(dray::sim::Cut cut) {
  Sim sim("seed=6,nodes=2,cpus=1,head_cpus=0");
  g_net_long_done = 0;
  uint64_t dead_before = dray::ProbeCounter("gcs.node_declared_dead");
  uint64_t fenced_before = dray::ProbeCounter("node.fenced_itself");
  auto r = dray::Task(NetLong).Remote(41);  // node 1 has the only CPU
  Let(1000);
  dray::sim::Partition(1, cut);
  dray::sim::AddNode();  // where the retry runs
  Let(19000);            // five missed 3 s rounds
  EXPECT_EQ(dray::ProbeCounter("gcs.node_declared_dead"), dead_before + 1);
  dray::sim::Heal(1);
  EXPECT_EQ(*dray::Get(r), 42);
  EXPECT_EQ(g_net_long_done, 1);
  EXPECT_EQ(dray::ProbeCounter("node.fenced_itself"), fenced_before + 1);
  EXPECT_GT(dray::sim::CurrentStats().held, 0u);
  r = dray::ObjectRef<int>();
  dray::sim::ClusterState st = dray::sim::RunUntilQuiet();
  EXPECT_TRUE(st.Clean()) << st.Str();
}

TEST(NetFault, ANodeThatCannotSendIsDeclaredDeadThenFenced) { OneWayScenario(dray::sim::Cut::kOutgoing); }
TEST(NetFault, ANodeThatCannotReceiveIsDeclaredDeadThenFenced) { OneWayScenario(dray::sim::Cut::kIncoming); }

// A one-way cut shorter than failure detection only delays: the node stays a
// member and its task's result arrives when the cut heals.
TEST(NetFault, AShortOneWayCutOnlyDelays) {
  Sim sim("seed=7,nodes=2,cpus=1,head_cpus=0");
  uint64_t dead_before = dray::ProbeCounter("gcs.node_declared_dead");
  auto r = dray::Task(NetSecond).Remote(21);
  Let(100);
  dray::sim::Partition(1, dray::sim::Cut::kOutgoing);
  Let(3000);  // the task finished at 1 s; its result waits at the cut
  dray::sim::Heal(1);
  EXPECT_EQ(*dray::Get(r), 42);
  EXPECT_GE(dray::Now(), std::chrono::milliseconds(3100));
  EXPECT_EQ(dray::ProbeCounter("gcs.node_declared_dead"), dead_before);
}

// A clogged node's links hold every message, in order, until unclogged.
TEST(NetFault, ACloggedNodeDeliversInOrderWhenUnclogged) {
  Sim sim("seed=8,nodes=2,cpus=2,head_cpus=0");
  std::vector<dray::ObjectRef<int>> refs;
  for (int i = 0; i < 8; ++i) refs.push_back(dray::Task(NetQuick).Remote(i, i + 1));
  dray::sim::Clog(1);
  Let(2000);
  dray::sim::Unclog(1);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(*dray::Get(refs[i]), i * 31 + i + 1);
  EXPECT_GE(dray::Now(), std::chrono::milliseconds(2000));
  EXPECT_GT(dray::sim::CurrentStats().held, 0u);
  EXPECT_THROW(dray::sim::Clog(0), dray::Error);
  EXPECT_THROW(dray::sim::Partition(0, dray::sim::Cut::kIncoming), dray::Error);
  EXPECT_THROW(dray::sim::Partition(9, dray::sim::Cut::kOutgoing), dray::Error);
}

// A latency spike slows every message to and from a node by the extra.
TEST(NetFault, ALatencySpikeDelaysEveryMessage) {
  auto run = [](int64_t extra_ms) {
    Sim sim("seed=9,nodes=2,cpus=1,head_cpus=0");
    if (extra_ms) dray::sim::SlowLinks(1, std::chrono::milliseconds(extra_ms));
    auto start = dray::Now();
    EXPECT_EQ(*dray::Get(dray::Task(NetSecond).Remote(5)), 10);
    return dray::Now() - start;
  };
  auto fast = run(0), slow = run(50);
  // At least the task's submission and its result cross the slow link.
  EXPECT_GE(slow - fast, std::chrono::milliseconds(100)) << (slow - fast).count();
}

// A slow node: each step of its processes takes virtual time, inputs wait in
// order while one runs; the run is slower, its results the same.
TEST(NetFault, ASlowNodeIsSlowerButRight) {
  auto run = [](int64_t step_us, dray::sim::RunStats* st) {
    Sim sim("seed=10,nodes=2,cpus=2,head_cpus=0");
    if (step_us) dray::sim::SlowNode(1, std::chrono::microseconds(step_us));
    std::vector<dray::ObjectRef<int>> refs;
    for (int i = 0; i < 20; ++i) refs.push_back(dray::Task(NetQuick).Remote(i, 1));
    for (int i = 0; i < 20; ++i) EXPECT_EQ(*dray::Get(refs[i]), i * 31 + 1);
    auto t = dray::Now();
    *st = dray::sim::CurrentStats();
    return t;
  };
  dray::sim::RunStats fast_st, slow_st;
  auto fast = run(0, &fast_st), slow = run(2000, &slow_st);
  EXPECT_EQ(fast_st.deferred, 0u);
  EXPECT_GT(slow_st.deferred, 0u);
  EXPECT_GT(slow - fast, std::chrono::milliseconds(20));
}

// Frame loss, duplication and reordering at high rates: the sequencing layer
// retransmits, deduplicates and reorders, so every result is right; the same
// seed gives the same trace hash.
TEST(NetFault, LossyNetworkStillGivesReliableFifoConnections) {
  uint64_t hashes[2];
  for (int run = 0; run < 2; ++run) {
    {
      Sim sim("seed=11,nodes=3,cpus=2,faults=loss+duplicate+reorder,loss_permille=100,dup_permille=100,"
              "reorder_permille=200,rto_us=5000,faults_until_ms=100000");
      std::vector<dray::ObjectRef<int>> refs;
      for (int i = 0; i < 100; ++i) refs.push_back(dray::Task(NetQuick).Remote(i, 7));
      // A chain: each result feeds the next task, so order and every message count.
      dray::ObjectRef<int> chain = dray::Task(NetQuick).Remote(0, 0);
      for (int i = 1; i <= 20; ++i) chain = dray::Task(NetQuick).Remote(chain, i);
      int expect = 0;
      for (int i = 1; i <= 20; ++i) expect = expect * 31 + i;
      for (int i = 0; i < 100; ++i) ASSERT_EQ(*dray::Get(refs[i]), i * 31 + 7);
      EXPECT_EQ(*dray::Get(chain), expect);
      dray::sim::RunStats st = dray::sim::CurrentStats();
      EXPECT_GT(st.frames_lost, 0u);
      EXPECT_GT(st.frames_duplicated, 0u);
      EXPECT_GT(st.frames_reordered, 0u);
    }
    hashes[run] = dray::sim::LastStats().trace_hash;
  }
  EXPECT_EQ(hashes[0], hashes[1]);
}

// Every fault kind at once, drawn from the seed: same seed, same hash; and
// each kind actually happened.
TEST(NetFault, EveryKindAtOnceIsDeterministic) {
  const std::string spec =
      "seed=12,nodes=4,cpus=2,head_cpus=0,inline_kb=0,task_retries=-1,faults_until_ms=300,fault_every_us=5000,"
      "net_fault_every_us=3000,faults=worker_crash+node_crash+partition+one_way_partition+latency_spike+"
      "slow_node+clog+loss+duplicate+reorder+gcs_restart+small_store+disk_error";
  uint64_t hashes[2];
  for (int run = 0; run < 2; ++run) {
    {
      Sim sim(spec);
      std::vector<dray::ObjectRef<int>> refs;
      for (int i = 0; i < 40; ++i) refs.push_back(dray::Task(NetSecond).Remote(i));
      for (int i = 0; i < 40; ++i) ASSERT_EQ(*dray::Get(refs[i]), 2 * i);
      dray::sim::RunStats st = dray::sim::CurrentStats();
      EXPECT_GT(st.net_faults, 0u);
      EXPECT_GT(st.frames_lost, 0u);
      EXPECT_GT(st.crashes, 0u);
      EXPECT_EQ(st.fault_kinds, (1u << dray::sim::kNumFaultKinds) - 1 - dray::sim::kFaultBuggify);
    }
    hashes[run] = dray::sim::LastStats().trace_hash;
  }
  EXPECT_EQ(hashes[0], hashes[1]);
}

}  // namespace
