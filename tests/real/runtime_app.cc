// A program for the real runtime's multi-process tests (runtime_test.cc). Run
// as `runtime_app MODE [ARG]`; it prints what it saw and exits 0 when it saw
// what it should:
//   cleanup      tasks on several workers, then Shutdown: no child process,
//                no socket or temp file of the cluster is left behind
//   kill9 MARK   a worker is killed with SIGKILL mid-task (its pid is in the
//                file MARK); the task is retried and the right result comes back
//   actor-kill9 MARK  an actor's worker is killed with SIGKILL mid-call: the
//                actor restarts in a new process, the call is retried there
//   join ADDR    joins the cluster at ADDR with Init({.address}): tasks run on
//                several nodes (each says which); Shutdown, then join again
//   survive ADDR joins ADDR and runs 48 slow tasks and a tree reduce over
//                them (retried without limit): the test kills a node mid-run
//   demand ADDR COMMAND   joins, submits a task no node fits (CPU: 64), runs
//                COMMAND (`dray status ...`) while it waits, then leaves
//   exe ADDR     joins ADDR, runs a task needing resource "coded": prints the
//                worker's executable (a node started with --code-path)
//   oneway       thousands of one-way Submits with Puts, actor calls behind
//                slow ones, tasks computing while their children wait
//   worker-store a worker's large return and put are written into the store
//                and handed over in place (the hub's counters say so)
//   grant-kill MARK  a worker dies holding store grants: nothing leaks
//   spill        a 1 MiB object store and 300 KiB values: objects are spilled
//                to <cluster dir>/spill and restored for Gets and task
//                arguments; Shutdown removes the spill files
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <dray/dray.h>

#include "real/host.h"  // the hub's store counters

namespace {

int Square(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return x * x;
}

// The first attempt records its pid in `mark` and sleeps (until killed);
// the retry finds the mark and returns at once.
int SquareOnceKilled(std::string mark, int x) {
  if (!std::filesystem::exists(mark)) {
    {
      std::ofstream f(mark + ".tmp");
      f << getpid() << "\n";
    }
    std::filesystem::rename(mark + ".tmp", mark);
    std::this_thread::sleep_for(std::chrono::seconds(60));
  }
  return x * x;
}

// The node of the worker running this (DRAY_WORKER=<node>,<proc>,...).
int WhichNode(int i) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const char* w = std::getenv("DRAY_WORKER");
  (void)i;
  return w ? std::atoi(w) : -1;
}

int SlowSquare(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  return x * x;
}

int AddTwo(int a, int b) {
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return a + b;
}

// Whether [p, p + n) lies in a mapping of the node's shared-memory store
// (/proc/self/maps names it "/memfd:dray-object-store").
bool InStoreMapping(const void* p, size_t n) {
  std::ifstream maps("/proc/self/maps");
  auto a = reinterpret_cast<uintptr_t>(p);
  for (std::string line; std::getline(maps, line);) {
    if (line.find("dray-object-store") == std::string::npos) continue;
    uintptr_t lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2 && a >= lo && a + n <= hi) return true;
  }
  return false;
}

// A task reading a large Buffer: its checksum, and whether it read the
// bytes in place (in the store's mapping) rather than a copy.
std::pair<uint64_t, bool> ReadBig(dray::Buffer b) {
  uint64_t sum = 0;
  for (size_t i = 0; i < b.size(); i += 4096) sum += b[i];
  return {sum, InStoreMapping(b.data(), b.size())};
}

int QuickSquare(int x) { return x * x; }

// A task making a large Buffer (returned through the store).
dray::Buffer MakeBig(int mb) { return dray::Buffer(std::string(static_cast<size_t>(mb) << 20, 'w')); }

// 300 KiB, its content drawn from i (above the 100 KiB inline limit: stored).
std::string BigValue(int i) {
  std::string s(300 * 1024, static_cast<char>('a' + i % 26));
  s[0] = static_cast<char>(i);
  return s;
}
// Checks a big value that reaches it as an argument (restored if spilled).
int CheckBig(std::string s, int i) { return s == BigValue(i) ? 1 : 0; }

int Plus(int a, int b) { return a + b; }

// The executable this worker runs (readlink /proc/self/exe).
std::string WorkerExe(int) {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

// Busy for `ms` without calling dray (a worker's loop thread takes over the
// loop meanwhile: real/loop_baton.h).
int Spin(int ms, int x) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  volatile uint64_t n = 0;
  while (std::chrono::steady_clock::now() < until) n = n + 1;
  return x;
}
// Submits its children, computes with them still unstepped, then gets them.
int SpinThenSum(int n) {
  std::vector<dray::ObjectRef<int>> kids;
  for (int i = 0; i < n; ++i) kids.push_back(dray::Task(Plus).Remote(i, 1));
  Spin(20, 0);
  int sum = 0;
  for (auto& v : dray::Get(kids)) sum += *v;
  return sum;
}

// An actor whose first call of its first incarnation records the worker's
// pid in `mark` and hangs (until the test kills it); later calls return.
class Victim {
 public:
  static Victim* Create(std::string mark) { return new Victim(std::move(mark)); }
  explicit Victim(std::string mark) : mark_(std::move(mark)) {}
  int Call(int x) {
    ++calls_;
    if (!std::filesystem::exists(mark_)) {
      {
        std::ofstream f(mark_ + ".tmp");
        f << getpid() << "\n";
      }
      std::filesystem::rename(mark_ + ".tmp", mark_);
      std::this_thread::sleep_for(std::chrono::seconds(60));
    }
    return x * 10;
  }
  int Pid() { return getpid(); }
  int Calls() { return calls_; }

 private:
  std::string mark_;
  int calls_ = 0;
};

class Tally {
 public:
  static Tally* Create() { return new Tally(); }
  int Add(int x) {
    total_ += x;
    return total_;
  }
  int SlowAdd(int x) { return Add(Spin(15, x)); }

 private:
  int total_ = 0;
};

// A worker's large put, read back in the worker: its size.
uint64_t PutInTask(int mb) {
  auto ref = dray::Put(dray::Buffer(std::string(static_cast<size_t>(mb) << 20, 'p')));
  return dray::Get(ref)->size();
}

// The first attempt holds store ranges when it dies: one granted and never
// handed over (a value serialized and kept), one handed over and still read
// (a put); it records its pid in `mark` and kills itself. The retry finds
// the mark and returns at once.
int DieHoldingGrants(std::string mark) {
  if (std::filesystem::exists(mark)) return 1;
  dray::internal::ValueData held = dray::internal::Serialize(dray::Buffer(std::string(3 << 20, 'h')));
  auto put = dray::Put(dray::Buffer(std::string(5 << 20, 'q')));
  {
    std::ofstream f(mark + ".tmp");
    f << getpid() << "\n";
  }
  std::filesystem::rename(mark + ".tmp", mark);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the put handed over
  asm volatile("" ::"r"(held.data.data()), "r"(&put) : "memory");
  kill(getpid(), SIGKILL);
  return 0;
}

}  // namespace
DRAY_REMOTE(Square, SquareOnceKilled, WhichNode, SlowSquare, AddTwo, ReadBig, MakeBig, QuickSquare, BigValue,
            CheckBig, Plus, Spin, SpinThenSum, Tally::Create, &Tally::Add, &Tally::SlowAdd, PutInTask,
            DieHoldingGrants, WorkerExe, Victim::Create, &Victim::Call, &Victim::Pid,
            &Victim::Calls);

namespace {

// Live children of this process (from /proc: ppid == our pid).
std::vector<int> Children() {
  std::vector<int> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream f("/proc/" + std::string(e->d_name) + "/stat");
    std::string line;
    std::getline(f, line);
    size_t rp = line.rfind(')');
    if (rp == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(line.c_str() + rp + 1, " %c %d", &state, &ppid) == 2 && ppid == getpid()) out.push_back(pid);
  }
  closedir(d);
  return out;
}

// This process's cluster directories (/tmp/dray-<pid>-<n>).
std::vector<std::string> ClusterDirs() {
  std::vector<std::string> out;
  const char* base = std::getenv("TMPDIR");
  std::string root = base && *base ? base : "/tmp";
  std::string prefix = "dray-" + std::to_string(getpid()) + "-";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root, ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().string());
  return out;
}

int Cleanup() {
  dray::Init(dray::Config{.num_cpus = 4});
  std::vector<dray::ObjectRef<int>> refs;
  for (int i = 0; i < 8; ++i) refs.push_back(dray::Task(Square).Remote(i));
  int sum = 0;
  for (const auto& v : dray::Get(refs)) sum += *v;
  std::vector<int> kids = Children();
  std::vector<std::string> dirs = ClusterDirs();
  std::printf("sum = %d, workers while running = %zu, cluster dirs = %zu\n", sum, kids.size(), dirs.size());
  bool socket_there = !dirs.empty() && std::filesystem::exists(dirs[0] + "/node.sock");
  dray::Shutdown();
  std::vector<int> left = Children();
  std::vector<std::string> dirs_left = ClusterDirs();
  std::printf("after Shutdown: children = %zu, cluster dirs = %zu\n", left.size(), dirs_left.size());
  bool ok = sum == 140 && !kids.empty() && dirs.size() == 1 && socket_there && left.empty() && dirs_left.empty();
  // A second cluster in the same process starts and stops as cleanly.
  dray::Init();
  int again = *dray::Get(dray::Task(Square).Remote(12));
  dray::Shutdown();
  ok = ok && again == 144 && Children().empty() && ClusterDirs().empty();
  std::printf("second cluster: %d; %s\n", again, ok ? "clean" : "NOT CLEAN");
  return ok ? 0 : 1;
}

int Spill() {
  dray::Init(dray::Config{.num_cpus = 2, .object_store_memory = 1 << 20});
  std::vector<dray::ObjectRef<std::string>> big;
  for (int i = 0; i < 12; ++i) big.push_back(dray::Task(BigValue).Remote(i));
  dray::ObjectRef<std::string> put = dray::Put(BigValue(99));
  int good = 0;
  for (int i = 0; i < 12; ++i) good += *dray::Get(big[i]) == BigValue(i) ? 1 : 0;
  std::vector<dray::ObjectRef<int>> checks;
  for (int i = 0; i < 12; ++i) checks.push_back(dray::Task(CheckBig).Remote(big[i], i));
  for (const auto& c : dray::Get(checks)) good += *c;
  good += *dray::Get(put) == BigValue(99) ? 1 : 0;
  std::vector<std::string> dirs = ClusterDirs();
  size_t files = 0;
  std::error_code ec;
  if (dirs.size() == 1)
    for (const auto& e : std::filesystem::directory_iterator(dirs[0] + "/spill", ec)) files += e.is_regular_file() ? 1 : 0;
  std::printf("good = %d of 25, spill files while running = %zu\n", good, files);
  big.clear();
  checks.clear();
  dray::Shutdown();
  bool ok = good == 25 && files > 0 && ClusterDirs().empty() && Children().empty();
  std::printf("after Shutdown: cluster dirs = %zu; %s\n", ClusterDirs().size(), ok ? "clean" : "NOT CLEAN");
  return ok ? 0 : 1;
}

int Kill9(const std::string& mark) {
  // Workers run this program's main too, up to Init (which never returns in
  // them): side effects belong after Init.
  dray::Init(dray::Config{.num_cpus = 2});
  std::filesystem::remove(mark);
  auto start = std::chrono::steady_clock::now();
  dray::ObjectRef<int> r = dray::Task(SquareOnceKilled).Remote(mark, 7);
  int pid = 0;
  for (int i = 0; i < 400 && pid == 0; ++i) {
    std::ifstream f(mark);
    if (!(f >> pid)) pid = 0;
    if (pid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (pid == 0) {
    std::printf("the task never started\n");
    return 1;
  }
  std::printf("killing worker pid %d with SIGKILL\n", pid);
  kill(pid, SIGKILL);
  int v = *dray::Get(r, std::chrono::seconds(30));
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  dray::Shutdown();
  std::filesystem::remove(mark);
  std::printf("result = %d after %.2f s\n", v, s);
  return v == 49 ? 0 : 1;
}

// An actor (restarts and call retries without limit) whose worker is killed
// with SIGKILL in the middle of a call: the actor restarts in a new worker
// process (its state anew, as in Ray), the call is retried there, and the
// calls after it run there in order.
int ActorKill9(const std::string& mark) {
  dray::Init(dray::Config{.num_cpus = 2});
  std::filesystem::remove(mark);
  auto a = dray::Actor(Victim::Create).SetMaxRestarts(-1).SetMaxTaskRetries(-1).Remote(mark);
  int first_pid = *dray::Get(a.Task(&Victim::Pid).Remote());
  auto hung = a.Task(&Victim::Call).Remote(4);
  std::vector<dray::ObjectRef<int>> after;
  for (int i = 0; i < 5; ++i) after.push_back(a.Task(&Victim::Call).Remote(i));
  int pid = 0;
  for (int i = 0; i < 400 && pid == 0; ++i) {
    std::ifstream f(mark);
    if (!(f >> pid)) pid = 0;
    if (pid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (pid != first_pid) {
    std::printf("the call never started in the actor's worker (mark pid %d, actor pid %d)\n", pid, first_pid);
    return 1;
  }
  std::printf("killing the actor's worker pid %d with SIGKILL\n", pid);
  kill(pid, SIGKILL);
  int v = *dray::Get(hung, std::chrono::seconds(30));
  bool ok = v == 40;
  for (int i = 0; i < 5; ++i) ok = ok && *dray::Get(after[i], std::chrono::seconds(30)) == i * 10;
  int new_pid = *dray::Get(a.Task(&Victim::Pid).Remote());
  int calls = *dray::Get(a.Task(&Victim::Calls).Remote());
  dray::Shutdown();
  std::filesystem::remove(mark);
  std::printf("retried call = %d; new worker %d (was %d); calls in the new incarnation = %d\n", v, new_pid, pid,
              calls);
  ok = ok && new_pid != pid && calls == 6;
  std::printf(ok ? "actor restarted\n" : "actor restart WRONG\n");
  return ok ? 0 : 1;
}

int Join(const std::string& address) {
  bool ok = true;
  for (int round = 0; round < 2; ++round) {
    dray::Init(dray::Config{.address = address});
    std::vector<dray::ObjectRef<int>> refs;
    for (int i = 0; i < 12; ++i) refs.push_back(dray::Task(WhichNode).Remote(i));
    std::set<int> nodes;
    for (const auto& v : dray::Get(refs)) nodes.insert(*v);
    int sq = *dray::Get(dray::Task(Square).Remote(9));
    dray::Shutdown();
    std::printf("round %d: nodes used:", round);
    for (int n : nodes) std::printf(" %d", n);
    std::printf("; square = %d\n", sq);
    ok = ok && nodes.size() >= 2 && !nodes.count(-1) && sq == 81;
  }
  std::printf("%s\n", ok ? "joined ok" : "JOIN FAILED");
  return ok ? 0 : 1;
}

int Survive(const std::string& address) {
  dray::Init(dray::Config{.address = address});
  std::vector<dray::ObjectRef<int>> level;
  for (int i = 0; i < 48; ++i) level.push_back(dray::Task(SlowSquare).SetMaxRetries(-1).Remote(i));
  std::printf("submitted\n");
  std::fflush(stdout);
  while (level.size() > 1) {
    std::vector<dray::ObjectRef<int>> next;
    for (size_t i = 0; i + 1 < level.size(); i += 2)
      next.push_back(dray::Task(AddTwo).SetMaxRetries(-1).Remote(level[i], level[i + 1]));
    if (level.size() % 2) next.push_back(level.back());
    level = std::move(next);
  }
  int sum = *dray::Get(level[0]);
  dray::Shutdown();
  int want = 0;
  for (int i = 0; i < 48; ++i) want += i * i;
  std::printf("sum = %d (expected %d): %s\n", sum, want, sum == want ? "survived" : "WRONG");
  return sum == want ? 0 : 1;
}

int Demand(const std::string& address, const std::string& command) {
  dray::Init(dray::Config{.address = address});
  auto ref = dray::Task(Square).SetResource("CPU", 64).Remote(3);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::fflush(stdout);
  int rc = std::system(command.c_str());
  dray::Shutdown();
  std::printf("status exit %d\n", rc);
  return rc == 0 ? 0 : 1;
}

}  // namespace

// The shared-memory store: a driver's large put is read in place by a
// worker and by the driver itself; a worker's large return too; nothing is
// lent once the refs are gone.
int Store() {
  dray::Init(dray::Config{.num_cpus = 2, .object_store_memory = 256ull << 20});
  int bad = 0;
  auto check = [&](bool ok, const char* what) {
    std::printf("%s: %s\n", what, ok ? "yes" : "NO");
    if (!ok) ++bad;
  };
  std::string bytes(32 << 20, 'a');
  for (size_t i = 0; i < bytes.size(); i += 4096) bytes[i] = static_cast<char>(i / 4096);
  uint64_t want = 0;
  for (size_t i = 0; i < bytes.size(); i += 4096) want += static_cast<uint8_t>(bytes[i]);
  auto ref = dray::Put(dray::Buffer(bytes));
  auto a = dray::Get(ref);
  auto b = dray::Get(ref);
  check(a->size() == bytes.size() && a->view() == bytes, "driver reads its put back");
  check(a->SharesMemoryWith(*b), "two Gets share one copy");
  check(InStoreMapping(a->data(), a->size()), "the driver's put lives in the store");
  for (int round = 0; round < 3; ++round) {
    auto r = dray::Get(dray::Task(ReadBig).Remote(ref));
    check(r->first == want, "a worker reads the right bytes");
    check(r->second, "a worker reads them in place");
  }
  auto made = dray::Task(MakeBig).Remote(16);
  auto m = dray::Get(made);
  check(m->size() == (16u << 20) && (*m)[12345] == 'w', "a worker's large return arrives");
  check(InStoreMapping(m->data(), m->size()), "... into the store");
  auto r2 = dray::Get(dray::Task(ReadBig).Remote(made));
  check(r2->second, "another worker reads it in place");
  // Gets answered from the values the driver already has (its puts, its
  // finished Gets) are the same values; refs dropped and made anew too.
  for (int i = 0; i < 300; ++i) {
    auto small = dray::Put(i);
    auto sq = dray::Task(QuickSquare).Remote(small);
    if (*dray::Get(small) != i || *dray::Get(small) != i || *dray::Get(sq) != i * i || *dray::Get(sq) != i * i) {
      check(false, "known values");
      break;
    }
    if (i % 100 == 0) check(true, "known values");
  }
  std::vector<dray::ObjectRef<int>> many;
  for (int i = 0; i < 5000; ++i) many.push_back(dray::Put(i * 3));  // past the bound of remembered values
  bool all = true;
  for (int i = 0; i < 5000; ++i) all = all && *dray::Get(many[i]) == i * 3;
  check(all, "known values past the bound");
  dray::Shutdown();
  std::printf(bad == 0 ? "store ok\n" : "store FAILED\n");
  return bad == 0 ? 0 : 1;
}

// One-way Submits (the user thread names its tasks) mixed with Puts, Gets
// and actor creation; tasks that compute while their children wait to be
// stepped; actor calls queued behind slow ones (a worker's loop moves
// between its two threads: real/loop_baton.h). Every value is checked.
int OneWay() {
  dray::Init(dray::Config{.num_cpus = 2});
  int bad = 0;
  auto check = [&](bool ok, const std::string& what) {
    std::printf("%s: %s\n", what.c_str(), ok ? "ok" : "WRONG");
    if (!ok) ++bad;
  };
  for (int round = 0; round < 4; ++round) {
    std::vector<dray::ObjectRef<int>> refs;
    for (int i = 0; i < 2000; ++i) refs.push_back(dray::Task(Plus).Remote(round * 10000 + i, dray::Put(i)));
    auto vals = dray::Get(refs);
    bool ok = vals.size() == 2000;
    for (int i = 0; ok && i < 2000; ++i) ok = *vals[i] == round * 10000 + 2 * i;
    check(ok, "round " + std::to_string(round) + ": 2000 tasks");
    auto tally = dray::Actor(Tally::Create).Remote();
    std::vector<dray::ObjectRef<int>> calls;
    for (int i = 1; i <= 200; ++i)
      calls.push_back(i % 50 == 0 ? tally.Task(&Tally::SlowAdd).Remote(i) : tally.Task(&Tally::Add).Remote(i));
    auto sums = dray::Get(calls);
    ok = true;
    for (int i = 1; i <= 200; ++i) ok = ok && *sums[i - 1] == i * (i + 1) / 2;
    check(ok, "round " + std::to_string(round) + ": 200 actor calls in order");
  }
  std::vector<dray::ObjectRef<int>> spins;
  for (int i = 0; i < 6; ++i) spins.push_back(dray::Task(SpinThenSum).Remote(40));
  bool ok = true;
  for (auto& v : dray::Get(spins)) ok = ok && *v == 40 * 41 / 2;  // the sum of i + 1
  check(ok, "tasks that compute while their children wait");
  dray::Shutdown();
  std::printf(bad == 0 ? "oneway ok\n" : "oneway FAILED\n");
  return bad == 0 ? 0 : 1;
}

// Polls the hub's store until `ok` holds (up to 10 s).
template <class F>
bool StoreSettles(F ok, dray::real::StoreCounters* c) {
  for (int i = 0; i < 200; ++i) {
    if (dray::real::CurrentStoreCounters(c) && ok(*c)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// A worker writes its large values (a task's return, a put) straight into
// the node's store, in ranges the hub grants; the hub takes them over
// without a copy, and every grant and loan comes back.
int WorkerStore() {
  dray::Init(dray::Config{.num_cpus = 2, .object_store_memory = 256ull << 20});
  int bad = 0;
  auto check = [&](bool ok, const std::string& what) {
    std::printf("%s: %s\n", what.c_str(), ok ? "yes" : "NO");
    if (!ok) ++bad;
  };
  dray::Get(dray::Task(QuickSquare).Remote(3));  // a worker up
  dray::real::StoreCounters c0, c1, c2;
  check(dray::real::CurrentStoreCounters(&c0), "the driver's process has the store");
  auto m = dray::Get(dray::Task(MakeBig).Remote(16));
  check(dray::real::CurrentStoreCounters(&c1), "counters");
  check(m->size() == (16u << 20) && (*m)[12345] == 'w', "a worker's large return arrives");
  check(InStoreMapping(m->data(), m->size()), "... in the store");
  check(c1.handed_over - c0.handed_over == 1, "... handed over in place (" +
                                                   std::to_string(c1.handed_over - c0.handed_over) + " range)");
  // Every store allocation made meanwhile was a grant: the hub did not read
  // the value from the socket into a new one.
  check(c1.allocations_total - c0.allocations_total == c1.grants - c0.grants,
        "no store allocation but the grants (" + std::to_string(c1.allocations_total - c0.allocations_total) +
            " allocations, " + std::to_string(c1.grants - c0.grants) + " grants)");
  auto r = dray::Get(dray::Task(ReadBig).Remote(dray::Put(*m)));
  check(r->second, "another worker reads a value in place");
  check(*dray::Get(dray::Task(PutInTask).Remote(8)) == (8u << 20), "a worker's large put, read back");
  check(dray::real::CurrentStoreCounters(&c2) && c2.handed_over - c1.handed_over >= 1, "... handed over in place");
  m = {};
  bool settled = StoreSettles([](const dray::real::StoreCounters& c) { return c.granted == 0 && c.lent == 0; }, &c2);
  check(settled, "every grant and loan came back (granted " + std::to_string(c2.granted) + ", lent " +
                     std::to_string(c2.lent) + ")");
  dray::Shutdown();
  std::printf(bad == 0 ? "worker store ok\n" : "worker store FAILED\n");
  return bad == 0 ? 0 : 1;
}

// A worker killed while it holds a grant and a handed-over range: the hub
// frees both when its connection closes; the task is retried.
int GrantKill(const std::string& mark) {
  dray::Init(dray::Config{.num_cpus = 2, .object_store_memory = 256ull << 20});
  std::filesystem::remove(mark);
  dray::Get(dray::Task(QuickSquare).Remote(3));
  dray::real::StoreCounters c0, c1;
  StoreSettles([](const dray::real::StoreCounters& c) { return c.lent == 0 && c.granted == 0; }, &c0);
  int v = *dray::Get(dray::Task(DieHoldingGrants).Remote(mark), std::chrono::seconds(30));
  bool died = std::filesystem::exists(mark);
  bool settled = StoreSettles(
      [&](const dray::real::StoreCounters& c) {
        return c.granted == 0 && c.lent == 0 && c.used_bytes == c0.used_bytes && c.grants >= c0.grants + 1;
      },
      &c1);
  std::printf("result = %d, a worker died holding grants: %s, grants %llu, granted %zu, lent %zu, used %llu -> %llu bytes\n",
              v, died ? "yes" : "NO", static_cast<unsigned long long>(c1.grants - c0.grants), c1.granted, c1.lent,
              static_cast<unsigned long long>(c0.used_bytes), static_cast<unsigned long long>(c1.used_bytes));
  dray::Shutdown();
  std::filesystem::remove(mark);
  bool ok = v == 1 && died && settled;
  std::printf(ok ? "nothing leaked\n" : "LEAKED\n");
  return ok ? 0 : 1;
}

// Joins ADDR and runs a task needing the resource "coded": prints the
// executable the worker that ran it runs (`dray start --code-path`).
int Exe(const std::string& address) {
  dray::Init(dray::Config{.address = address});
  std::string exe = *dray::Get(dray::Task(WorkerExe).SetResource("coded", 1).Remote(0));
  dray::Shutdown();
  std::printf("worker exe = %s\n", exe.c_str());
  return exe.empty() ? 1 : 0;
}

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "store") return Store();
    if (mode == "oneway") return OneWay();
    if (mode == "exe" && argc > 2) return Exe(argv[2]);
    if (mode == "worker-store") return WorkerStore();
    if (mode == "grant-kill" && argc > 2) return GrantKill(argv[2]);
    if (mode == "cleanup") return Cleanup();
    if (mode == "spill") return Spill();
    if (mode == "kill9" && argc > 2) return Kill9(argv[2]);
    if (mode == "actor-kill9" && argc > 2) return ActorKill9(argv[2]);
    if (mode == "join" && argc > 2) return Join(argv[2]);
    if (mode == "survive" && argc > 2) return Survive(argv[2]);
    if (mode == "demand" && argc > 3) return Demand(argv[2], argv[3]);
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: runtime_app cleanup | kill9 MARKFILE\n");
  return 2;
}
