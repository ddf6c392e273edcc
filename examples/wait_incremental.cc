// Seed 001 (ray.wait): process results in the order they complete.
//
//   @ray.remote
//   def do_some_work(x):
//       time.sleep(random.uniform(0, 4))
//       return x
//   def process_incremental(sum, result):
//       time.sleep(1)
//       return sum + result
//   result_ids = [do_some_work.remote(x) for x in range(4)]
//   sum = 0
//   while len(result_ids):
//       done_id, result_ids = ray.wait(result_ids)
//       sum = process_incremental(sum, ray.get(done_id[0]))
//   # result = 6
//
// The twin draws each sleep from a PRNG seeded by x, so the run (and the
// expected duration) is the same every time.
#include <algorithm>

#include <dray/dray.h>

#include "examples.h"

namespace dray::examples {
namespace {
// The sleep of do_some_work(x): uniform in [0, 4) s, whole microseconds.
std::chrono::nanoseconds WorkTime(int x) {
  SplitMix64 rng(0x5eed0000ULL + static_cast<uint64_t>(x));
  return std::chrono::microseconds(rng.Next() % 4000000);
}

int do_some_work(int x) {
  dray::SleepFor(WorkTime(x));
  return x;
}

// Local processing on the driver (not a task), as in the seed.
int process_incremental(int sum, int result) {
  dray::SleepFor(std::chrono::seconds(1));
  return sum + result;
}
}  // namespace
DRAY_REMOTE(do_some_work);

ExampleResult RunWaitIncremental() {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();
  std::vector<dray::ObjectRef<int>> result_ids;
  for (int x = 0; x < 4; ++x) result_ids.push_back(dray::Task(do_some_work).Remote(x));
  int sum = 0;
  std::vector<int> order;
  while (!result_ids.empty()) {
    dray::WaitResult<int> w = dray::Wait(result_ids, 1);
    result_ids = w.unready;
    int v = *dray::Get(w.ready.at(0));
    order.push_back(v);
    sum = process_incremental(sum, v);
  }
  auto end = dray::Now();
  double duration = Seconds(end - start);

  // What the run should look like: tasks finish in order of their sleeps, and
  // each is processed for one second once it is done and the previous one is.
  std::vector<std::pair<double, int>> done;
  for (int x = 0; x < 4; ++x) done.push_back({Seconds(WorkTime(x)), x});
  std::sort(done.begin(), done.end());
  double t = 0;
  std::vector<int> expect_order;
  for (const auto& [at, x] : done) {
    t = std::max(t, at) + 1.0;
    expect_order.push_back(x);
  }

  r.timings_s["duration"] = duration;
  r.timings_s["expected_duration"] = t;
  std::string sleeps;
  for (int x = 0; x < 4; ++x) sleeps += Format("%s%.3f", x ? ", " : "", Seconds(WorkTime(x)));
  r.output.push_back("do_some_work sleeps = [" + sleeps + "] s");
  r.output.push_back("completion order = " + FormatList(order));
  r.output.push_back(Format("duration = %.3f s (expected %.3f s)", duration, t));
  r.output.push_back(Format("result = %d", sum));
  r.summary = Format("sum %d in %.3f s, order %s", sum, duration, FormatList(order).c_str());
  c.Check(sum == 6, Format("sum is %d, expected 6", sum));
  c.CheckOrder(order == expect_order,
          "processed in order " + FormatList(order) + ", expected completion order " + FormatList(expect_order));
  c.Finish(r);
  return r;
}

}  // namespace dray::examples
