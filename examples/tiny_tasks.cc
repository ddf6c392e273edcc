// Seed 001 ("beware of tiny tasks"): scheduling costs time, so very small tasks
// are dominated by overhead.
//
//   @ray.remote
//   def tiny_work(x):
//       time.sleep(0.0001)
//       return x
//   result_ids = [tiny_work.remote(x) for x in range(100000)]
//   results = ray.get(result_ids)
#include <dray/dray.h>

#include "examples.h"

namespace dray::examples {
namespace {
int tiny_work(int x) {
  dray::SleepFor(std::chrono::microseconds(100));
  return x;
}
}  // namespace
DRAY_REMOTE(tiny_work);

ExampleResult RunTinyTasks(int n) {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();
  std::vector<dray::ObjectRef<int>> result_ids;
  result_ids.reserve(static_cast<size_t>(n));
  for (int x = 0; x < n; ++x) result_ids.push_back(dray::Task(tiny_work).Remote(x));
  std::vector<std::shared_ptr<int>> results = dray::Get(result_ids);
  auto end = dray::Now();
  double duration = Seconds(end - start);

  int wrong = 0;
  for (int x = 0; x < n; ++x)
    if (static_cast<size_t>(x) >= results.size() || *results[static_cast<size_t>(x)] != x) ++wrong;
  r.timings_s["duration"] = duration;
  r.output.push_back(Format("%d tiny_work tasks (0.1 ms each): %d results, %d wrong", n,
                            static_cast<int>(results.size()), wrong));
  r.output.push_back(Format("duration = %.3f s (%.1f us per task; the sleeps alone are %.3f s of CPU time)", duration,
                            n ? duration * 1e6 / n : 0.0, n * 1e-4));
  r.summary = Format("%d tiny tasks in %.3f s", n, duration);
  c.Check(results.size() == static_cast<size_t>(n) && wrong == 0,
          Format("%d of %d results are wrong", wrong + static_cast<int>(n - static_cast<int>(results.size())), n));
  c.Finish(r);
  return r;
}

ExampleResult RunTinyTasks() { return RunTinyTasks(100000); }

}  // namespace dray::examples
