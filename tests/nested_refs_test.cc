// Refs nested inside values, end to end in the simulator: returned from
// tasks, owned by workers, borrowed by the driver, put by the driver, passed
// through several hops. Every scenario must give the right values and leave
// nothing behind once the driver lets go (DESIGN §4 invariants).
#include <dray/dray.h>
#include <dray/sim.h>
#include <gtest/gtest.h>

#include <cctype>
#include <numeric>
#include <string>
#include <vector>

namespace {

using IntRefs = std::vector<dray::ObjectRef<int>>;

int NrSquare(int x) { return x * x; }
// Submits n children and returns their refs: the worker owns those objects.
IntRefs NrSpawn(int n) {
  IntRefs out;
  for (int i = 0; i < n; ++i) out.push_back(dray::Task(NrSquare).Remote(i));
  return out;
}
// Hands back the refs it was given (it borrows them, then returns them).
IntRefs NrPassThrough(IntRefs refs) { return refs; }
int NrSum(IntRefs refs) {
  int s = 0;
  for (const auto& v : dray::Get(refs)) s += *v;
  return s;
}
// A large value (about 160 KiB) owned by the worker that made it.
std::vector<double> NrBig(int n) { return std::vector<double>(static_cast<size_t>(n), 0.5); }
std::vector<dray::ObjectRef<std::vector<double>>> NrSpawnBig(int k) {
  std::vector<dray::ObjectRef<std::vector<double>>> out;
  for (int i = 0; i < k; ++i) out.push_back(dray::Task(NrBig).Remote(20000 + i));
  return out;
}
double NrSumBig(std::vector<dray::ObjectRef<std::vector<double>>> refs) {
  double s = 0;
  for (const auto& v : dray::Get(refs)) s += std::accumulate(v->begin(), v->end(), 0.0);
  return s;
}
// Two levels: returns a ref to a worker-owned value that itself holds refs.
dray::ObjectRef<IntRefs> NrSpawnNested(int n) { return dray::Task(NrSpawn).Remote(n); }
// Each level Gets the level below (blocking, so its CPU goes back and another
// worker starts) and returns the refs it got: every worker of the chain holds
// refs when its task finishes.
IntRefs NrSpawnDeep(int depth) {
  if (depth == 0) return NrSpawn(3);
  return *dray::Get(dray::Task(NrSpawnDeep).Remote(depth - 1));
}
// The same chain, but returning a plain value: no worker holds refs at the end.
int NrChain(int depth) { return depth == 0 ? 0 : 1 + *dray::Get(dray::Task(NrChain).Remote(depth - 1)); }
DRAY_REMOTE(NrSquare, NrSpawn, NrPassThrough, NrSum, NrBig, NrSpawnBig, NrSumBig, NrSpawnNested, NrSpawnDeep,
            NrChain);

constexpr int kSumSquares10 = 285;  // 0^2 + ... + 9^2

class NestedRefs : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { dray::Init(dray::Config{.sim = GetParam()}); }
  void TearDown() override {
    if (dray::IsInitialized()) dray::Shutdown();
  }
  // Once the driver dropped every ref, nothing may be left anywhere.
  void ExpectClean() {
    dray::sim::ClusterState s = dray::sim::RunUntilQuiet();
    EXPECT_TRUE(s.Clean()) << GetParam() << ": " << s.Str();
  }
};

TEST_P(NestedRefs, WorkerOwnedRefsReturnedToTheDriver) {
  {
    auto spawned = dray::Task(NrSpawn).Remote(10);
    IntRefs refs = *dray::Get(spawned);
    ASSERT_EQ(refs.size(), 10u);
    int s = 0;
    for (const auto& v : dray::Get(refs)) s += *v;
    EXPECT_EQ(s, kSumSquares10);
  }
  ExpectClean();
}

TEST_P(NestedRefs, WorkerOwnedRefsPassedOnWithoutTheDriverLooking) {
  {
    auto spawned = dray::Task(NrSpawn).Remote(10);
    // The driver passes the ref to the list; NrSum gets the list's value resolved.
    auto sum = dray::Task(NrSum).Remote(spawned);
    EXPECT_EQ(*dray::Get(sum), kSumSquares10);
  }
  ExpectClean();
}

TEST_P(NestedRefs, DriverOwnedRefsMakeARoundTrip) {
  {
    IntRefs mine;
    for (int i = 0; i < 10; ++i) mine.push_back(dray::Task(NrSquare).Remote(i));
    auto back = dray::Task(NrPassThrough).Remote(mine);
    IntRefs got = *dray::Get(back);
    ASSERT_EQ(got.size(), 10u);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], mine[i]) << i;
    mine.clear();  // only the returned copies keep them alive now
    EXPECT_EQ(*dray::Get(dray::Task(NrSum).Remote(got)), kSumSquares10);
  }
  ExpectClean();
}

TEST_P(NestedRefs, DroppedBeforeTheResultArrives) {
  {
    // Nobody ever reads these: the refs go while the tasks may still run.
    for (int i = 0; i < 5; ++i) {
      auto r = dray::Task(NrSpawn).Remote(4);
      auto b = dray::Task(NrSpawnBig).Remote(2);
    }
  }
  ExpectClean();
}

TEST_P(NestedRefs, LargeWorkerOwnedValuesTravelAcrossNodes) {
  {
    auto spawned = dray::Task(NrSpawnBig).Remote(3);
    auto sum = dray::Task(NrSumBig).Remote(spawned);
    double expect = 0.5 * (20000 + 20001 + 20002);
    EXPECT_DOUBLE_EQ(*dray::Get(sum), expect);
    auto refs = *dray::Get(spawned);
    ASSERT_EQ(refs.size(), 3u);
    EXPECT_EQ(dray::Get(refs[2])->size(), 20002u);
  }
  ExpectClean();
}

TEST_P(NestedRefs, PutValuesHoldingRefs) {
  {
    IntRefs mine;
    for (int i = 0; i < 10; ++i) mine.push_back(dray::Task(NrSquare).Remote(i));
    auto put = dray::Put(mine);
    mine.clear();  // the put object keeps them alive
    auto sum = dray::Task(NrSum).Remote(put);
    EXPECT_EQ(*dray::Get(sum), kSumSquares10);
    auto big = dray::Put(std::vector<double>(20000, 2.5));  // not integral: stays above the inline limit
    std::vector<dray::ObjectRef<std::vector<double>>> bigs{big, big};
    EXPECT_DOUBLE_EQ(*dray::Get(dray::Task(NrSumBig).Remote(bigs)), 100000.0);
  }
  ExpectClean();
}

TEST_P(NestedRefs, TwoLevelsOfWorkerOwnership) {
  {
    auto outer = dray::Task(NrSpawnNested).Remote(10);
    dray::ObjectRef<IntRefs> inner = *dray::Get(outer);
    IntRefs refs = *dray::Get(inner);
    int s = 0;
    for (const auto& v : dray::Get(refs)) s += *v;
    EXPECT_EQ(s, kSumSquares10);
  }
  ExpectClean();
}

TEST(NestedRefsSizes, BigValuesAreAboveTheInlineLimit) {
  for (const auto& v : {NrBig(20000), std::vector<double>(20000, 2.5)}) {
    msgpack::sbuffer sb;
    msgpack::pack(sb, v);
    EXPECT_GT(sb.size(), 100u * 1024);
  }
}

TEST(NestedRefsPool, IdleWorkersBeyondTheCpuCountAreRetired) {
  dray::Init(dray::Config{.sim = "seed=1,nodes=1,cpus=1"});
  EXPECT_EQ(*dray::Get(dray::Task(NrChain).Remote(4)), 4);
  dray::sim::ClusterState st = dray::sim::RunUntilQuiet(std::chrono::seconds(60));
  dray::Shutdown();
  EXPECT_TRUE(st.Clean()) << st.Str();
  EXPECT_LE(st.workers, 1u) << st.Str();
}

// The pool keeps as many idle workers as CPUs and retires the rest (issue 2:
// "start, reuse, retire idle workers"). A worker that owned objects when its
// task finished must become retirable once those objects are gone.
TEST(NestedRefsPool, WorkersThatOwnedObjectsAreRetiredOnceTheyOwnNothing) {
  dray::Init(dray::Config{.sim = "seed=1,nodes=1,cpus=1"});
  {
    IntRefs refs = *dray::Get(dray::Task(NrSpawnDeep).Remote(4));
    int s = 0;
    for (const auto& v : dray::Get(refs)) s += *v;
    EXPECT_EQ(s, 0 + 1 + 4);
  }
  dray::sim::ClusterState st = dray::sim::RunUntilQuiet(std::chrono::seconds(60));
  dray::Shutdown();
  EXPECT_TRUE(st.Clean()) << st.Str();
  EXPECT_LE(st.workers, 1u) << "idle workers beyond the node's 1 CPU were never retired: " << st.Str();
}

INSTANTIATE_TEST_SUITE_P(Shapes, NestedRefs,
                         ::testing::Values("seed=1,nodes=1,cpus=4", "seed=2,nodes=3,cpus=2",
                                           "seed=3,nodes=1,cpus=1", "seed=4,nodes=5,cpus=1"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                           std::string s = i.param;
                           std::string out;
                           for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return out;
                         });

}  // namespace
