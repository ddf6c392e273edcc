// Uses only the installed public header: registers functions, submits tasks
// (values, refs at the top level, a Put object), Gets and Waits, and checks
// every result. Prints OK and exits 0 when all match; exits 1 otherwise.
#include <dray/dray.h>

#include <chrono>
#include <cstdio>
#include <numeric>
#include <optional>
#include <vector>

int Square(int x) { return x * x; }
int Add(int a, int b) { return a + b; }
long Sum(std::vector<int> v) { return std::accumulate(v.begin(), v.end(), 0L); }
int SlowAdd(int a, int b) {
  dray::SleepFor(std::chrono::seconds(1));
  return a + b;
}
// An actor, as in DESIGN §6.
class Counter {
 public:
  static Counter* Create(int start) { return new Counter(start); }
  explicit Counter(int start) : n_(start) {}
  int Inc() { return ++n_; }
  int Get() const { return n_; }
  void Reset() { n_ = 0; }

 private:
  int n_;
};
int IncVia(dray::ActorHandle<Counter> c) { return *dray::Get(c.Task(&Counter::Inc).Remote()); }
DRAY_REMOTE(Square, Add, Sum, SlowAdd, Counter::Create, &Counter::Inc, &Counter::Get, &Counter::Reset, IncVia);

static int failures = 0;
static void Check(bool ok, const char* what, long got, long want) {
  if (!ok) {
    std::fprintf(stderr, "MISMATCH %s: got %ld, want %ld\n", what, got, want);
    ++failures;
  }
}

int main(int argc, char** argv) {
  dray::Init(argc, argv);
  if (!dray::IsInitialized()) {
    std::fprintf(stderr, "dray::Init did not initialize\n");
    return 1;
  }

  // Fan out: ten independent tasks.
  std::vector<dray::ObjectRef<int>> squares;
  for (int i = 0; i < 10; ++i) squares.push_back(dray::Task(Square).Remote(i));
  auto values = dray::Get(squares);
  for (int i = 0; i < 10; ++i) Check(*values[i] == i * i, "Square", *values[i], i * i);

  // A tree of adds over refs: (0+1)+(4+9) = 14.
  auto a = dray::Task(Add).Remote(squares[0], squares[1]);
  auto b = dray::Task(Add).Remote(squares[2], squares[3]);
  auto c = dray::Task(Add).Remote(a, b);
  Check(*dray::Get(c) == 14, "Add tree", *dray::Get(c), 14);

  // Put a value and pass its ref to a task.
  std::vector<int> data(1000);
  std::iota(data.begin(), data.end(), 1);
  auto p = dray::Put(data);
  Check(dray::Get(p)->size() == 1000, "Put/Get size", static_cast<long>(dray::Get(p)->size()), 1000);
  auto s = dray::Task(Sum).Remote(p);
  Check(*dray::Get(s) == 500500, "Sum of Put", *dray::Get(s), 500500);

  // Wait for one of two one-second tasks; both finish in virtual time.
  auto t0 = dray::Now();
  std::vector<dray::ObjectRef<int>> slow{dray::Task(SlowAdd).Remote(1, 2), dray::Task(SlowAdd).Remote(3, 4)};
  auto w = dray::Wait(slow, 1);
  Check(w.ready.size() == 1 && w.unready.size() == 1, "Wait ready", static_cast<long>(w.ready.size()), 1);
  auto both = dray::Get(slow);
  Check(*both[0] == 3 && *both[1] == 7, "SlowAdd", *both[0] + *both[1], 10);
  auto elapsed = dray::Now() - t0;
  Check(elapsed >= std::chrono::seconds(1), "elapsed >= 1 s (ms)",
        static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()), 1000);

  // Actors: ordered calls, a handle passed to a task, a name, Kill.
  {
    dray::ActorHandle<Counter> ctr =
        dray::Actor(Counter::Create).SetName("counter").SetMaxRestarts(2).SetMaxTaskRetries(1).Remote(10);
    dray::ObjectRef<int> n = ctr.Task(&Counter::Inc).Remote();
    Check(*dray::Get(n) == 11, "Counter.Inc", *dray::Get(n), 11);
    int via = *dray::Get(dray::Task(IncVia).Remote(ctr));
    Check(via == 12, "IncVia", via, 12);
    std::optional<dray::ActorHandle<Counter>> same = dray::GetActor<Counter>("counter");
    Check(same.has_value(), "GetActor", same.has_value(), 1);
    if (same) {
      int got = *dray::Get(same->Task(&Counter::Get).Remote());
      Check(got == 12, "Counter.Get", got, 12);
    }
    dray::ObjectRef<void> r = ctr.Task(&Counter::Reset).Remote();
    dray::Get(r);
    dray::Kill(ctr);
    bool died = false;
    try {
      dray::Get(ctr.Task(&Counter::Get).Remote());
    } catch (const dray::ActorDiedError&) {
      died = true;
    }
    Check(died, "ActorDiedError after Kill", died, 1);
  }

  dray::Shutdown();
  if (failures != 0) {
    std::fprintf(stderr, "FAILED: %d mismatch(es)\n", failures);
    return 1;
  }
  std::printf("OK\n");
  return 0;
}
