// The dray command (DESIGN §5, §7): `replay` and `timeline` of traces, and the
// cluster commands `start`, `stop`, `status` (real/cluster.h,
// docs/operations.md).
// Exit codes: 0 done, 1 the work failed (divergence, unreadable trace), 2 bad
// usage or a command this build does not have.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "real/cluster.h"
#include "sim/trace.h"

#ifndef DRAY_VERSION
#define DRAY_VERSION "0.1.0"
#endif

namespace {

constexpr const char* kUsage =
    "usage: dray <command> [args]\n"
    "\n"
    "commands:\n"
    "  replay TRACE|DIR           re-step every component of a trace from its recorded inputs and check\n"
    "                             every effects hash; names the first event that diverges. DIR: every\n"
    "                             *.db in it (a recorded real run: one trace per process)\n"
    "  timeline TRACE [OUT.json]  write Chrome trace JSON (chrome://tracing, Perfetto): a row per\n"
    "                             worker and driver, a slice per task; OUT defaults to TRACE.json\n"
    "  version                    print dray's version\n"
    "  start --head [FLAGS]       start a head daemon (control service + node 0) listening on TCP\n"
    "  start --address HOST:PORT [FLAGS]  start a node daemon that joins the head\n"
    "      --port P (head; default 6390, 0: any)  --host H (head; listen address, default 0.0.0.0)\n"
    "      --num-cpus N  --num-gpus N  --resources '{\"name\": amount}'  --object-store-memory BYTES\n"
    "      --temp-dir D (default $TMPDIR/dray)  --token-file F (a node)  --block (stay in the foreground)\n"
    "      --code-path DIR (workers run DIR/<the driver program's file name>, not the driver's path)\n"
    "      --record DIR (write the daemon's trace, and its workers', into DIR)\n"
    "      --health-period-ms MS  --health-misses N (head: a node is dead after N missed checks MS apart;\n"
    "                             default 3000 and 5)\n"
    "  stop [--temp-dir D]        stop every daemon started from D, their workers; remove D's files\n"
    "  status [--address HOST:PORT] [--temp-dir D]  nodes, resources used/total, pending demands\n"
    "  --help                     this text\n"
    "\n"
    "A simulated run writes a trace: DRAY_SIM=\"seed=42,nodes=3,trace=run.db\" ./my_app\n"
    "A real one records one per process: DRAY_RECORD=DIR ./my_app (or dray start --record DIR)\n"
    "exit status: 0 ok, 1 divergence or unreadable trace, 2 bad usage\n";

int Usage(const std::string& problem) {
  std::fprintf(stderr, "dray: %s\n\n%s", problem.c_str(), kUsage);
  return 2;
}

const char* g_trace = "";

void Put(const char* s) {
  ssize_t n = ::write(STDERR_FILENO, s, std::strlen(s));
  (void)n;
}

// A failed DRAY_ASSERT inside a component aborts; say which event did it
// rather than leave a bare core dump.
void OnFatalSignal(int sig) {
  Put("dray replay: ");
  Put(g_trace);
  Put(": the replay died of ");
  Put(sig == SIGABRT ? "SIGABRT (a failed assertion, printed above)" : sig == SIGSEGV ? "SIGSEGV" : "a signal");
  const char* ev = dray::sim::CurrentReplayEvent();
  if (*ev) {
    Put(" while stepping ");
    Put(ev);
  }
  Put("\n");
  ::_exit(1);
}

void InstallCrashReport() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnFatalSignal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigaction(sig, &sa, nullptr);
}

int ReplayFile(const std::string& trace);

// A directory: every *.db in it, in name order; each file on its own (a
// process's trace is self-contained). Exit 1 if any file fails.
int Replay(const std::string& trace) {
  std::error_code ec;
  if (!std::filesystem::is_directory(trace, ec)) return ReplayFile(trace);
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(trace, ec))
    if (e.path().extension() == ".db" && e.is_regular_file(ec)) files.push_back(e.path().string());
  if (ec) {
    std::fprintf(stderr, "dray replay: %s: %s\n", trace.c_str(), ec.message().c_str());
    return 1;
  }
  if (files.empty()) {
    std::fprintf(stderr, "dray replay: %s: no trace (*.db) in this directory\n", trace.c_str());
    return 1;
  }
  std::sort(files.begin(), files.end());
  size_t failed = 0;
  for (const auto& f : files) {
    std::printf("%s: ", f.c_str());
    std::fflush(stdout);
    if (ReplayFile(f) != 0) {
      ++failed;
      std::printf("FAILED\n");
    }
  }
  std::printf("%zu of %zu traces replayed without divergence\n", files.size() - failed, files.size());
  return failed ? 1 : 0;
}

int ReplayFile(const std::string& trace) {
  g_trace = trace.c_str();
  InstallCrashReport();
  dray::sim::ReplayResult r = dray::sim::Replay(trace);
  if (!r.ok) {
    std::fprintf(stderr, "dray replay: %s\n", r.error.c_str());
    bool at_event = r.error.rfind("divergence at event #", 0) == 0 || r.error.rfind("event #", 0) == 0;
    if (at_event && r.events > 0)
      std::fprintf(stderr, "dray replay: the %llu events before it replayed identically\n",
                   static_cast<unsigned long long>(r.events));
    return 1;
  }
  std::printf("replayed %llu events of %llu components: no divergence\n", static_cast<unsigned long long>(r.events),
              static_cast<unsigned long long>(r.components));
  if (!r.note.empty()) std::printf("note: %s\n", r.note.c_str());
  return 0;
}

int Timeline(const std::string& trace, const std::string& out) {
  std::string err = dray::sim::WriteTimeline(trace, out);
  if (!err.empty()) {
    std::fprintf(stderr, "dray timeline: %s\n", err.c_str());
    return 1;
  }
  std::printf("wrote %s (open it in chrome://tracing or https://ui.perfetto.dev)\n", out.c_str());
  return 0;
}

// --flag VALUE or --flag=VALUE.
bool TakeValue(const std::vector<std::string>& args, size_t* i, const std::string& flag, std::string* value) {
  const std::string& a = args[*i];
  if (a == flag) {
    if (*i + 1 >= args.size()) throw std::invalid_argument(flag + " needs a value");
    *value = args[++*i];
    return true;
  }
  if (a.rfind(flag + "=", 0) == 0) {
    *value = a.substr(flag.size() + 1);
    return true;
  }
  return false;
}

int64_t ParseInt(const std::string& flag, const std::string& v, int64_t lo, int64_t hi) {
  size_t n = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &n);
  } catch (const std::exception&) {
    n = 0;
  }
  if (n == 0 || n != v.size() || x < lo || x > hi)
    throw std::invalid_argument(flag + " needs an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                                ", got '" + v + "'");
  return x;
}

int ClusterCommand(const std::string& cmd, const std::vector<std::string>& args) {
  dray::real::DaemonOptions o;
  bool head = false;
  std::string address, v;
  try {
    for (size_t i = 1; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a == "--head" && cmd == "start") {
        head = true;
      } else if (a == "--block" && cmd == "start") {
        o.block = true;
      } else if (TakeValue(args, &i, "--temp-dir", &v)) {
        if (v.empty()) throw std::invalid_argument("--temp-dir needs a directory");
        o.temp_dir = v;
      } else if (cmd != "stop" && TakeValue(args, &i, "--address", &v)) {
        address = v;
      } else if (cmd == "start" && TakeValue(args, &i, "--port", &v)) {
        o.port = static_cast<uint16_t>(ParseInt("--port", v, 0, 65535));
      } else if (cmd == "start" && TakeValue(args, &i, "--host", &v)) {
        o.host = v;
      } else if (cmd == "start" && TakeValue(args, &i, "--num-cpus", &v)) {
        o.num_cpus = static_cast<int>(ParseInt("--num-cpus", v, 1, 1 << 20));
      } else if (cmd == "start" && TakeValue(args, &i, "--num-gpus", &v)) {
        o.num_gpus = static_cast<double>(ParseInt("--num-gpus", v, 0, 1 << 20));
      } else if (cmd == "start" && TakeValue(args, &i, "--object-store-memory", &v)) {
        o.object_store_memory = static_cast<uint64_t>(ParseInt("--object-store-memory", v, 1 << 20, int64_t{1} << 50));
      } else if (cmd == "start" && TakeValue(args, &i, "--health-period-ms", &v)) {
        o.health_period_ms = static_cast<uint32_t>(ParseInt("--health-period-ms", v, 10, 3'600'000));
      } else if (cmd == "start" && TakeValue(args, &i, "--health-misses", &v)) {
        o.health_misses = static_cast<uint32_t>(ParseInt("--health-misses", v, 1, 1000));
      } else if (cmd == "start" && TakeValue(args, &i, "--record", &v)) {
        if (v.empty()) throw std::invalid_argument("--record needs a directory");
        std::error_code ec;
        o.record_dir = std::filesystem::absolute(v, ec).lexically_normal().string();
        if (ec) throw std::invalid_argument("--record " + v + ": " + ec.message());
      } else if (cmd == "start" && TakeValue(args, &i, "--code-path", &v)) {
        std::error_code ec;
        if (v.empty() || !std::filesystem::is_directory(v, ec))
          throw std::invalid_argument("--code-path " + v + ": not a directory");
        o.code_path = std::filesystem::absolute(v, ec).lexically_normal().string();
        if (!o.code_path.empty() && o.code_path.back() == '/') o.code_path.pop_back();
      } else if (cmd == "start" && TakeValue(args, &i, "--token-file", &v)) {
        o.token_file = v;
      } else if (cmd == "start" && TakeValue(args, &i, "--resources", &v)) {
        std::string err;
        if (!dray::real::ParseResourcesJson(v, &o.resources, &err)) throw std::invalid_argument(err);
      } else {
        throw std::invalid_argument("dray " + cmd + ": unknown argument '" + a + "'");
      }
    }
  } catch (const std::invalid_argument& e) {
    return Usage(e.what());
  }
  if (cmd == "stop") return dray::real::StopCommand(o.temp_dir);
  if (cmd == "status") return dray::real::StatusCommand(address, o.temp_dir);
  if (head == !address.empty()) return Usage("dray start needs either --head or --address HOST:PORT");
  o.head = head;
  o.address = address;
  return dray::real::StartCommand(o);
}

int Run(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("no command given");
  const std::string& cmd = args[0];
  for (const auto& a : args) {
    if (a == "--help" || a == "-h" || a == "help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  size_t n = args.size() - 1;
  if (cmd == "version" || cmd == "--version") {
    if (n != 0) return Usage("version takes no arguments");
    std::printf("dray %s\n", DRAY_VERSION);
    return 0;
  }
  if (cmd == "replay") {
    if (n != 1) return Usage("replay takes one argument: the trace file (or a directory of them)");
    return Replay(args[1]);
  }
  if (cmd == "timeline") {
    if (n != 1 && n != 2) return Usage("timeline takes the trace file and, optionally, the JSON file to write");
    return Timeline(args[1], n == 2 ? args[2] : args[1] + ".json");
  }
  if (cmd == "start" || cmd == "stop" || cmd == "status") return ClusterCommand(cmd, args);
  return Usage("unknown command '" + cmd + "'");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return Run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dray: %s\n", e.what());
    return 1;
  }
}
