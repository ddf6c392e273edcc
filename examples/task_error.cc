// Seed 004 (exception handling):
//
//   @ray.remote
//   def might_fail(x):
//       if x < 0:
//           raise ValueError("Negative value")
//       return x
//   try:
//       result = ray.get(might_fail.remote(-1))
//   except ray.exceptions.RayTaskError as e:
//       print("Task failed:", e)
//
// In C++ the task throws std::invalid_argument; Get throws dray::TaskError,
// which carries the task's name, the exception's type and its message. A task
// whose argument is a failed object fails with that same error (as in Ray).
#include <stdexcept>

#include <dray/dray.h>

#include "examples.h"

namespace dray::examples {
namespace {
int might_fail(int x) {
  if (x < 0) throw std::invalid_argument("Negative value");
  return x;
}
int plus_one(int x) { return x + 1; }
}  // namespace
DRAY_REMOTE(might_fail, plus_one);

ExampleResult RunTaskError() {
  ExampleResult r;
  Checker c;
  auto start = dray::Now();

  // The task throws: Get rethrows it as a dray::TaskError.
  bool caught = false;
  try {
    int result = *dray::Get(dray::Task(might_fail).Remote(-1));
    c.Check(false, Format("Get(might_fail(-1)) returned %d instead of throwing", result));
  } catch (const dray::TaskError& e) {
    caught = true;
    r.output.push_back(std::string("Task failed: ") + e.what());
    c.Check(e.task_name() == "might_fail", "task name is '" + e.task_name() + "', expected 'might_fail'");
    c.Check(e.exception_type() == "std::invalid_argument",
            "exception type is '" + e.exception_type() + "', expected 'std::invalid_argument'");
    c.Check(e.message() == "Negative value", "message is '" + e.message() + "', expected 'Negative value'");
  }
  c.Check(caught, "Get(might_fail(-1)) did not throw dray::TaskError");

  // The same function succeeds on a good argument.
  int ok_value = *dray::Get(dray::Task(might_fail).Remote(5));
  r.output.push_back(Format("might_fail(5) = %d", ok_value));
  c.Check(ok_value == 5, Format("might_fail(5) = %d, expected 5", ok_value));

  // The error flows to a task that depends on the failed object.
  caught = false;
  try {
    int v = *dray::Get(dray::Task(plus_one).Remote(dray::Task(might_fail).Remote(-2)));
    c.Check(false, Format("plus_one(might_fail(-2)) returned %d instead of throwing", v));
  } catch (const dray::TaskError& e) {
    caught = true;
    r.output.push_back(std::string("Dependent task failed: ") + e.what());
    c.Check(e.task_name() == "might_fail" && e.message() == "Negative value",
            std::string("the dependent task's error is '") + e.what() + "', expected might_fail's");
  }
  c.Check(caught, "Get(plus_one(might_fail(-2))) did not throw dray::TaskError");

  // TaskError is a dray::Error is a std::runtime_error.
  try {
    dray::Get(dray::Task(might_fail).Remote(-3));
    c.Check(false, "Get(might_fail(-3)) did not throw");
  } catch (const std::runtime_error& e) {
    c.Check(dynamic_cast<const dray::Error*>(&e) != nullptr, "the error is not a dray::Error");
  }

  auto end = dray::Now();
  r.timings_s["duration"] = Seconds(end - start);
  r.summary = "might_fail(-1) raised dray::TaskError(might_fail, std::invalid_argument, Negative value)";
  c.Finish(r);
  return r;
}

}  // namespace dray::examples
