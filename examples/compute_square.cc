// Seed 002 (parallel computation, stateless):
//
//   @ray.remote
//   def compute_square(x):
//       time.sleep(1)
//       return x * x
//   data = np.arange(10)
//   square_refs = [compute_square.remote(i) for i in data]
//   results = ray.get(square_refs)
//   # [0, 1, 4, 9, 16, 25, 36, 49, 64, 81], ceil(10 / CPUs) seconds
#include <dray/dray.h>

#include "examples.h"

namespace dray::examples {
namespace {
int compute_square(int x) {
  dray::SleepFor(std::chrono::seconds(1));  // simulated work
  return x * x;
}
}  // namespace
DRAY_REMOTE(compute_square);

ExampleResult RunComputeSquare() {
  ExampleResult r;
  Checker c;
  std::vector<int> data;
  for (int i = 0; i < 10; ++i) data.push_back(i);

  auto start = dray::Now();
  std::vector<dray::ObjectRef<int>> square_refs;
  for (int i : data) square_refs.push_back(dray::Task(compute_square).Remote(i));
  std::vector<std::shared_ptr<int>> got = dray::Get(square_refs);
  auto end = dray::Now();

  std::vector<int> results, serial;
  for (const auto& v : got) results.push_back(*v);
  for (int i : data) serial.push_back(i * i);
  double duration = Seconds(end - start);
  r.timings_s["duration"] = duration;
  r.output.push_back("serial results: " + FormatList(serial));
  r.output.push_back("dray parallel results: " + FormatList(results));
  r.output.push_back(Format("dray parallel duration: %.4f s", duration));
  r.summary = Format("%s in %.3f s", FormatList(results).c_str(), duration);
  c.Check(results == serial, "results are " + FormatList(results) + ", expected " + FormatList(serial));
  c.Finish(r);
  return r;
}

}  // namespace dray::examples
