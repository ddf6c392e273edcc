// Every seed example runs in the simulator on 1 node x 4 CPUs and on 3 nodes x
// 2 CPUs (two seeds each): its answers are right, its virtual timings are the
// ones the seeds promise, and the cluster is empty once it let go of its refs.
// The same seed gives the same trace hash.
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include <dray/dray.h>
#include <dray/sim.h>

#include "examples.h"

namespace {

using dray::examples::ExampleResult;

// The test runs 10000 tiny tasks (the program runs the seed's 100000).
constexpr int kTinyTasks = 10000;
// Scheduling overhead allowed on top of a seed's timing (virtual seconds).
constexpr double kSlack = 0.05;

struct Shape {
  const char* spec;  // without the seed
  int nodes;
  int cpus_per_node;
  int total_cpus() const { return nodes * cpus_per_node; }
};
const Shape kShapes[] = {{"nodes=1,cpus=4", 1, 4}, {"nodes=3,cpus=2", 3, 2}};

std::string SpecOf(const Shape& s, uint64_t seed) { return "seed=" + std::to_string(seed) + "," + s.spec; }

ExampleResult RunByName(const std::string& name) {
  if (name == "tiny_tasks") return dray::examples::RunTinyTasks(kTinyTasks);
  const dray::examples::ExampleInfo* ex = dray::examples::FindExample(name);
  if (!ex) {
    ExampleResult r;
    r.error = "no example named " + name;
    return r;
  }
  return ex->run();
}

struct ExampleRun {
  ExampleResult result;
  dray::sim::ClusterState after;  // once quiet, after the example let go of everything
  dray::sim::RunStats stats;
};

ExampleRun RunIn(const std::string& spec, const std::string& name) {
  ExampleRun run;
  dray::Init(dray::Config{.sim = spec});
  try {
    run.result = RunByName(name);
    run.after = dray::sim::RunUntilQuiet(std::chrono::seconds(60));
  } catch (...) {
    dray::Shutdown();
    throw;
  }
  dray::Shutdown();
  run.stats = dray::sim::LastStats();
  return run;
}

// lo <= timings[key] < hi.
void ExpectTiming(const ExampleResult& r, const std::string& key, double lo, double hi) {
  auto it = r.timings_s.find(key);
  ASSERT_NE(it, r.timings_s.end()) << "no timing '" << key << "'";
  EXPECT_GE(it->second, lo) << key;
  EXPECT_LT(it->second, hi) << key;
}
// About `expect` seconds: expect <= t < expect + kSlack.
void ExpectAbout(const ExampleResult& r, const std::string& key, double expect) {
  ExpectTiming(r, key, expect, expect + kSlack);
}
// No sleeps on the way: only scheduling and transfer time.
void ExpectQuick(const ExampleResult& r, const std::string& key) { ExpectTiming(r, key, 0.0, kSlack); }

void CheckTimings(const std::string& name, const Shape& shape, const ExampleResult& r) {
  const int cpus = shape.total_cpus();
  if (name == "four_tasks") {
    ExpectAbout(r, "duration", 1.0);
  } else if (name == "matrix_dag") {
    ExpectQuick(r, "random");
    ExpectQuick(r, "zeros");
  } else if (name == "aggregate_explicit" || name == "aggregate_loop") {
    ExpectAbout(r, "linear", 7.0);
    ExpectAbout(r, "tree", 3.0);  // 4 parallel adds fit on 4 and on 6 CPUs
  } else if (name == "wait_incremental") {
    ASSERT_TRUE(r.timings_s.count("expected_duration"));
    double expect = r.timings_s.at("expected_duration");
    EXPECT_GT(expect, 4.0);  // four one-second processing steps
    ExpectAbout(r, "duration", expect);
  } else if (name == "map_reduce") {
    ExpectQuick(r, "simple");
    ExpectQuick(r, "tree");
  } else if (name == "put_get" || name == "basic_add" || name == "task_error") {
    ExpectQuick(r, "duration");
  } else if (name == "tiny_tasks") {
    // Every CPU busy with 0.1 ms sleeps at best; scheduling costs some on top.
    double floor = kTinyTasks * 1e-4 / cpus;
    ExpectTiming(r, "duration", floor, 3 * floor + kSlack);
  } else if (name == "compute_square") {
    ExpectAbout(r, "duration", std::ceil(10.0 / cpus));  // 3 s on 4 CPUs, 2 s on 6
  } else if (name == "fibonacci") {
    ExpectTiming(r, "serial", 0.0, 1e-9);  // compute takes no virtual time
    ExpectQuick(r, "distributed");
  } else if (name == "monte_carlo_pi") {
    ExpectQuick(r, "duration");
  } else if (name == "wait_num_returns") {
    ExpectAbout(r, "wait_2", 1.0);    // slow_function(0) and (1)
    ExpectAbout(r, "wait_all", 3.0);  // slow_function(3)
  } else if (name == "actor_counter" || name == "four_counters" || name == "actor_basics" || name == "actor_kill" ||
             name == "actor_copies" || name == "actor_unserializable" || name == "actor_attributes") {
    ExpectQuick(r, "duration");
  } else if (name == "counter_timing") {
    ExpectAbout(r, "duration", 10.0);  // ten one-second calls, one at a time
  } else if (name == "message_actor") {
    ExpectAbout(r, "duration", 102.0);  // 100 + 2 polls a second apart
  } else if (name == "resources_options") {
    // Two-CPU tasks: 2 at a time on one 4-CPU node, 3 at a time on three
    // 2-CPU nodes; four of them take 2 s either way.
    int slots = shape.nodes * (shape.cpus_per_node / 2);
    ExpectAbout(r, "cpu2_tasks", std::ceil(4.0 / slots));
    ExpectAbout(r, "no_retry_exceptions", 1.0);  // one attempt
    ExpectAbout(r, "retry_exceptions", 3.0);     // 1 + 2 retries
    // No GPUs in these shapes: the GPU task waits out the 2 s timeout.
    EXPECT_TRUE(r.leaves_pending_task);
    ExpectAbout(r, "gpu_wait_timeout", 2.0);
  } else {
    ADD_FAILURE() << "no timing expectations for example '" << name << "'";
  }
}

std::vector<std::string> ExampleNames() {
  std::vector<std::string> names;
  for (const auto& e : dray::examples::AllExamples()) names.push_back(e.name);
  return names;
}

class ExamplesTest : public testing::TestWithParam<std::tuple<std::string, int, uint64_t>> {};

TEST_P(ExamplesTest, AnswersAndVirtualTimings) {
  const auto& [name, shape_index, seed] = GetParam();
  const Shape& shape = kShapes[shape_index];
  std::string spec = SpecOf(shape, seed);
  SCOPED_TRACE("DRAY_SIM=\"" + spec + "\" example " + name);
  ExampleRun run = RunIn(spec, name);
  const ExampleResult& r = run.result;
  for (const auto& line : r.output) std::printf("  | %s\n", line.c_str());
  for (const auto& [k, v] : r.timings_s) std::printf("  | timing %s = %.6f s\n", k.c_str(), v);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(r.order_error.empty()) << r.order_error;
  CheckTimings(name, shape, r);
  if (!r.leaves_pending_task) {
    EXPECT_TRUE(run.after.Clean()) << "left behind: " << run.after.Str();
  }
  EXPECT_GT(run.stats.steps, 0u);
}

std::string ParamName(const testing::TestParamInfo<ExamplesTest::ParamType>& info) {
  const auto& [name, shape_index, seed] = info.param;
  const Shape& s = kShapes[shape_index];
  return name + "_" + std::to_string(s.nodes) + "x" + std::to_string(s.cpus_per_node) + "_seed" +
         std::to_string(seed);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ExamplesTest,
                         testing::Combine(testing::ValuesIn(ExampleNames()), testing::Values(0, 1),
                                          testing::Values(uint64_t{1}, uint64_t{2})),
                         ParamName);

// With a GPU in the cluster the GPU task runs instead of waiting.
TEST(ExamplesGpu, GpuTaskRunsWhenANodeHasAGpu) {
  ExampleRun run = RunIn("seed=3,nodes=2,cpus=2,gpus=1", "resources_options");
  const ExampleResult& r = run.result;
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(r.leaves_pending_task);
  EXPECT_EQ(r.timings_s.count("gpu_wait_timeout"), 0u);
  ExpectQuick(r, "gpu_task");
  EXPECT_TRUE(run.after.Clean()) << "left behind: " << run.after.Str();
}

// Same seed, same run: byte-identical traces have equal hashes.
class ExamplesDeterminism : public testing::TestWithParam<std::string> {};

TEST_P(ExamplesDeterminism, SameSeedSameTraceHash) {
  const std::string name = GetParam();
  ExampleRun a = RunIn("seed=7,nodes=3,cpus=2", name);
  ExampleRun b = RunIn("seed=7,nodes=3,cpus=2", name);
  ASSERT_TRUE(a.result.ok) << a.result.error;
  EXPECT_EQ(a.stats.trace_hash, b.stats.trace_hash);
  EXPECT_EQ(a.stats.steps, b.stats.steps);
  EXPECT_EQ(a.stats.messages, b.stats.messages);
  EXPECT_EQ(a.stats.virtual_ns, b.stats.virtual_ns);
  EXPECT_EQ(a.result.timings_s, b.result.timings_s);
  // Another seed draws other network latencies: usually another trace (not
  // required), always the same answers.
  ExampleRun c = RunIn("seed=8,nodes=3,cpus=2", name);
  EXPECT_TRUE(c.result.ok) << c.result.error;
  std::printf("  | trace hash seed 7: %016llx, seed 8: %016llx\n", (unsigned long long)a.stats.trace_hash,
              (unsigned long long)c.stats.trace_hash);
}

INSTANTIATE_TEST_SUITE_P(Examples, ExamplesDeterminism,
                         testing::Values("four_tasks", "matrix_dag", "aggregate_loop", "wait_incremental",
                                         "map_reduce", "put_get", "task_error", "actor_counter", "message_actor",
                                         "four_counters", "actor_copies"));

// The registry and the executables agree on the names.
TEST(ExamplesRegistry, NamesAreUniqueAndFindable) {
  std::vector<std::string> names = ExampleNames();
  EXPECT_GE(names.size(), 15u);
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_NE(dray::examples::FindExample(names[i]), nullptr) << names[i];
    for (size_t j = i + 1; j < names.size(); ++j) EXPECT_NE(names[i], names[j]);
  }
  EXPECT_EQ(dray::examples::FindExample("no_such_example"), nullptr);
}

}  // namespace
