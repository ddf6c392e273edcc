// Seed 000 ("Parallelism with Tasks") and seed 001 (do_some_work):
//
//   @ray.remote
//   def f(x):
//       time.sleep(1)
//       return x
//   result_ids = [f.remote(i) for i in range(4)]
//   results = ray.get(result_ids)  # [0, 1, 2, 3], 1 second with at least 4 cores
#include <dray/dray.h>

#include "examples.h"

namespace dray::examples {
namespace {
int f(int x) {
  dray::SleepFor(std::chrono::seconds(1));
  return x;
}
}  // namespace
DRAY_REMOTE(f);

ExampleResult RunFourTasks() {
  ExampleResult r;
  auto start = dray::Now();
  // Start 4 tasks in parallel.
  std::vector<dray::ObjectRef<int>> result_ids;
  for (int i = 0; i < 4; ++i) result_ids.push_back(dray::Task(f).Remote(i));
  // Wait for the tasks to complete and retrieve the results.
  std::vector<std::shared_ptr<int>> got = dray::Get(result_ids);
  auto end = dray::Now();

  std::vector<int> results;
  for (const auto& v : got) results.push_back(*v);
  double duration = Seconds(end - start);
  r.timings_s["duration"] = duration;
  r.output.push_back("results = " + FormatList(results));
  r.output.push_back(Format("duration = %.2f s", duration));
  r.summary = Format("results = %s in %.3f s", FormatList(results).c_str(), duration);
  Checker c;
  c.Check(results == std::vector<int>{0, 1, 2, 3}, "results are " + FormatList(results) + ", expected [0, 1, 2, 3]");
  c.Finish(r);
  return r;
}

}  // namespace dray::examples
