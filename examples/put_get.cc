// Seed 001 (ray.put) and seed 004 (ray.put / ray.get):
//
//   num = ray.put(10)
//   ray.get(num)                  # 10
//   data = [1, 2, 3, 4, 5]
//   data_ref = ray.put(data)
//   result = ray.get(data_ref)    # [1, 2, 3, 4, 5]
//
// The twin also hands the put objects to tasks (a ref at the top level of a
// call is resolved to its value first), including one large enough (> 100
// KiB) to live in the object store and travel between nodes.
#include <numeric>

#include <dray/dray.h>

#include "examples.h"

namespace dray::examples {
namespace {
long long sum_list(std::vector<int> data) { return std::accumulate(data.begin(), data.end(), 0LL); }
int add_ten(int x) { return x + 10; }
}  // namespace
DRAY_REMOTE(sum_list, add_ten);

ExampleResult RunPutGet() {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();

  dray::ObjectRef<int> num = dray::Put(10);
  int got_num = *dray::Get(num);
  r.output.push_back(Format("ray.get(num) = %d", got_num));
  c.Check(got_num == 10, Format("Get(Put(10)) = %d", got_num));

  std::vector<int> data = {1, 2, 3, 4, 5};
  dray::ObjectRef<std::vector<int>> data_ref = dray::Put(data);
  std::vector<int> result = *dray::Get(data_ref);
  r.output.push_back("ray.get(data_ref) = " + FormatList(result));
  c.Check(result == data, "Get(Put([1, 2, 3, 4, 5])) = " + FormatList(result));

  // Put objects as task arguments.
  int plus_ten = *dray::Get(dray::Task(add_ten).Remote(num));
  long long sum = *dray::Get(dray::Task(sum_list).Remote(data_ref));
  r.output.push_back(Format("add_ten(num) = %d, sum_list(data_ref) = %lld", plus_ten, sum));
  c.Check(plus_ten == 20, Format("add_ten(num) = %d, expected 20", plus_ten));
  c.Check(sum == 15, Format("sum_list(data_ref) = %lld, expected 15", sum));

  // A large object, put once and read by several tasks (on several nodes when there are).
  std::vector<int> big(200000);
  std::iota(big.begin(), big.end(), 0);
  dray::ObjectRef<std::vector<int>> big_ref = dray::Put(big);
  std::vector<dray::ObjectRef<long long>> sums;
  for (int i = 0; i < 6; ++i) sums.push_back(dray::Task(sum_list).Remote(big_ref));
  long long expect_big = 200000LL * 199999LL / 2;
  bool big_ok = true;
  for (const auto& v : dray::Get(sums)) big_ok = big_ok && *v == expect_big;
  std::vector<int> big_back = *dray::Get(big_ref);
  r.output.push_back(Format("6 x sum_list(put of 200000 ints) = %lld each: %s", expect_big, big_ok ? "yes" : "no"));
  c.Check(big_ok, "a task summed the large put object wrongly");
  c.Check(big_back == big, "Get of the large put object differs from what was put");

  auto end = dray::Now();
  r.timings_s["duration"] = Seconds(end - start);
  r.summary = Format("Put(10) -> %d, Put([1..5]) -> %s, large put summed by 6 tasks: %s", got_num,
                     FormatList(result).c_str(), big_ok ? "ok" : "wrong");
  c.Finish(r);
  return r;
}

}  // namespace dray::examples
