// Seed 003 ("Monte Carlo estimate of pi"):
//
//   def sampling_task(num_samples: int, task_id: int, verbose=True) -> int:
//       num_inside = 0
//       for i in range(num_samples):
//           x, y = random.uniform(-1, 1), random.uniform(-1, 1)
//           if math.hypot(x, y) <= 1:
//               num_inside += 1
//       return num_inside
//   @ray.remote
//   def sample_task_distribute(sample_size, i) -> object:
//       return sampling_task(sample_size, i)
//   results = ray.get([sample_task_distribute.remote(sample_size, i+1) for i in range(NUM_SAMPLING_TASKS)])
//   pi = (sum(results) * 4) / TOTAL_NUM_SAMPLES
//
// Each task draws from its own PRNG seeded by its task id, so the serial and
// the distributed runs count exactly the same points.
#include <cmath>
#include <numbers>

#include <dray/dray.h>

#include "examples.h"

namespace dray::examples {
namespace {
constexpr int kNumSamplingTasks = 8;
constexpr int kNumSamplesPerTask = 100000;

int sampling_task(int num_samples, int task_id) {
  SplitMix64 rng(0x9170000ULL + static_cast<uint64_t>(task_id));
  int num_inside = 0;
  for (int i = 0; i < num_samples; ++i) {
    double x = rng.Uniform(-1, 1), y = rng.Uniform(-1, 1);
    if (x * x + y * y <= 1.0) ++num_inside;  // inside the circle
  }
  return num_inside;
}

int sample_task_distribute(int sample_size, int i) { return sampling_task(sample_size, i); }

double CalculatePi(const std::vector<int>& results) {
  long long inside = 0;
  for (int v : results) inside += v;
  return static_cast<double>(inside * 4) / (static_cast<double>(kNumSamplingTasks) * kNumSamplesPerTask);
}
}  // namespace
DRAY_REMOTE(sample_task_distribute);

ExampleResult RunMonteCarloPi() {
  ExampleResult r;
  Checker c;
  std::vector<int> serial;
  for (int i = 0; i < kNumSamplingTasks; ++i) serial.push_back(sampling_task(kNumSamplesPerTask, i + 1));

  auto start = dray::Now();
  std::vector<dray::ObjectRef<int>> refs;
  for (int i = 0; i < kNumSamplingTasks; ++i)
    refs.push_back(dray::Task(sample_task_distribute).Remote(kNumSamplesPerTask, i + 1));
  std::vector<int> results;
  for (const auto& v : dray::Get(refs)) results.push_back(*v);
  auto end = dray::Now();
  double pi = CalculatePi(results);
  double duration = Seconds(end - start);

  for (size_t i = 0; i < results.size(); ++i)
    r.output.push_back(Format("Task id: %zu | Samples in the circle: %d", i + 1, results[i]));
  r.output.push_back(Format("Distributed :: random samples: %d, estimated value of pi is: %f, elapsed: %.2f sec",
                            kNumSamplesPerTask, pi, duration));
  r.timings_s["duration"] = duration;
  r.summary = Format("pi ~ %.6f from %d x %d samples", pi, kNumSamplingTasks, kNumSamplesPerTask);
  c.Check(results == serial, "the tasks counted " + FormatList(results) + ", the serial run " + FormatList(serial));
  c.Check(std::fabs(pi - std::numbers::pi) < 0.01, Format("pi estimate %f is more than 0.01 from pi", pi));
  c.Finish(r);
  return r;
}

}  // namespace dray::examples
