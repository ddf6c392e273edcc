// Seed 000 ("Aggregating Values Efficiently"): adding 8 values with a
// one-second add takes 7 s as a chain and 3 s as a tree.
//
//   @ray.remote
//   def add(x, y):
//       time.sleep(1)
//       return x + y
//
// The explicit form, then the while-loop form, where the only difference is
// whether the new ref goes to the front or the back of the list:
//
//   values = [1, 2, 3, 4, 5, 6, 7, 8]
//   while len(values) > 1:
//       values = [add.remote(values[0], values[1])] + values[2:]   # slow
//       values = values[2:] + [add.remote(values[0], values[1])]   # fast
//   result = ray.get(values[0])
#include <deque>
#include <variant>

#include <dray/dray.h>

#include "examples.h"

namespace dray::examples {
namespace {
int add(int x, int y) {
  dray::SleepFor(std::chrono::seconds(1));
  return x + y;
}

// A list element of the while-loop form: a plain value or a ref to one.
using IntOrRef = std::variant<int, dray::ObjectRef<int>>;

dray::ObjectRef<int> AddRemote(const IntOrRef& a, const IntOrRef& b) {
  return std::visit([](const auto& x, const auto& y) { return dray::Task(add).Remote(x, y); }, a, b);
}

// Gets `ref` and returns (value, seconds since start).
std::pair<int, double> Finish(const dray::ObjectRef<int>& ref, std::chrono::nanoseconds start) {
  int v = *dray::Get(ref);
  auto end = dray::Now();
  return {v, Seconds(end - start)};
}

int LoopAggregate(bool tree, double* seconds) {
  auto start = dray::Now();
  std::deque<IntOrRef> values = {1, 2, 3, 4, 5, 6, 7, 8};
  while (values.size() > 1) {
    IntOrRef a = values[0], b = values[1];
    values.pop_front();
    values.pop_front();
    dray::ObjectRef<int> sum = AddRemote(a, b);
    if (tree)
      values.push_back(sum);   // values = values[2:] + [add.remote(values[0], values[1])]
    else
      values.push_front(sum);  // values = [add.remote(values[0], values[1])] + values[2:]
  }
  auto [v, s] = Finish(std::get<dray::ObjectRef<int>>(values[0]), start);
  *seconds = s;
  return v;
}

void Report(ExampleResult& r, Checker& c, const char* name, int value, double seconds, double expect_s) {
  r.timings_s[name] = seconds;
  r.output.push_back(Format("%s: result = %d, duration = %.2f s (expected %.0f s)", name, value, seconds, expect_s));
  c.Check(value == 36, Format("%s aggregation gave %d, expected 36", name, value));
}
}  // namespace
DRAY_REMOTE(add);

ExampleResult RunAggregateExplicit() {
  ExampleResult r;
  Checker c;
  // Aggregate the values slowly: O(n), 7 seconds.
  auto start = dray::Now();
  auto id1 = dray::Task(add).Remote(1, 2);
  auto id2 = dray::Task(add).Remote(id1, 3);
  auto id3 = dray::Task(add).Remote(id2, 4);
  auto id4 = dray::Task(add).Remote(id3, 5);
  auto id5 = dray::Task(add).Remote(id4, 6);
  auto id6 = dray::Task(add).Remote(id5, 7);
  auto id7 = dray::Task(add).Remote(id6, 8);
  auto [linear, linear_s] = Finish(id7, start);
  Report(r, c, "linear", linear, linear_s, 7);

  // Aggregate the values in a tree-structured pattern: O(log n), 3 seconds.
  start = dray::Now();
  auto t1 = dray::Task(add).Remote(1, 2);
  auto t2 = dray::Task(add).Remote(3, 4);
  auto t3 = dray::Task(add).Remote(5, 6);
  auto t4 = dray::Task(add).Remote(7, 8);
  auto t5 = dray::Task(add).Remote(t1, t2);
  auto t6 = dray::Task(add).Remote(t3, t4);
  auto t7 = dray::Task(add).Remote(t5, t6);
  auto [tree, tree_s] = Finish(t7, start);
  Report(r, c, "tree", tree, tree_s, 3);

  r.summary = Format("linear %d in %.3f s, tree %d in %.3f s", linear, linear_s, tree, tree_s);
  c.Finish(r);
  return r;
}

ExampleResult RunAggregateLoop() {
  ExampleResult r;
  Checker c;
  double linear_s = 0, tree_s = 0;
  int linear = LoopAggregate(false, &linear_s);
  Report(r, c, "linear", linear, linear_s, 7);
  int tree = LoopAggregate(true, &tree_s);
  Report(r, c, "tree", tree, tree_s, 3);
  r.summary = Format("linear %d in %.3f s, tree %d in %.3f s", linear, linear_s, tree, tree_s);
  c.Finish(r);
  return r;
}

}  // namespace dray::examples
