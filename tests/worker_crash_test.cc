// Worker crashes in the simulator (issue 3, first part): a worker killed in
// the middle of a task is retried up to max_retries, out of retries gives
// WorkerCrashedError naming the task, and random crashes (faults=workers)
// never change a result when retries are unlimited.
#include <dray/dray.h>
#include <dray/sim.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace {

int CrashSlowSquare(int x) {
  dray::SleepFor(std::chrono::seconds(1));
  return x * x;
}
int CrashAddOne(int x) {
  dray::SleepFor(std::chrono::milliseconds(5));
  return x + 1;
}
std::vector<double> CrashBig(int n) { return std::vector<double>(static_cast<size_t>(n), 0.25); }
double CrashSum(std::vector<double> v) {
  double s = 0;
  for (double d : v) s += d;
  return s;
}
// Puts a large value and returns the ref: this worker owns the object.
dray::ObjectRef<std::vector<double>> CrashPutOwner(int n) {
  return dray::Put(std::vector<double>(static_cast<size_t>(n), 0.25));
}
// The ref travels nested (a top-level ref argument would be resolved first).
double CrashSumOfRef(std::vector<dray::ObjectRef<std::vector<double>>> r) { return CrashSum(*dray::Get(r.at(0))); }
DRAY_REMOTE(CrashSlowSquare, CrashAddOne, CrashBig, CrashSum, CrashPutOwner, CrashSumOfRef);

struct Sim {
  explicit Sim(const std::string& spec) { dray::Init(dray::Config{.sim = spec}); }
  ~Sim() {
    if (dray::IsInitialized()) dray::Shutdown();
  }
};

// Lets the cluster run for `ms` of virtual time (the driver sleeps).
void Let(int ms) { dray::SleepFor(std::chrono::milliseconds(ms)); }

TEST(WorkerCrash, KilledMidTaskIsRetriedAndCorrect) {
  Sim sim("seed=5,nodes=2,cpus=2");
  auto r = dray::Task(CrashSlowSquare).Remote(7);
  Let(500);  // the task is half way through its one-second sleep
  ASSERT_TRUE(dray::sim::CrashWorkerRunning("CrashSlowSquare"));
  auto t0 = dray::Now();
  EXPECT_EQ(*dray::Get(r), 49);
  // The retry starts over: a full second after the crash, not the half left.
  EXPECT_GE(dray::Now() - t0, std::chrono::seconds(1));
  EXPECT_EQ(dray::sim::CurrentStats().crashes, 1u);
  r = dray::ObjectRef<int>();
  dray::sim::ClusterState s = dray::sim::RunUntilQuiet();
  EXPECT_TRUE(s.Clean()) << s.Str();
}

TEST(WorkerCrash, OutOfRetriesGivesWorkerCrashedError) {
  Sim sim("seed=6,nodes=1,cpus=2");
  auto r = dray::Task(CrashSlowSquare).SetMaxRetries(1).Remote(3);
  auto dependent = dray::Task(CrashAddOne).Remote(r);
  for (int crash = 0; crash < 2; ++crash) {
    Let(300);
    ASSERT_TRUE(dray::sim::CrashWorkerRunning("CrashSlowSquare")) << "crash " << crash;
  }
  try {
    dray::Get(r);
    FAIL() << "expected WorkerCrashedError";
  } catch (const dray::WorkerCrashedError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("CrashSlowSquare"), std::string::npos) << what;
    EXPECT_NE(what.find("attempt 2"), std::string::npos) << what;
    EXPECT_NE(what.find("no retries left"), std::string::npos) << what;
  }
  // A task that depends on it fails with the same error instead of waiting.
  EXPECT_THROW(dray::Get(dependent), dray::WorkerCrashedError);
  r = dray::ObjectRef<int>();
  dependent = dray::ObjectRef<int>();
  dray::sim::ClusterState s = dray::sim::RunUntilQuiet();
  EXPECT_TRUE(s.Clean()) << s.Str();
}

TEST(WorkerCrash, ZeroRetriesFailsAtOnce) {
  Sim sim("seed=7,nodes=1,cpus=1");
  auto r = dray::Task(CrashSlowSquare).SetMaxRetries(0).Remote(2);
  Let(100);
  ASSERT_TRUE(dray::sim::CrashWorkerRunning("CrashSlowSquare"));
  EXPECT_THROW(dray::Get(r), dray::WorkerCrashedError);
}

// The worker that owns an object dies: a borrower's Get fails with
// OwnerDiedError naming the owner instead of waiting forever, and so does a
// task that takes the ref as an argument.
TEST(WorkerCrash, BorrowersOfADeadOwnerGetOwnerDiedError) {
  Sim sim("seed=9,nodes=2,cpus=2");
  std::shared_ptr<dray::ObjectRef<std::vector<double>>> inner = dray::Get(dray::Task(CrashPutOwner).Remote(20000));
  ASSERT_TRUE(dray::sim::CrashWorkerRunning("CrashPutOwner"));
  Let(50);
  try {
    dray::Get(*inner);
    FAIL() << "expected OwnerDiedError";
  } catch (const dray::OwnerDiedError& e) {
    EXPECT_NE(std::string(e.what()).find("died"), std::string::npos) << e.what();
  }
  std::vector<dray::ObjectRef<std::vector<double>>> nested{*inner};
  // Inside the task the Get throws OwnerDiedError; the task fails with it
  // (a TaskError naming it, as Ray's RayTaskError wraps its cause).
  try {
    dray::Get(dray::Task(CrashSumOfRef).Remote(nested));
    FAIL() << "expected the task to fail";
  } catch (const dray::TaskError& e) {
    EXPECT_EQ(e.exception_type(), "dray::OwnerDiedError") << e.what();
  }
  nested.clear();
  inner.reset();
  dray::sim::ClusterState s = dray::sim::RunUntilQuiet();
  EXPECT_TRUE(s.Clean()) << s.Str();
}

TEST(WorkerCrash, NoSuchTaskIsReported) {
  Sim sim("seed=8,nodes=1,cpus=1");
  EXPECT_FALSE(dray::sim::CrashWorkerRunning("NotRunning"));
}

// Random worker crashes while 200 tasks (some with large values) run: with
// unlimited retries every result is right, for every seed tried.
class RandomCrashes : public ::testing::TestWithParam<int> {};
TEST_P(RandomCrashes, UnlimitedRetriesGiveTheRightResults) {
  std::string spec = "seed=" + std::to_string(GetParam()) +
                     ",nodes=3,cpus=2,faults=workers,fault_every_us=20000,faults_until_ms=400";
  Sim sim(spec);
  std::vector<dray::ObjectRef<int>> small;
  std::vector<dray::ObjectRef<double>> sums;
  for (int i = 0; i < 150; ++i) small.push_back(dray::Task(CrashAddOne).SetMaxRetries(-1).Remote(i));
  for (int i = 0; i < 50; ++i) {
    auto big = dray::Task(CrashBig).SetMaxRetries(-1).Remote(20000 + i);
    sums.push_back(dray::Task(CrashSum).SetMaxRetries(-1).Remote(big));
  }
  for (int i = 0; i < 150; ++i) EXPECT_EQ(*dray::Get(small[i]), i + 1) << spec;
  for (int i = 0; i < 50; ++i) EXPECT_DOUBLE_EQ(*dray::Get(sums[i]), 0.25 * (20000 + i)) << spec;
  EXPECT_GT(dray::sim::CurrentStats().crashes, 0u) << spec;
  small.clear();
  sums.clear();
  dray::sim::ClusterState s = dray::sim::RunUntilQuiet();
  EXPECT_TRUE(s.Clean()) << spec << ": " << s.Str();
}
INSTANTIATE_TEST_SUITE_P(Seeds, RandomCrashes, ::testing::Range(1, 21));

// Same seed, same faults, same trace hash.
TEST(RandomCrashesDeterminism, SameSeedSameHash) {
  uint64_t hashes[2];
  for (int run = 0; run < 2; ++run) {
    {
      Sim sim("seed=11,nodes=3,cpus=2,faults=workers,fault_every_us=20000,faults_until_ms=300");
      std::vector<dray::ObjectRef<int>> refs;
      for (int i = 0; i < 100; ++i) refs.push_back(dray::Task(CrashAddOne).SetMaxRetries(-1).Remote(i));
      for (int i = 0; i < 100; ++i) ASSERT_EQ(*dray::Get(refs[i]), i + 1);
    }
    hashes[run] = dray::sim::LastStats().trace_hash;
    EXPECT_GT(dray::sim::LastStats().crashes, 0u);
  }
  EXPECT_EQ(hashes[0], hashes[1]);
}

}  // namespace
