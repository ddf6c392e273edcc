// Seed 004 (resources and options):
//
//   @ray.remote(num_cpus=2)
//   def cpu_task():
//       return 1
//   @ray.remote(num_gpus=1)
//   def gpu_task():
//       return 1
//   @ray.remote
//   def task():
//       return 1
//   future = task.options(num_cpus=2).remote()
//   @ray.remote(max_retries=3)
//   def unstable_function():
//       pass
//
// In C++ the options go on the call: Task(f).SetResource("CPU", 2),
// .SetResource("GPU", 1), .SetMaxRetries(3), .SetRetryExceptions(true),
// .SetName("..."). The twin shows what each one does:
//  - four two-CPU tasks of one second each take 2 s on 4 CPUs (two at a time);
//  - a GPU task runs when a node has a GPU, and otherwise waits (infeasible):
//    Wait with a timeout returns it unready;
//  - a task that always throws, with SetRetryExceptions(true) and
//    SetMaxRetries(2), runs three times (3 s) before Get raises its error;
//    without SetRetryExceptions it runs once (1 s);
//  - SetName names the task in its errors.
#include <stdexcept>

#include <dray/dray.h>

#include "examples.h"

namespace dray::examples {
namespace {
int cpu_task() {
  dray::SleepFor(std::chrono::seconds(1));
  return 1;
}
int gpu_task() { return 1; }
int task() { return 1; }
int unstable_function() { return 0; }
int always_fails() {
  dray::SleepFor(std::chrono::seconds(1));
  throw std::runtime_error("always fails");
}
int checked_sqrt(int x) {
  if (x < 0) throw std::domain_error("negative argument");
  int r = 0;
  while ((r + 1) * (r + 1) <= x) ++r;
  return r;
}
}  // namespace
DRAY_REMOTE(cpu_task, gpu_task, task, unstable_function, always_fails, checked_sqrt);

namespace {
// Seconds until Get(ref) throws a TaskError (-1 if it returns instead).
double SecondsUntilError(const dray::ObjectRef<int>& ref, std::string* what) {
  auto start = dray::Now();
  try {
    dray::Get(ref);
  } catch (const dray::TaskError& e) {
    auto end = dray::Now();
    *what = e.what();
    return Seconds(end - start);
  }
  return -1;
}
}  // namespace

ExampleResult RunResourcesOptions() {
  ExampleResult r;
  Checker c;

  // num_cpus=2: at most two of these run at once on a 4-CPU node.
  auto start = dray::Now();
  std::vector<dray::ObjectRef<int>> cpu_refs;
  for (int i = 0; i < 4; ++i) cpu_refs.push_back(dray::Task(cpu_task).SetResource("CPU", 2).Remote());
  int ones = 0;
  for (const auto& v : dray::Get(cpu_refs)) ones += *v;
  auto end = dray::Now();
  r.timings_s["cpu2_tasks"] = Seconds(end - start);
  r.output.push_back(Format("4 x cpu_task (CPU: 2, 1 s each): sum = %d, duration = %.2f s", ones,
                            r.timings_s["cpu2_tasks"]));
  c.Check(ones == 4, Format("the cpu_tasks returned %d in all, expected 4", ones));

  // task.options(num_cpus=2).remote()
  int one = *dray::Get(dray::Task(task).SetResources({{"CPU", 2}}).Remote());
  r.output.push_back(Format("task with SetResources({CPU: 2}) = %d", one));
  c.Check(one == 1, Format("task() = %d, expected 1", one));

  // max_retries=3 (retries on system failures: a crashed worker or node).
  int unstable = *dray::Get(dray::Task(unstable_function).SetMaxRetries(3).Remote());
  c.Check(unstable == 0, Format("unstable_function() = %d, expected 0", unstable));

  // Exceptions are retried only with SetRetryExceptions(true).
  std::string what;
  double once = SecondsUntilError(dray::Task(always_fails).SetMaxRetries(2).Remote(), &what);
  r.timings_s["no_retry_exceptions"] = once;
  r.output.push_back(Format("always_fails without SetRetryExceptions: error after %.2f s: %s", once, what.c_str()));
  c.Check(once >= 0, "always_fails did not raise a TaskError");
  double thrice =
      SecondsUntilError(dray::Task(always_fails).SetMaxRetries(2).SetRetryExceptions(true).Remote(), &what);
  r.timings_s["retry_exceptions"] = thrice;
  r.output.push_back(
      Format("always_fails with SetRetryExceptions(true), SetMaxRetries(2): error after %.2f s", thrice));
  c.Check(thrice >= 0, "always_fails (with retries) did not raise a TaskError");

  // SetName: the name shows in the task's errors.
  try {
    dray::Get(dray::Task(checked_sqrt).SetName("sqrt_of_minus_four").Remote(-4));
    c.Check(false, "checked_sqrt(-4) did not throw");
  } catch (const dray::TaskError& e) {
    r.output.push_back(std::string("named task failed: ") + e.what());
    c.Check(e.task_name() == "sqrt_of_minus_four",
            "the named task's error names '" + e.task_name() + "', expected 'sqrt_of_minus_four'");
    c.Check(e.exception_type() == "std::domain_error", "exception type is '" + e.exception_type() + "'");
  }
  int root = *dray::Get(dray::Task(checked_sqrt).SetName("sqrt_of_49").Remote(49));
  c.Check(root == 7, Format("checked_sqrt(49) = %d", root));

  // num_gpus=1: runs only where a node has a GPU; otherwise it waits.
  start = dray::Now();
  dray::ObjectRef<int> gpu = dray::Task(gpu_task).SetResource("GPU", 1).Remote();
  dray::WaitResult<int> w = dray::Wait(std::vector<dray::ObjectRef<int>>{gpu}, 1, /*timeout_ms=*/2000);
  end = dray::Now();
  if (!w.ready.empty()) {
    int g = *dray::Get(gpu);
    r.timings_s["gpu_task"] = Seconds(end - start);
    r.output.push_back(Format("gpu_task (GPU: 1) = %d after %.3f s", g, Seconds(end - start)));
    c.Check(g == 1, Format("gpu_task() = %d, expected 1", g));
  } else {
    r.timings_s["gpu_wait_timeout"] = Seconds(end - start);
    r.output.push_back(Format(
        "gpu_task (GPU: 1) is still waiting after %.2f s: no node has a GPU, so it is infeasible until one joins",
        Seconds(end - start)));
    r.leaves_pending_task = true;
  }

  r.summary = Format("cpu2 x4 in %.2f s, exception retries %.2f s vs %.2f s, gpu %s", r.timings_s["cpu2_tasks"],
                     thrice, once, w.ready.empty() ? "infeasible" : "ran");
  c.Finish(r);
  return r;
}

}  // namespace dray::examples
