// The end-to-end benchmark of issue 5: `ray microbenchmark`'s cases on the
// embedded single-node cluster (the real runtime, docs/operations.md), plus
// this machine's own limits (loopback TCP and Unix-socket round trips, memcpy
// bandwidth) measured in the same run. Prints a table; `--json FILE` also
// writes the figures as JSON. Not a test and not Google Benchmark: workers
// are this executable re-run in worker mode, and everything before
// dray::Init runs again in each of them, so main() only parses its flags
// before Init (a worker never returns from Init).
//
//   e2e_bench [--seconds S]      time per case (default 2)
//             [--json FILE]      also write the results as JSON
//             [--large-mb N]     size of the large put/get object (default 100)
//             [--batch N]        refs per batch of the async cases (default 1000)
//             [--clients N]      client tasks of the multi-client cases (default 4)
//             [--actors N]       actors (and client tasks) of the n:n case (default 2)
//             [--wait-refs N]    refs of the wait case (default 1000)
//             [--reduce-values N] values of the tree reduce (default 1024)
//             [--cpus N]         the embedded node's CPUs (default 0: hardware threads)
//             [--only SUBSTR]    only the cases whose name contains SUBSTR
//
// Multi-client cases use tasks that submit tasks (as Ray's microbenchmark uses
// actors): the runtime's user-facing API serves one user thread per process
// (UserRuntime keeps one pending command result), so several driver threads
// are not an option.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <dray/dray.h>

namespace {

int Noop(int x) { return x; }
uint64_t BufferSize(dray::Buffer b) { return b.size(); }
int Add(int a, int b) { return a + b; }

// A task that submits `k` tiny tasks and gets them all (one client of the
// multi-client case).
int ClientTasks(int k) {
  std::vector<dray::ObjectRef<int>> refs;
  refs.reserve(static_cast<size_t>(k));
  for (int i = 0; i < k; ++i) refs.push_back(dray::Task(Noop).Remote(i));
  auto vals = dray::Get(refs);
  return static_cast<int>(vals.size());
}

class Sink {
 public:
  static Sink* Create() { return new Sink(); }
  int Call(int x) { ++n_; return x; }

 private:
  long n_ = 0;
};

// One client of the n:n case: `k` calls spread round-robin over `actors`.
int ClientActors(std::vector<dray::ActorHandle<Sink>> actors, int k) {
  std::vector<dray::ObjectRef<int>> refs;
  refs.reserve(static_cast<size_t>(k));
  for (int i = 0; i < k; ++i)
    refs.push_back(actors[static_cast<size_t>(i) % actors.size()].Task(&Sink::Call).Remote(i));
  auto vals = dray::Get(refs);
  return static_cast<int>(vals.size());
}

// A task's large return: a Buffer of `n` bytes made once per worker (so the
// case times the return path, not filling the bytes), serialized by the
// worker on every call.
dray::Buffer BigReturn(uint64_t n) {
  static dray::Buffer cached;
  if (cached.size() != n) cached = dray::Buffer(std::string(n, 'r'));
  return cached;
}

// `k` puts of `n` bytes in a task (a worker's puts, each its own store value).
int PutsInTask(int k, uint64_t n) {
  static dray::Buffer cached;
  if (cached.size() != n) cached = dray::Buffer(std::string(n, 'p'));
  std::vector<dray::ObjectRef<dray::Buffer>> refs;
  refs.reserve(static_cast<size_t>(k));
  for (int i = 0; i < k; ++i) refs.push_back(dray::Put(cached));
  return static_cast<int>(refs.size());
}

}  // namespace
DRAY_REMOTE(Noop, BufferSize, Add, ClientTasks, ClientActors, Sink::Create, &Sink::Call, BigReturn, PutsInTask);

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Params {
  double seconds = 2.0;
  std::string json;
  int large_mb = 100;
  int batch = 1000;
  int clients = 4;
  int actors = 2;
  int wait_refs = 1000;
  int reduce_values = 1024;
  int cpus = 0;
  std::string only;
};

struct Result {
  std::string name;
  std::string unit;       // what one op is
  double ops = 0;         // ops done in the timed loop
  double seconds = 0;     // wall time of the timed loop
  double value = 0;       // the headline figure
  std::string value_unit; // "ops/s", "GB/s", "us", ...
  std::string note;
};

std::vector<Result> g_results;

bool Selected(const Params& p, const std::string& name) {
  return p.only.empty() || name.find(p.only) != std::string::npos;
}

// Runs `op` (which reports how many unit operations it did) once untimed,
// then repeatedly until `seconds` have passed.
void Timed(const Params& p, const std::string& name, const std::string& unit, const std::function<double()>& op,
           const std::string& note = "") {
  if (!Selected(p, name)) return;
  op();  // warm-up (workers started, actors created, code paged in)
  double ops = 0;
  auto t0 = Clock::now();
  double el = 0;
  do {
    ops += op();
    el = Since(t0);
  } while (el < p.seconds);
  Result r{name, unit, ops, el, ops / el, "ops/s", note};
  g_results.push_back(r);
  std::printf("  %-34s %14.1f %-6s (%.0f %s in %.2f s)%s%s\n", name.c_str(), r.value, r.value_unit.c_str(), ops,
              unit.c_str(), el, note.empty() ? "" : "  ", note.c_str());
  std::fflush(stdout);
}

// ---- this machine's limits ----

void Die(const char* what) {
  std::perror(what);
  std::exit(1);
}

void WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w <= 0) Die("write");
    p += w;
    n -= static_cast<size_t>(w);
  }
}
bool ReadAll(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// A 64-byte echo between two threads of this process over `a` (client) and
// `b` (server): round trips per second.
void EchoRoundTrips(const Params& p, const std::string& name, int a, int b) {
  std::thread server([b] {
    char buf[64];
    while (ReadAll(b, buf, sizeof buf)) WriteAll(b, buf, sizeof buf);
  });
  char buf[64] = {};
  auto one = [&] {
    WriteAll(a, buf, sizeof buf);
    if (!ReadAll(a, buf, sizeof buf)) Die("read");
    return 1.0;
  };
  Timed(p, name, "round trips", one);
  ::shutdown(a, SHUT_RDWR);
  ::close(a);
  server.join();
  ::close(b);
  Result& r = g_results.back();
  r.note = "64-byte echo, two threads; " + std::to_string(1e6 / r.value).substr(0, 5) + " us per round trip";
  std::printf("    (%.2f us per round trip)\n", 1e6 / r.value);
}

void TcpLoopback(const Params& p) {
  if (!Selected(p, "machine: loopback TCP round trips")) return;
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  if (ls < 0) Die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) Die("bind");
  if (::listen(ls, 1) < 0) Die("listen");
  socklen_t len = sizeof addr;
  if (::getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len) < 0) Die("getsockname");
  int c = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) Die("connect");
  int s = ::accept(ls, nullptr, nullptr);
  if (s < 0) Die("accept");
  ::close(ls);
  int one = 1;
  ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  EchoRoundTrips(p, "machine: loopback TCP round trips", c, s);
}

void UnixPair(const Params& p) {
  if (!Selected(p, "machine: Unix socket round trips")) return;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) Die("socketpair");
  EchoRoundTrips(p, "machine: Unix socket round trips", sv[0], sv[1]);
}

// memcpy of `bytes`: cold (a fresh destination each time: page faults
// included) and warm (both buffers already faulted in and reused).
void Memcpy(const Params& p, size_t bytes) {
  std::vector<char> src(bytes, 'x');
  if (Selected(p, "machine: memcpy warm")) {
    std::vector<char> dst(bytes, 'y');
    Timed(p, "machine: memcpy warm", "copies", [&] {
      std::memcpy(dst.data(), src.data(), bytes);
      asm volatile("" ::"r"(dst.data()) : "memory");
      return 1.0;
    });
    Result& r = g_results.back();
    r.value = r.ops * static_cast<double>(bytes) / r.seconds / 1e9;
    r.value_unit = "GB/s";
    std::printf("    (%.2f GB/s)\n", r.value);
  }
  if (Selected(p, "machine: memcpy cold")) {
    Timed(p, "machine: memcpy cold", "copies", [&] {
      char* dst = static_cast<char*>(std::malloc(bytes));  // above the mmap threshold: fresh pages
      if (!dst) Die("malloc");
      std::memcpy(dst, src.data(), bytes);
      asm volatile("" ::"r"(dst) : "memory");
      std::free(dst);
      return 1.0;
    });
    Result& r = g_results.back();
    r.value = r.ops * static_cast<double>(bytes) / r.seconds / 1e9;
    r.value_unit = "GB/s";
    r.note = "fresh malloc'd destination each copy (first-touch page faults)";
    std::printf("    (%.2f GB/s)\n", r.value);
  }
}

// ---- the runtime cases ----

template <class T>
std::vector<dray::ObjectRef<T>> Reduce(std::vector<dray::ObjectRef<T>> level) {
  while (level.size() > 1) {
    std::vector<dray::ObjectRef<T>> next;
    next.reserve((level.size() + 1) / 2);
    for (size_t i = 0; i + 1 < level.size(); i += 2) next.push_back(dray::Task(Add).Remote(level[i], level[i + 1]));
    if (level.size() % 2) next.push_back(level.back());
    level = std::move(next);
  }
  return level;
}

void RunCases(const Params& p) {
  const int batch = p.batch;
  auto submit_batch = [&](int n) {
    std::vector<dray::ObjectRef<int>> refs;
    refs.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) refs.push_back(dray::Task(Noop).Remote(i));
    return refs;
  };

  Timed(p, "single client tasks sync", "tasks", [&] {
    int v = *dray::Get(dray::Task(Noop).Remote(1));
    if (v != 1) Die("wrong task result");
    return 1.0;
  });

  // The async cases also time their submission loops: Submit blocks until
  // the loop thread has stepped the command (it returns the new ref).
  double submit_s = 0;
  bool warm = false;  // the first call of a case is Timed's untimed warm-up
  auto submit_share = [&] {
    if (g_results.empty()) return;
    Result& r = g_results.back();
    double share = 100.0 * submit_s / r.seconds;
    char b[96];
    std::snprintf(b, sizeof b, "; submitting %.0f%% of the time (%.2f us per submit)", share,
                  1e6 * submit_s / r.ops);
    r.note += b;
    std::printf("    (%s)\n", b + 2);
  };
  submit_s = 0;
  warm = false;
  Timed(p, "single client tasks async", "tasks", [&] {
    auto t0 = Clock::now();
    auto refs = submit_batch(batch);
    if (warm) submit_s += Since(t0);
    warm = true;
    auto vals = dray::Get(refs);
    return static_cast<double>(vals.size());
  }, "batches of " + std::to_string(batch));
  if (Selected(p, "single client tasks async")) submit_share();

  Timed(p, "multi client tasks async", "tasks", [&] {
    std::vector<dray::ObjectRef<int>> clients;
    for (int c = 0; c < p.clients; ++c) clients.push_back(dray::Task(ClientTasks).Remote(batch));
    double n = 0;
    for (auto& v : dray::Get(clients)) n += *v;
    return n;
  }, std::to_string(p.clients) + " client tasks x " + std::to_string(batch) + " tasks each");

  if (Selected(p, "1:1 actor calls sync") || Selected(p, "1:1 actor calls async") ||
      Selected(p, "n:n actor calls async")) {
    auto a = dray::Actor(Sink::Create).Remote();
    Timed(p, "1:1 actor calls sync", "calls", [&] {
      int v = *dray::Get(a.Task(&Sink::Call).Remote(1));
      if (v != 1) Die("wrong call result");
      return 1.0;
    });
    submit_s = 0;
    warm = false;
    Timed(p, "1:1 actor calls async", "calls", [&] {
      std::vector<dray::ObjectRef<int>> refs;
      refs.reserve(static_cast<size_t>(batch));
      auto t0 = Clock::now();
      for (int i = 0; i < batch; ++i) refs.push_back(a.Task(&Sink::Call).Remote(i));
      if (warm) submit_s += Since(t0);
      warm = true;
      return static_cast<double>(dray::Get(refs).size());
    }, "batches of " + std::to_string(batch));
    if (Selected(p, "1:1 actor calls async")) submit_share();

    std::vector<dray::ActorHandle<Sink>> actors;
    for (int i = 0; i < p.actors; ++i) actors.push_back(dray::Actor(Sink::Create).Remote());
    Timed(p, "n:n actor calls async", "calls", [&] {
      std::vector<dray::ObjectRef<int>> clients;
      for (int c = 0; c < p.actors; ++c) clients.push_back(dray::Task(ClientActors).Remote(actors, batch));
      double n = 0;
      for (auto& v : dray::Get(clients)) n += *v;
      return n;
    }, std::to_string(p.actors) + " actors, " + std::to_string(p.actors) + " client tasks x " +
           std::to_string(batch) + " calls round-robin");
  }

  Timed(p, "single client put calls", "puts", [&] {
    std::vector<dray::ObjectRef<int>> refs;
    refs.reserve(static_cast<size_t>(batch));
    for (int i = 0; i < batch; ++i) refs.push_back(dray::Put(i));
    return static_cast<double>(refs.size());
  }, "small int; refs dropped every " + std::to_string(batch));

  if (Selected(p, "single client get calls")) {
    auto small = dray::Put(7);
    Timed(p, "single client get calls", "gets", [&] {
      if (*dray::Get(small) != 7) Die("wrong get result");
      return 1.0;
    }, "small int");
  }

  const size_t big_bytes = static_cast<size_t>(p.large_mb) << 20;
  // The last result, if it is `name`, as GB/s of `big_bytes` per op.
  auto as_gbps = [&](const char* name) {
    if (g_results.empty() || g_results.back().name != name) return;
    Result& r = g_results.back();
    r.value = r.ops * static_cast<double>(big_bytes) / r.seconds / 1e9;
    r.value_unit = "GB/s";
    std::printf("    (%.2f GB/s)\n", r.value);
  };
  bool any_large = false;
  for (const char* n : {"large: serialize only", "large put", "large get", "large put (Buffer)", "large get (Buffer)",
                        "large get in a task (Buffer)", "large: deserialize only", "large return from a task"})
    any_large = any_large || Selected(p, n);
  if (any_large) {
    std::string big(big_bytes, 'z');
    std::string mb = std::to_string(p.large_mb) + " MiB";
    // What serialization alone costs (msgpack into an allocation of the
    // value's size: the one copy every Put makes).
    Timed(p, "large: serialize only", "values", [&] {
      auto v = dray::internal::Serialize(big);
      asm volatile("" ::"r"(v.data.data()) : "memory");
      return 1.0;
    }, mb + " std::string, no runtime");
    as_gbps("large: serialize only");
    Timed(p, "large put", "puts", [&] {
      auto ref = dray::Put(big);
      asm volatile("" ::"r"(&ref) : "memory");
      return 1.0;
    }, mb + " std::string");
    as_gbps("large put");
    auto ref = dray::Put(big);
    Timed(p, "large get", "gets", [&] {
      auto v = dray::Get(ref);
      if (v->size() != big_bytes) Die("wrong large get size");
      return 1.0;
    }, mb + " std::string (a copy out of the store)");
    as_gbps("large get");
    dray::Buffer buf(big);
    Timed(p, "large put (Buffer)", "puts", [&] {
      auto r = dray::Put(buf);
      asm volatile("" ::"r"(&r) : "memory");
      return 1.0;
    }, mb + " dray::Buffer");
    as_gbps("large put (Buffer)");
    auto bref = dray::Put(buf);
    Timed(p, "large get (Buffer)", "gets", [&] {
      auto v = dray::Get(bref);
      if (v->size() != big_bytes) Die("wrong large get size");
      return 1.0;
    }, mb + " dray::Buffer (in place: the time does not grow with the size)");
    as_gbps("large get (Buffer)");
    Timed(p, "large get in a task (Buffer)", "tasks", [&] {
      if (*dray::Get(dray::Task(BufferSize).Remote(bref)) != big_bytes) Die("wrong size in the task");
      return 1.0;
    }, mb + " dray::Buffer argument read by a worker from the node's shared memory");
    as_gbps("large get in a task (Buffer)");
    Timed(p, "large return from a task (Buffer)", "tasks", [&] {
      auto v = dray::Get(dray::Task(BigReturn).Remote(static_cast<uint64_t>(big_bytes)));
      if (v->size() != big_bytes) Die("wrong large return size");
      return 1.0;
    }, mb + " dray::Buffer returned by a worker, read in place by the driver");
    as_gbps("large return from a task (Buffer)");
    dray::internal::ValueData vd = dray::internal::Serialize(big);
    Timed(p, "large: deserialize only", "values", [&] {
      auto v = dray::internal::Deserialize<std::string>(vd);
      if (v->size() != big_bytes) Die("wrong deserialize size");
      return 1.0;
    }, mb + " std::string, no runtime");
    as_gbps("large: deserialize only");
  }

  for (uint64_t kib : {64, 128, 1024}) {
    const std::string name = "puts of " + std::to_string(kib) + " KiB in a task";
    const int k = kib >= 1024 ? 50 : 200;
    Timed(p, name, "puts", [&] {
      return static_cast<double>(*dray::Get(dray::Task(PutsInTask).Remote(k, kib << 10)));
    }, std::to_string(k) + " dray::Put of a Buffer by one worker per task");
    if (!g_results.empty() && g_results.back().name == name) {
      Result& r = g_results.back();
      r.value = r.ops * static_cast<double>(kib << 10) / r.seconds / 1e9;
      r.value_unit = "GB/s";
      std::printf("    (%.2f GB/s, %.0f puts/s)\n", r.value, r.ops / r.seconds);
    }
  }

  Timed(p, "single client wait 1k refs", "waits of all refs", [&] {
    auto not_ready = submit_batch(p.wait_refs);
    // As Ray's case: Wait for one at a time until none is left.
    while (!not_ready.empty()) not_ready = dray::Wait(not_ready, 1).unready;
    return 1.0;
  }, std::to_string(p.wait_refs) + " tasks, then Wait(num_returns=1) until all are ready");

  Timed(p, "tree reduce", "reductions", [&] {
    std::vector<dray::ObjectRef<int>> leaves;
    leaves.reserve(static_cast<size_t>(p.reduce_values));
    for (int i = 0; i < p.reduce_values; ++i) leaves.push_back(dray::Put(1));
    auto root = Reduce(std::move(leaves));
    if (*dray::Get(root[0]) != p.reduce_values) Die("wrong reduce result");
    return 1.0;
  }, std::to_string(p.reduce_values) + " put values, pairwise Add tasks (" + std::to_string(p.reduce_values - 1) +
         " tasks)");
}

// ---- output ----

std::string JsonString(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += c;
    }
  }
  return o + "\"";
}

std::string LoadAvg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      auto c = line.find(':');
      return c == std::string::npos ? line : line.substr(c + 2);
    }
  return "unknown";
}

void WriteJson(const Params& p, const std::string& load_before, const std::string& load_after) {
  std::ofstream f(p.json);
  if (!f) {
    std::fprintf(stderr, "e2e_bench: cannot write %s\n", p.json.c_str());
    std::exit(1);
  }
  f << "{\n  \"benchmark\": \"e2e_bench\",\n";
  f << "  \"machine\": {\"cpus\": " << std::thread::hardware_concurrency() << ", \"model\": " << JsonString(CpuModel())
    << "},\n";
  f << "  \"load_average_before\": " << JsonString(load_before) << ",\n";
  f << "  \"load_average_after\": " << JsonString(load_after) << ",\n";
  f << "  \"params\": {\"seconds\": " << p.seconds << ", \"large_mb\": " << p.large_mb << ", \"batch\": " << p.batch
    << ", \"clients\": " << p.clients << ", \"actors\": " << p.actors << ", \"wait_refs\": " << p.wait_refs
    << ", \"reduce_values\": " << p.reduce_values << ", \"cpus\": " << p.cpus << "},\n";
  f << "  \"results\": [\n";
  for (size_t i = 0; i < g_results.size(); ++i) {
    const Result& r = g_results[i];
    char num[64];
    std::snprintf(num, sizeof num, "%.6g", r.value);
    f << "    {\"name\": " << JsonString(r.name) << ", \"value\": " << num << ", \"value_unit\": "
      << JsonString(r.value_unit) << ", \"ops\": " << r.ops << ", \"seconds\": " << r.seconds
      << ", \"unit\": " << JsonString(r.unit) << ", \"note\": " << JsonString(r.note) << "}"
      << (i + 1 < g_results.size() ? "," : "") << "\n";
  }
  f << "  ]\n}\n";
}

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: e2e_bench [--seconds S] [--json FILE] [--large-mb N] [--batch N] [--clients N] "
               "[--actors N] [--wait-refs N] [--reduce-values N] [--cpus N] [--only SUBSTR]\n");
  std::exit(2);
}

Params Parse(int argc, char** argv) {
  Params p;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (a == "--seconds") p.seconds = std::stod(next());
    else if (a == "--json") p.json = next();
    else if (a == "--large-mb") p.large_mb = std::stoi(next());
    else if (a == "--batch") p.batch = std::stoi(next());
    else if (a == "--clients") p.clients = std::stoi(next());
    else if (a == "--actors") p.actors = std::stoi(next());
    else if (a == "--wait-refs") p.wait_refs = std::stoi(next());
    else if (a == "--reduce-values") p.reduce_values = std::stoi(next());
    else if (a == "--cpus") p.cpus = std::stoi(next());
    else if (a == "--only") p.only = next();
    else Usage();
  }
  if (p.seconds < 0 || p.large_mb < 1 || p.batch < 1 || p.clients < 1 || p.actors < 1 || p.wait_refs < 1 ||
      p.reduce_values < 1)
    Usage();
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  // Runs again in every worker: keep it to parsing.
  Params p = Parse(argc, argv);
  dray::Config config;
  config.num_cpus = p.cpus;
  // A store room for a few large objects, faulted in ahead (as Ray's
  // preallocated plasma memory): a large put writes into touched memory.
  config.object_store_memory = std::max<uint64_t>(1ull << 30, (static_cast<uint64_t>(p.large_mb) << 20) * 6);
  config.prefault_object_store = true;
  dray::Init(config);  // a worker never returns from here

  std::string load_before = LoadAvg();
  std::printf("e2e_bench: %u hardware threads (%s), %.2f s per case, load average %s\n",
              std::thread::hardware_concurrency(), CpuModel().c_str(), p.seconds, load_before.c_str());
  std::printf("== this machine\n");
  TcpLoopback(p);
  UnixPair(p);
  Memcpy(p, static_cast<size_t>(p.large_mb) << 20);

  std::printf("== dray, embedded cluster\n");
  {
    // Start the workers the cases will use, outside any timed loop.
    std::vector<dray::ObjectRef<int>> warm;
    for (int i = 0; i < 8; ++i) warm.push_back(dray::Task(Noop).Remote(i));
    dray::Get(warm);
  }
  RunCases(p);
  std::string load_after = LoadAvg();
  std::printf("load average after: %s\n", load_after.c_str());
  dray::Shutdown();
  if (!p.json.empty()) WriteJson(p, load_before, load_after);
  return 0;
}
