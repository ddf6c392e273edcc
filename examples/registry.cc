// The registry of the seed examples and the helpers they share.
#include <cstdarg>
#include <cstdio>
#include <exception>

#include "examples.h"

namespace dray::examples {

std::string Format(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list ap2;
  va_copy(ap2, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, fmt, ap2);
  va_end(ap2);
  return out;
}

namespace {
template <class T>
std::string FormatListT(const std::vector<T>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(v[i]);
  }
  return s + "]";
}

// Runs an example; an exception (a dray error, a deadlock reported by the
// simulator) makes it fail with that message instead of escaping.
std::function<ExampleResult()> Guard(ExampleResult (*run)()) {
  return [run] {
    try {
      return run();
    } catch (const std::exception& e) {
      ExampleResult r;
      r.ok = false;
      r.error = std::string("exception: ") + e.what();
      r.summary = "failed with an exception";
      return r;
    }
  };
}
}  // namespace

std::string FormatList(const std::vector<int>& v) { return FormatListT(v); }
std::string FormatList(const std::vector<long long>& v) { return FormatListT(v); }

void Checker::Finish(ExampleResult& r) const {
  r.ok = errors_.empty();
  r.error.clear();
  for (const auto& e : errors_) {
    if (!r.error.empty()) r.error += "; ";
    r.error += e;
  }
  r.order_error.clear();
  for (const auto& e : order_errors_) {
    if (!r.order_error.empty()) r.order_error += "; ";
    r.order_error += e;
  }
}

const std::vector<ExampleInfo>& AllExamples() {
  static const std::vector<ExampleInfo> all = {
      {"four_tasks", "seed 000/001: four parallel one-second tasks -> [0, 1, 2, 3] in about 1 s",
       Guard(&RunFourTasks)},
      {"matrix_dag", "seed 000/001: two create_matrix tasks feed multiply_matrices (200x200, via the object store)",
       Guard(&RunMatrixDag)},
      {"aggregate_explicit", "seed 000: aggregate 8 values with one-second adds, linear (7 s) vs tree (3 s)",
       Guard(&RunAggregateExplicit)},
      {"aggregate_loop", "seed 000: the same aggregation written as while loops", Guard(&RunAggregateLoop)},
      {"actor_counter", "seed 000: a Counter actor: get_value 0, two inc, get_value 2", Guard(&RunActorCounter), true},
      {"message_actor", "seed 000: three tasks push 100 messages each to a MessageActor through its handle",
       Guard(static_cast<ExampleResult (*)()>(&RunMessageActor)), true},
      {"wait_incremental", "seed 001: process results in completion order with Wait (sum = 6)",
       Guard(&RunWaitIncremental)},
      {"map_reduce", "seed 001: map x*2 over range(100), simple and tree reduce (sum = 9900)",
       Guard(&RunMapReduce)},
      {"put_get", "seed 001/004: Put(10), Put([1, 2, 3, 4, 5]) and Get them back", Guard(&RunPutGet)},
      {"tiny_tasks", "seed 001: 100000 tiny tasks", Guard(static_cast<ExampleResult (*)()>(&RunTinyTasks))},
      {"four_counters", "seed 001: four counters incremented and read: [1, 1, 1, 1], then [11, 11, 11, 11]",
       Guard(&RunFourCounters), true},
      {"compute_square", "seed 002: compute_square over range(10) with one-second sleeps",
       Guard(&RunComputeSquare)},
      {"counter_timing", "seed 002: ten one-second increments of one actor run in order: 10 s",
       Guard(&RunCounterTiming), true},
      {"fibonacci", "seed 003: generate_fibonacci(200000) on cpu_count tasks", Guard(&RunFibonacci)},
      {"monte_carlo_pi", "seed 003: Monte Carlo estimate of pi, 8 tasks x 100000 samples",
       Guard(&RunMonteCarloPi)},
      {"basic_add", "seed 004: add(1, 2) and add(3, 4) -> [3, 7]", Guard(&RunBasicAdd)},
      {"wait_num_returns", "seed 004: Wait with num_returns=2 on slow_function(i) sleeping i seconds",
       Guard(&RunWaitNumReturns)},
      {"task_error", "seed 004: a task that throws; Get raises dray::TaskError", Guard(&RunTaskError)},
      {"resources_options", "seed 004: CPU and GPU demands, SetMaxRetries, SetName",
       Guard(&RunResourcesOptions)},
      {"actor_basics", "seed 004: increment twice and get_value: [1, 2], then 2", Guard(&RunActorBasics), true},
      {"actor_kill", "seed 004: a call after Kill raises dray::ActorDiedError", Guard(&RunActorKill), true},
      {"actor_copies", "seed 004: values returned by actors are copies", Guard(&RunActorCopies), true},
      {"actor_unserializable", "seed 004: returning a value that cannot be serialized raises TaskError",
       Guard(&RunActorUnserializable), true},
      {"actor_attributes", "seed 004: getter and setter methods: 0 100, then 10 20", Guard(&RunActorAttributes), true},
  };
  return all;
}

const ExampleInfo* FindExample(const std::string& name) {
  for (const auto& e : AllExamples())
    if (name == e.name) return &e;
  return nullptr;
}

}  // namespace dray::examples
