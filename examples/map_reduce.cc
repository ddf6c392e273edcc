// Seed 001 (map-reduce):
//
//   @ray.remote
//   def map(obj, f):
//       return f(obj)
//   @ray.remote
//   def sum_results(*elements):
//       return np.sum(elements)
//   items = list(range(100))
//   map_func = lambda i : i*2
//   remote_elements = [map.remote(i, map_func) for i in items]
//   # simple reduce
//   result = ray.get(sum_results.remote(*remote_elements))
//   # tree reduce
//   intermediate_results = [sum_results.remote(*remote_elements[i * 20: (i + 1) * 20]) for i in range(5)]
//   result = ray.get(sum_results.remote(*intermediate_results))
//
// C++ cannot ship a closure, so `f` travels as the name of a function the
// worker knows. The reducer takes its elements as a vector of refs (nested
// refs are passed as refs, as in Ray) and Gets them itself; a task blocked in
// Get gives its CPU back, so reducers never starve the maps they wait for.
#include <dray/dray.h>

#include "examples.h"

namespace dray::examples {
namespace {
int ApplyMapFunc(const std::string& f, int x) {
  if (f == "times_two") return x * 2;  // lambda i: i * 2
  if (f == "square") return x * x;
  throw std::invalid_argument("unknown map function '" + f + "'");
}

int map_item(int obj, std::string f) { return ApplyMapFunc(f, obj); }

int sum_results(std::vector<dray::ObjectRef<int>> elements) {
  int sum = 0;
  for (const auto& v : dray::Get(elements)) sum += *v;
  return sum;
}
}  // namespace
DRAY_REMOTE(map_item, sum_results);

ExampleResult RunMapReduce() {
  ExampleResult r;
  Checker c;
  std::vector<int> items;
  for (int i = 0; i < 100; ++i) items.push_back(i);
  int expect = 0;
  for (int i : items) expect += ApplyMapFunc("times_two", i);

  auto start = dray::Now();
  std::vector<dray::ObjectRef<int>> remote_elements;
  for (int i : items) remote_elements.push_back(dray::Task(map_item).Remote(i, std::string("times_two")));

  // Simple reduce.
  dray::ObjectRef<int> remote_final_sum = dray::Task(sum_results).Remote(remote_elements);
  int simple = *dray::Get(remote_final_sum);
  auto end = dray::Now();
  r.timings_s["simple"] = Seconds(end - start);

  // Tree reduce: 5 groups of 20, then the 5 partial sums.
  start = dray::Now();
  std::vector<dray::ObjectRef<int>> intermediate_results;
  for (int i = 0; i < 5; ++i) {
    std::vector<dray::ObjectRef<int>> group(remote_elements.begin() + i * 20, remote_elements.begin() + (i + 1) * 20);
    intermediate_results.push_back(dray::Task(sum_results).Remote(group));
  }
  remote_final_sum = dray::Task(sum_results).Remote(intermediate_results);
  int tree = *dray::Get(remote_final_sum);
  end = dray::Now();
  r.timings_s["tree"] = Seconds(end - start);

  std::vector<int> partials;
  for (const auto& v : dray::Get(intermediate_results)) partials.push_back(*v);
  r.output.push_back(Format("simple reduce: result = %d", simple));
  r.output.push_back(Format("tree reduce: partial sums = %s, result = %d", FormatList(partials).c_str(), tree));
  r.summary = Format("simple %d, tree %d (expected %d)", simple, tree, expect);
  c.Check(expect == 9900, Format("the local sum is %d, expected 9900", expect));
  c.Check(simple == expect, Format("simple reduce gave %d, expected %d", simple, expect));
  c.Check(tree == expect, Format("tree reduce gave %d, expected %d", tree, expect));
  std::vector<int> expect_partials;
  for (int g = 0; g < 5; ++g) {
    int s = 0;
    for (int i = g * 20; i < (g + 1) * 20; ++i) s += 2 * i;
    expect_partials.push_back(s);
  }
  c.Check(partials == expect_partials,
          "partial sums are " + FormatList(partials) + ", expected " + FormatList(expect_partials));
  c.Finish(r);
  return r;
}

}  // namespace dray::examples
