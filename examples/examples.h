// The C++ twins of the task examples in the seed texts (DESIGN.md: "every
// example in them must have a working C++ twin").
//
// Each example is a function `ExampleResult RunXxx()` that runs inside an
// initialized driver (dray::Init before, dray::Shutdown after), checks what it
// computed against the expected answers (`ok`), and reports its virtual
// timings. Timings are measured with dray::Now(): in the simulator compute
// takes no virtual time and dray::SleepFor advances it, so a Python
// `time.sleep(1)` becomes `dray::SleepFor(std::chrono::seconds(1))`.
//
// Every example is registered in AllExamples(): one executable per example
// (examples/example_main.cc), the `dray-sim --workload NAME` command and
// tests/examples_test.cc run them from there.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace dray::examples {

struct ExampleResult {
  // The computed values matched the expected answers (timings are not part of
  // this: the tests check them per cluster shape).
  bool ok = false;
  // One line: what was computed.
  std::string summary;
  // Lines in the style of the seed's printed output ("results = [0, 1, 2, 3]").
  std::vector<std::string> output;
  // Virtual durations in seconds, by name ("duration", "linear", "tree", ...).
  std::map<std::string, double> timings_s;
  // Why !ok: every mismatch, joined by "; ".
  std::string error;
  // Expectations that hold only when nothing fails: which task finishes first
  // follows from the sleeps, unless a crash makes one run again. The tests
  // check these per cluster shape, like the timings; a run with injected
  // faults does not.
  std::string order_error;
  // The example deliberately leaves a task queued that cannot run on this
  // cluster (the GPU task on a cluster without GPUs), so the cluster is not
  // quiet and empty afterwards.
  bool leaves_pending_task = false;
};

struct ExampleInfo {
  const char* name;
  const char* description;
  std::function<ExampleResult()> run;
  // It keeps state in actors: under injected faults an actor may die (its
  // state cannot survive a restart), and the documented ActorDiedError or
  // ActorUnavailableError is then an accepted outcome.
  bool actors = false;
};

// Every example, in the order of the seed texts. Each `run` catches exceptions
// and turns them into ok = false.
const std::vector<ExampleInfo>& AllExamples();
// nullptr when there is no example of that name.
const ExampleInfo* FindExample(const std::string& name);

// ---- the examples ----
ExampleResult RunFourTasks();          // seed 000/001: four parallel one-second tasks
ExampleResult RunMatrixDag();          // seed 000/001: create_matrix x2 -> multiply_matrices
ExampleResult RunAggregateExplicit();  // seed 000: linear vs tree aggregation, written out
ExampleResult RunAggregateLoop();      // seed 000: the same with while loops
ExampleResult RunWaitIncremental();    // seed 001: process results in completion order with Wait
ExampleResult RunMapReduce();          // seed 001: map x*2, simple and tree reduce
ExampleResult RunPutGet();             // seed 001 / 004: Put and Get
ExampleResult RunTinyTasks(int n);     // seed 001: many tiny tasks
ExampleResult RunTinyTasks();          // ... with the seed's 100000
ExampleResult RunComputeSquare();      // seed 002: compute_square over range(10)
ExampleResult RunFibonacci();          // seed 003: generate_fibonacci on cpu_count tasks
ExampleResult RunMonteCarloPi();       // seed 003: Monte Carlo estimate of pi
ExampleResult RunBasicAdd();           // seed 004: add(1, 2), add(3, 4)
ExampleResult RunWaitNumReturns();     // seed 004: Wait(num_returns=2) on slow_function(i)
ExampleResult RunTaskError();          // seed 004: a task that throws
ExampleResult RunResourcesOptions();   // seed 004: resources, retries, names
// Actors (actors.cc).
ExampleResult RunActorCounter();         // seed 000: Counter: get_value, inc, inc, get_value
ExampleResult RunMessageActor(int rounds);  // seed 000: three tasks feed a MessageActor
ExampleResult RunMessageActor();         // ... with the seed's 100 rounds
ExampleResult RunFourCounters();         // seed 001: four independent counters
ExampleResult RunCounterTiming();        // seed 002: ten one-second increments take 10 s
ExampleResult RunActorBasics();          // seed 004: increment, increment, get_value
ExampleResult RunActorKill();            // seed 004: a call after Kill
ExampleResult RunActorCopies();          // seed 004: returned values are copies
ExampleResult RunActorUnserializable();  // seed 004: an unserializable return value
ExampleResult RunActorAttributes();      // seed 004: getters and setters

// ---- helpers shared by the examples ----

// SplitMix64: a tiny deterministic PRNG for user code in the examples
// (std::random_device and std::*_distribution are not reproducible).
struct SplitMix64 {
  uint64_t state;
  explicit SplitMix64(uint64_t seed) : state(seed) {}
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
};

// Seconds of a virtual duration.
inline double Seconds(std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e9; }

// "[0, 1, 2, 3]", as Python prints a list.
std::string FormatList(const std::vector<int>& v);
std::string FormatList(const std::vector<long long>& v);
// printf into a std::string.
std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Collects the mismatches of one example run.
class Checker {
 public:
  void Check(bool cond, const std::string& what) {
    if (!cond) errors_.push_back(what);
  }
  // An expectation about completion order (see ExampleResult::order_error).
  void CheckOrder(bool cond, const std::string& what) {
    if (!cond) order_errors_.push_back(what);
  }
  // Fills ok and error.
  void Finish(ExampleResult& r) const;

 private:
  std::vector<std::string> errors_;
  std::vector<std::string> order_errors_;
};

}  // namespace dray::examples
