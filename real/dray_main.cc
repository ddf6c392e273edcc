// The dray command (DESIGN §5, §7). Today: `replay` and `timeline` of traces;
// the cluster commands (start, stop, status) arrive with the real backend.
// Exit codes: 0 done, 1 the work failed (divergence, unreadable trace), 2 bad
// usage or a command this build does not have.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "sim/trace.h"

#ifndef DRAY_VERSION
#define DRAY_VERSION "0.1.0"
#endif

namespace {

constexpr const char* kUsage =
    "usage: dray <command> [args]\n"
    "\n"
    "commands:\n"
    "  replay TRACE               re-step every component of a trace from its recorded inputs and check\n"
    "                             every effects hash; names the first event that diverges\n"
    "  timeline TRACE [OUT.json]  write Chrome trace JSON (chrome://tracing, Perfetto): a row per\n"
    "                             worker and driver, a slice per task; OUT defaults to TRACE.json\n"
    "  version                    print dray's version\n"
    "  start | stop | status      cluster commands (not in this build yet)\n"
    "  --help                     this text\n"
    "\n"
    "A simulated run writes a trace: DRAY_SIM=\"seed=42,nodes=3,trace=run.db\" ./my_app\n"
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

int Replay(const std::string& trace) {
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
    if (n != 1) return Usage("replay takes one argument: the trace file");
    return Replay(args[1]);
  }
  if (cmd == "timeline") {
    if (n != 1 && n != 2) return Usage("timeline takes the trace file and, optionally, the JSON file to write");
    return Timeline(args[1], n == 2 ? args[2] : args[1] + ".json");
  }
  if (cmd == "start" || cmd == "stop" || cmd == "status") {
    std::fprintf(stderr,
                 "dray %s: the real cluster backend is not in this build yet. Run programs in the simulator "
                 "instead, e.g. DRAY_SIM=\"seed=1,nodes=3,cpus=4\" ./my_app, or use dray-sim.\n",
                 cmd.c_str());
    return 2;
  }
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
