// Seed 004: the basic task and ray.wait examples.
//
//   ray.init(num_cpus=2)
//   @ray.remote
//   def add(x, y):
//       return x + y
//   future1 = add.remote(1, 2)
//   future2 = add.remote(3, 4)
//   results = ray.get([future1, future2])   # [3, 7]
//
//   @ray.remote
//   def slow_function(i):
//       time.sleep(i)
//       return i
//   refs = [slow_function.remote(i) for i in range(4)]
//   ready_refs, remaining_refs = ray.wait(refs, num_returns=2)
//   print(len(ready_refs), len(remaining_refs))      # 2 2
//   ready_refs, remaining_refs = ray.wait(refs, num_returns=len(refs))
//   print(len(ready_refs), len(remaining_refs))      # 4 0
//   print(ray.get(ready_refs))                       # [0, 1, 2, 3]
#include <dray/dray.h>

#include "examples.h"

namespace dray::examples {
namespace {
// Seed 004's add has no sleep (seed 000's one-second add is in aggregate.cc).
int add_numbers(int x, int y) { return x + y; }

int slow_function(int i) {
  dray::SleepFor(std::chrono::seconds(i));
  return i;
}
}  // namespace
DRAY_REMOTE(add_numbers, slow_function);

ExampleResult RunBasicAdd() {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();
  dray::ObjectRef<int> future1 = dray::Task(add_numbers).Remote(1, 2);
  dray::ObjectRef<int> future2 = dray::Task(add_numbers).Remote(3, 4);
  std::vector<int> results;
  for (const auto& v : dray::Get(std::vector<dray::ObjectRef<int>>{future1, future2})) results.push_back(*v);
  auto end = dray::Now();
  r.timings_s["duration"] = Seconds(end - start);
  r.output.push_back(FormatList(results));
  r.summary = "results = " + FormatList(results);
  c.Check(results == std::vector<int>{3, 7}, "results are " + FormatList(results) + ", expected [3, 7]");
  c.Finish(r);
  return r;
}

ExampleResult RunWaitNumReturns() {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();
  std::vector<dray::ObjectRef<int>> refs;
  for (int i = 0; i < 4; ++i) refs.push_back(dray::Task(slow_function).Remote(i));

  dray::WaitResult<int> w = dray::Wait(refs, 2);
  auto t2 = dray::Now();
  r.output.push_back(Format("%zu %zu", w.ready.size(), w.unready.size()));
  c.Check(w.ready.size() == 2 && w.unready.size() == 2,
          Format("Wait(num_returns=2) gave %zu ready, %zu unready", w.ready.size(), w.unready.size()));
  c.CheckOrder(w.ready.size() == 2 && w.ready[0] == refs[0] && w.ready[1] == refs[1],
          "the two ready refs are not slow_function(0) and slow_function(1)");

  w = dray::Wait(refs, static_cast<int>(refs.size()));
  auto t4 = dray::Now();
  r.output.push_back(Format("%zu %zu", w.ready.size(), w.unready.size()));
  c.Check(w.ready.size() == 4 && w.unready.empty(),
          Format("Wait(num_returns=4) gave %zu ready, %zu unready", w.ready.size(), w.unready.size()));

  std::vector<int> values;
  for (const auto& v : dray::Get(w.ready)) values.push_back(*v);
  r.output.push_back(FormatList(values));
  c.Check(values == std::vector<int>{0, 1, 2, 3}, "values are " + FormatList(values) + ", expected [0, 1, 2, 3]");

  r.timings_s["wait_2"] = Seconds(t2 - start);
  r.timings_s["wait_all"] = Seconds(t4 - start);
  r.output.push_back(
      Format("(the first Wait returned after %.2f s, the second after %.2f s)", Seconds(t2 - start), Seconds(t4 - start)));
  r.summary = Format("2 ready after %.3f s, all 4 after %.3f s: %s", Seconds(t2 - start), Seconds(t4 - start),
                     FormatList(values).c_str());
  c.Finish(r);
  return r;
}

}  // namespace dray::examples
