// DESIGN §3: the same seed gives the same run (trace hash); another seed
// gives another run, because the network's latency jitter is drawn from it.
#include <dray/dray.h>
#include <dray/sim.h>
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

namespace {

int DetSquare(int x) { return x * x; }
// Refs nested in a value are passed as refs; the task Gets them itself.
int DetSumNested(std::vector<dray::ObjectRef<int>> refs) {
  int sum = 0;
  for (const auto& v : dray::Get(refs)) sum += *v;
  return sum;
}
// 20000 doubles: about 160 KiB, above the 100 KiB inline limit.
std::vector<double> DetBig(int n, double fill) { return std::vector<double>(static_cast<size_t>(n), fill); }
double DetSumBig(std::vector<double> v) { return std::accumulate(v.begin(), v.end(), 0.0); }
DRAY_REMOTE(DetSquare, DetSumNested, DetBig, DetSumBig);

struct Outcome {
  int nested_sum = 0;
  double big_sum = 0;
  size_t big_size = 0;
  dray::sim::ClusterState after;
  dray::sim::RunStats stats;
};

Outcome RunProgram(const std::string& spec) {
  Outcome out;
  dray::Init(dray::Config{.sim = spec});
  {
    std::vector<dray::ObjectRef<int>> squares;
    for (int i = 0; i < 10; ++i) squares.push_back(dray::Task(DetSquare).Remote(i));
    auto nested = dray::Task(DetSumNested).Remote(squares);
    auto big = dray::Task(DetBig).Remote(20000, 1.5);
    auto big_sum = dray::Task(DetSumBig).Remote(big);
    out.nested_sum = *dray::Get(nested);
    out.big_sum = *dray::Get(big_sum);
    out.big_size = dray::Get(big)->size();
  }
  out.after = dray::sim::RunUntilQuiet();
  dray::Shutdown();
  out.stats = dray::sim::LastStats();
  return out;
}

TEST(SimDeterminism, BigValueIsAboveTheInlineLimit) {
  msgpack::sbuffer sb;
  msgpack::pack(sb, DetBig(20000, 1.5));  // 1.5 is not integral: 9 bytes per element
  EXPECT_GT(sb.size(), 100u * 1024);
}

TEST(SimDeterminism, ProgramComputesTheRightValues) {
  Outcome o = RunProgram("seed=5,nodes=3,cpus=2");
  EXPECT_EQ(o.nested_sum, 285);
  EXPECT_DOUBLE_EQ(o.big_sum, 30000.0);
  EXPECT_EQ(o.big_size, 20000u);
  EXPECT_TRUE(o.after.Clean()) << o.after.Str();
  EXPECT_GT(o.stats.steps, 0u);
  EXPECT_GT(o.stats.messages, 0u);
  EXPECT_GT(o.stats.virtual_ns, 0);
}

TEST(SimDeterminism, SameSeedSameTraceHash) {
  Outcome a = RunProgram("seed=5,nodes=3,cpus=2");
  Outcome b = RunProgram("seed=5,nodes=3,cpus=2");
  EXPECT_NE(a.stats.trace_hash, 0u);
  EXPECT_EQ(a.stats.trace_hash, b.stats.trace_hash);
  EXPECT_EQ(a.stats.steps, b.stats.steps);
  EXPECT_EQ(a.stats.messages, b.stats.messages);
  EXPECT_EQ(a.stats.virtual_ns, b.stats.virtual_ns);
}

TEST(SimDeterminism, AnotherSeedGivesAnotherRun) {
  Outcome a = RunProgram("seed=5,nodes=3,cpus=2");
  Outcome c = RunProgram("seed=6,nodes=3,cpus=2");
  EXPECT_NE(a.stats.trace_hash, c.stats.trace_hash);
  // Same program, same answers.
  EXPECT_EQ(a.nested_sum, c.nested_sum);
  EXPECT_DOUBLE_EQ(a.big_sum, c.big_sum);
}

}  // namespace
