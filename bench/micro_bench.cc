// Google Benchmark microbenchmarks (issue 2, "Must show"): the codec, the
// hashing the simulator does per step, the node manager's placement decision
// and the simulator's step rate. Not a test: timings vary with the machine.
// Run with bench/run.sh, or directly: build-bench/bench/micro_bench.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <semaphore>
#include <thread>
#include <ucontext.h>
#include <cstring>
#include <type_traits>
#include <string>
#include <vector>

#include <dray/dray.h>
#include <dray/sim.h>

#include "core/common/hash.h"
#include "core/node/node_manager.h"
#include "core/proto/codec.h"
#include "core/proto/effects_hash.h"

namespace {

using namespace dray;

TaskSpec SmallSpec(uint64_t n) {
  TaskSpec s;
  s.task = TaskId::Child(TaskId{7}, n);
  s.parent = TaskId{7};
  s.job = 1;
  s.function = "Tiny";
  s.name = "Tiny";
  TaskArg a;
  a.value.data = Buf(std::string("\x01", 1));  // msgpack for 1
  a.resolved = true;
  s.args.push_back(a);
  s.resources.SetUnits("CPU", 1);
  s.owner = Addr{0, kFirstUserProc};
  return s;
}

ObjectChunk BigChunk() {
  ObjectChunk c;
  c.id = ObjectId{99, 1};
  c.found = true;
  c.chunk = 0;
  c.num_chunks = 4;
  c.size = 4 << 20;
  c.owner = Addr{0, kFirstUserProc};
  c.data = Buf(std::string(1 << 20, 'x'));
  return c;
}

// ---- codec ----

void BM_EncodeSubmitTask(benchmark::State& st) {
  Message m = SubmitTask{SmallSpec(1)};
  size_t bytes = 0;
  for (auto _ : st) {
    std::string b = EncodeMessage(m);
    bytes = b.size();
    benchmark::DoNotOptimize(b.data());
  }
  st.counters["msg_bytes"] = static_cast<double>(bytes);
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * bytes));
}
BENCHMARK(BM_EncodeSubmitTask);

void BM_DecodeSubmitTask(benchmark::State& st) {
  std::string b = EncodeMessage(SubmitTask{SmallSpec(1)});
  for (auto _ : st) {
    Message m;
    std::string err;
    if (!DecodeMessage(b.data(), b.size(), &m, &err)) st.SkipWithError(err.c_str());
    benchmark::DoNotOptimize(m);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * b.size()));
}
BENCHMARK(BM_DecodeSubmitTask);

void BM_EncodeObjectChunk1MiB(benchmark::State& st) {
  Message m = BigChunk();
  size_t bytes = 0;
  for (auto _ : st) {
    std::string b = EncodeMessage(m);
    bytes = b.size();
    benchmark::DoNotOptimize(b.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * bytes));
}
BENCHMARK(BM_EncodeObjectChunk1MiB)->Unit(benchmark::kMicrosecond);

void BM_DecodeObjectChunk1MiB(benchmark::State& st) {
  std::string b = EncodeMessage(BigChunk());
  for (auto _ : st) {
    Message m;
    std::string err;
    if (!DecodeMessage(b.data(), b.size(), &m, &err)) st.SkipWithError(err.c_str());
    benchmark::DoNotOptimize(m);
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * b.size()));
}
BENCHMARK(BM_DecodeObjectChunk1MiB)->Unit(benchmark::kMicrosecond);

// ---- what the simulator hashes per step ----

// The effects of a typical dispatch step: ExecuteTask to a worker, a report timer.
void BM_HashEffectsDispatch(benchmark::State& st) {
  std::vector<Effect> effects{EfSend{Addr{0, 70}, ExecuteTask{SmallSpec(1)}}, EfSetTimer{1, 1000000}};
  for (auto _ : st) benchmark::DoNotOptimize(HashEffects(effects));
}
BENCHMARK(BM_HashEffectsDispatch);

void BM_HashEffectsChunk1MiB(benchmark::State& st) {
  std::vector<Effect> effects{EfSend{Addr{1, 0}, BigChunk()}};
  for (auto _ : st) benchmark::DoNotOptimize(HashEffects(effects));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) << 20);
}
BENCHMARK(BM_HashEffectsChunk1MiB)->Unit(benchmark::kMicrosecond);

// World::RunOne hashes every delivered message's bytes with this.
void BM_HashBytes1MiB(benchmark::State& st) {
  std::string b(1 << 20, 'x');
  for (auto _ : st) benchmark::DoNotOptimize(HashBytes(b.data(), b.size()));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) << 20);
}
BENCHMARK(BM_HashBytes1MiB)->Unit(benchmark::kMicrosecond);

// ---- candidates for the hot spots (prototypes here, not used by core/ or sim/) ----
// docs/performance.md: the sim spends most of a large-object workload in the
// byte-at-a-time FNV of Hasher::Bytes and in re-packing effects only to hash
// them. These are what a fix could look like, measured next to the current code.

// A streaming, platform-independent hash: 4 lanes of 64-bit little-endian words
// (xor, multiply, rotate) over 32-byte blocks, a 256-byte staging buffer so that
// msgpack's many tiny writes stay cheap and the result does not depend on how
// the bytes were split across write() calls.
class LaneHasher {
 public:
  void write(const char* p, size_t n) {
    total_ += n;
    if (fill_ + n <= sizeof buf_) {  // the common case: msgpack writes 1..9 bytes at a time
      std::memcpy(buf_ + fill_, p, n);
      fill_ += n;
      return;
    }
    size_t k = sizeof buf_ - fill_;
    std::memcpy(buf_ + fill_, p, k);
    p += k; n -= k;
    Blocks(buf_, sizeof buf_);
    size_t direct = n & ~size_t{31};
    Blocks(p, direct);
    p += direct; n -= direct;
    std::memcpy(buf_, p, n);
    fill_ = n;
  }
  uint64_t Done() const {
    uint64_t l[4] = {lane_[0], lane_[1], lane_[2], lane_[3]};
    size_t whole = fill_ & ~size_t{31};
    for (size_t off = 0; off < whole; off += 32) Block(l, buf_ + off);
    uint64_t h = total_;
    for (uint64_t x : l) h = Mix64(h ^ x) * 0x100000001b3ULL;
    for (size_t i = whole; i < fill_; ++i) h = (h ^ static_cast<unsigned char>(buf_[i])) * 0x100000001b3ULL;
    return Mix64(h);
  }

 private:
  static uint64_t Load(const char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);  // little endian everywhere
    return v;
  }
  static void Block(uint64_t* lane, const char* p) {
    for (int i = 0; i < 4; ++i) {
      uint64_t x = (lane[i] ^ Load(p + 8 * i)) * 0x9e3779b97f4a7c15ULL;
      lane[i] = (x << 31) | (x >> 33);
    }
  }
  void Blocks(const char* p, size_t n) {  // n: a multiple of 32
    for (size_t off = 0; off < n; off += 32) Block(lane_, p + off);
  }
  uint64_t lane_[4] = {1, 2, 3, 4};
  char buf_[256];
  size_t fill_ = 0;
  uint64_t total_ = 0;
};

// Byte-at-a-time FNV as a msgpack stream: no buffer, no allocation.
struct FnvStream {
  Hasher h;
  void write(const char* p, size_t n) { h.Bytes(p, n); }
};

template <class Stream>
uint64_t HashEffectsStreaming(const std::vector<Effect>& effects) {
  Stream s;
  for (const auto& e : effects) msgpack::pack(s, e);
  if constexpr (std::is_same_v<Stream, FnvStream>) return s.h.Done(); else return s.Done();
}

// The smallest change to HashEffects: keep packing into an sbuffer, but reuse
// one buffer across calls (no allocation once warm) and hash it word-wise.
uint64_t HashEffectsReusedLanes(const std::vector<Effect>& effects) {
  static msgpack::sbuffer sb;  // a benchmark: one thread
  LaneHasher h;
  for (const auto& e : effects) {
    sb.clear();
    msgpack::pack(sb, e);
    h.write(sb.data(), sb.size());
  }
  return h.Done();
}

void BM_HashBytes1MiB_WordLanes(benchmark::State& st) {
  std::string b(1 << 20, 'x');
  for (auto _ : st) {
    LaneHasher h;
    h.write(b.data(), b.size());
    benchmark::DoNotOptimize(h.Done());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) << 20);
}
BENCHMARK(BM_HashBytes1MiB_WordLanes)->Unit(benchmark::kMicrosecond);

void BM_HashEffectsDispatch_StreamFnv(benchmark::State& st) {
  std::vector<Effect> effects{EfSend{Addr{0, 70}, ExecuteTask{SmallSpec(1)}}, EfSetTimer{1, 1000000}};
  for (auto _ : st) benchmark::DoNotOptimize(HashEffectsStreaming<FnvStream>(effects));
}
BENCHMARK(BM_HashEffectsDispatch_StreamFnv);

void BM_HashEffectsDispatch_StreamLanes(benchmark::State& st) {
  std::vector<Effect> effects{EfSend{Addr{0, 70}, ExecuteTask{SmallSpec(1)}}, EfSetTimer{1, 1000000}};
  for (auto _ : st) benchmark::DoNotOptimize(HashEffectsStreaming<LaneHasher>(effects));
}
BENCHMARK(BM_HashEffectsDispatch_StreamLanes);

void BM_HashEffectsDispatch_ReusedLanes(benchmark::State& st) {
  std::vector<Effect> effects{EfSend{Addr{0, 70}, ExecuteTask{SmallSpec(1)}}, EfSetTimer{1, 1000000}};
  for (auto _ : st) benchmark::DoNotOptimize(HashEffectsReusedLanes(effects));
}
BENCHMARK(BM_HashEffectsDispatch_ReusedLanes);

void BM_HashEffectsChunk1MiB_ReusedLanes(benchmark::State& st) {
  std::vector<Effect> effects{EfSend{Addr{1, 0}, BigChunk()}};
  for (auto _ : st) benchmark::DoNotOptimize(HashEffectsReusedLanes(effects));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) << 20);
}
BENCHMARK(BM_HashEffectsChunk1MiB_ReusedLanes)->Unit(benchmark::kMicrosecond);

void BM_HashEffectsChunk1MiB_StreamLanes(benchmark::State& st) {
  std::vector<Effect> effects{EfSend{Addr{1, 0}, BigChunk()}};
  for (auto _ : st) benchmark::DoNotOptimize(HashEffectsStreaming<LaneHasher>(effects));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) << 20);
}
BENCHMARK(BM_HashEffectsChunk1MiB_StreamLanes)->Unit(benchmark::kMicrosecond);

// ---- placement ----

constexpr int kNodes = 8;
constexpr double kCpus = 4;

ResourceSet NodeTotal(NodeId n) {
  ResourceSet r;
  r.SetUnits("CPU", kCpus);
  r.SetUnits("memory", 4.0 * (1 << 30));
  r.SetUnits("node:" + std::to_string(n), 1);
  return r;
}

ClusterView EightNodeView(uint64_t version) {
  ClusterView v;
  v.version = version;
  for (NodeId n = 0; n < kNodes; ++n) v.nodes.push_back(NodeView{n, Addr{n, kNodeManagerProc}, NodeTotal(n), NodeTotal(n), 0});
  return v;
}

struct PlacementRig {
  NodeManager nm;
  Prng rng{1};
  std::vector<Effect> out;
  TimeNs now = 0;
  const Addr gcs{0, kControlServiceProc};
  const Addr driver{0, kFirstUserProc};

  PlacementRig() : nm(Config()) {
    Step(gcs, EightNodeView(1));
  }
  static NodeManagerConfig Config() {
    NodeManagerConfig c;
    c.node = 0;
    c.gcs = Addr{0, kControlServiceProc};
    c.total = NodeTotal(0);
    return c;
  }
  void Step(const Addr& from, Message m) {
    out.clear();
    Context cx(++now, &rng, &out);
    nm.Step(InDeliver{from, std::move(m)}, cx);
  }
};

// Local placement: the node is under half used, so every task stays here and
// is dispatched to an idle worker, which then finishes it. One iteration is two
// steps (SubmitTask, then TaskFinished), i.e. one decision and its release.
void BM_PlaceLocalSubmitAndFinish(benchmark::State& st) {
  PlacementRig r;
  const Addr worker{0, 70};
  r.Step(worker, RegisterWorker{worker});
  uint64_t n = 0;
  for (auto _ : st) {
    TaskSpec s = SmallSpec(++n);
    TaskId t = s.task;
    r.Step(r.driver, SubmitTask{std::move(s)});
    r.Step(worker, TaskFinished{t, {}});
  }
  st.counters["decisions/s"] = benchmark::Counter(static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PlaceLocalSubmitAndFinish);

// Spillback: the local node is half used by two long-running tasks, so each
// submitted task goes to the least used of the other 7 nodes (a SubmitTask is
// sent there). Every 8 decisions a fresh ClusterView (as the control service
// sends) resets the remote nodes' availability (the node charges each spill to
// its view of the target); its cost is included, amortized over the 8.
void BM_PlaceSpillback(benchmark::State& st) {
  PlacementRig r;
  for (uint32_t w = 70; w < 72; ++w) {
    Addr worker{0, w};
    r.Step(worker, RegisterWorker{worker});
    r.Step(r.driver, SubmitTask{SmallSpec(w)});
  }
  uint64_t n = 1000, spilled = 0;
  for (auto _ : st) {
    if (n % 8 == 0) r.Step(r.gcs, EightNodeView(n));
    r.Step(r.driver, SubmitTask{SmallSpec(++n)});
    for (const auto& e : r.out)
      if (const auto* s = std::get_if<EfSend>(&e); s && s->to.node != 0) ++spilled;
  }
  if (spilled != static_cast<uint64_t>(st.iterations())) st.SkipWithError("a task was not spilled");
  st.counters["decisions/s"] = benchmark::Counter(static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PlaceSpillback);

// ---- the baton: what one hand-over costs ----
// The sim runs each simulated process on its own OS thread and hands a baton
// (std::binary_semaphore) back and forth, so only one runs at a time. One
// iteration here is a round trip loop -> process -> loop, as for a task that
// runs without blocking. The ucontext variant is the same round trip between
// two stacks on one thread (what fibers would cost instead).

void BM_BatonRoundTripThreads(benchmark::State& st) {
  std::binary_semaphore to_proc{0}, to_loop{0};
  bool stop = false;
  std::thread proc([&] {
    while (true) {
      to_proc.acquire();
      if (stop) return;
      to_loop.release();
    }
  });
  for (auto _ : st) {
    to_proc.release();
    to_loop.acquire();
  }
  stop = true;
  to_proc.release();
  proc.join();
}
BENCHMARK(BM_BatonRoundTripThreads)->UseRealTime();

ucontext_t g_loop_ctx, g_proc_ctx;
bool g_fiber_stop = false;
void FiberMain() {
  while (!g_fiber_stop) swapcontext(&g_proc_ctx, &g_loop_ctx);
}

void BM_BatonRoundTripUcontext(benchmark::State& st) {
  std::vector<char> stack(256 * 1024);
  getcontext(&g_proc_ctx);
  g_proc_ctx.uc_stack.ss_sp = stack.data();
  g_proc_ctx.uc_stack.ss_size = stack.size();
  g_proc_ctx.uc_link = &g_loop_ctx;
  makecontext(&g_proc_ctx, FiberMain, 0);
  g_fiber_stop = false;
  for (auto _ : st) swapcontext(&g_loop_ctx, &g_proc_ctx);
  g_fiber_stop = true;
  swapcontext(&g_loop_ctx, &g_proc_ctx);  // lets FiberMain return through uc_link
}
BENCHMARK(BM_BatonRoundTripUcontext)->UseRealTime();

// ---- the simulator's step rate, through the public API ----

int Tiny(int x) { return x + 1; }
DRAY_REMOTE(Tiny);

// One iteration: Init a simulated cluster, submit N tiny tasks, Get them all,
// Shutdown. steps/s is state-machine steps per wall-clock second (everything
// counted: Init, user code, baton hand-offs, Shutdown).
void SimTinyTasks(benchmark::State& st, const std::string& spec) {
  const int n = static_cast<int>(st.range(0));
  uint64_t steps = 0, messages = 0;
  double wall = 0;
  for (auto _ : st) {
    auto t0 = std::chrono::steady_clock::now();
    dray::Init(dray::Config{.sim = spec});
    std::vector<dray::ObjectRef<int>> refs;
    refs.reserve(n);
    for (int i = 0; i < n; ++i) refs.push_back(dray::Task(Tiny).Remote(i));
    auto values = dray::Get(refs);
    refs.clear();
    int64_t sum = 0;
    for (const auto& v : values) sum += *v;
    values.clear();
    dray::Shutdown();
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (sum != int64_t{n} * (n + 1) / 2) st.SkipWithError("wrong sum");
    auto s = dray::sim::LastStats();
    steps += s.steps;
    messages += s.messages;
    st.counters["virtual_s"] = static_cast<double>(s.virtual_ns) / 1e9;
  }
  double iters = static_cast<double>(st.iterations());
  st.counters["steps"] = static_cast<double>(steps) / iters;
  st.counters["messages"] = static_cast<double>(messages) / iters;
  st.counters["steps/s"] = static_cast<double>(steps) / wall;
  st.counters["tasks/s"] = static_cast<double>(n) * iters / wall;
}
BENCHMARK_CAPTURE(SimTinyTasks, nodes8, std::string("seed=1,nodes=8,cpus=4"))
    ->Arg(20000)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(SimTinyTasks, nodes8_no_invariants, std::string("seed=1,nodes=8,cpus=4,invariants=0"))
    ->Arg(20000)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// An actor for the call benchmark: each call adds to its state.
class BenchCounter {
 public:
  static BenchCounter* Create() { return new BenchCounter(); }
  int64_t Add(int64_t x) { return sum_ += x; }

 private:
  int64_t sum_ = 0;
};
DRAY_REMOTE(BenchCounter::Create, &BenchCounter::Add);

// Simulated actor calls per wall-clock second: range(1) actors, each called
// N / actors times from the driver, all in flight
// at once (async, as Ray's "1:1 actor calls async"), then every result got.
void SimActorCalls(benchmark::State& st, const std::string& spec) {
  const int n = static_cast<int>(st.range(0));
  const int actors = static_cast<int>(st.range(1));
  uint64_t steps = 0;
  double wall = 0;
  for (auto _ : st) {
    auto t0 = std::chrono::steady_clock::now();
    dray::Init(dray::Config{.sim = spec});
    std::vector<dray::ActorHandle<BenchCounter>> counters;
    for (int a = 0; a < actors; ++a) counters.push_back(dray::Actor(BenchCounter::Create).Remote());
    std::vector<dray::ObjectRef<int64_t>> refs;
    refs.reserve(n);
    for (int i = 0; i < n; ++i) refs.push_back(counters[i % actors].Task(&BenchCounter::Add).Remote(1));
    auto values = dray::Get(refs);
    int64_t last = *values.back();
    refs.clear();
    values.clear();
    counters.clear();
    dray::Shutdown();
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (last != n / actors) st.SkipWithError("wrong count");
    steps += dray::sim::LastStats().steps;
  }
  double iters = static_cast<double>(st.iterations());
  st.counters["steps/s"] = static_cast<double>(steps) / wall;
  st.counters["calls/s"] = static_cast<double>(n) * iters / wall;
}
BENCHMARK_CAPTURE(SimActorCalls, one_actor, std::string("seed=1,nodes=4,cpus=4"))
    ->Args({20000, 1})->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(SimActorCalls, eight_actors, std::string("seed=1,nodes=4,cpus=4"))
    ->Args({20000, 8})->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
