// dray-sim: runs a built-in workload in a seeded simulated cluster.
//
//   dray-sim --seed 42 --nodes 5 --cpus 2 --workload random_dag
//   dray-sim --seeds 1-100 --nodes 3 --cpus 2 --workload map_reduce
//   dray-sim --seed 1 --workload four_tasks --trace run.sqlite --timeline run.json
//   dray-sim --list
//
// Workloads: every seed example (examples/examples.h), "random_dag" (the
// random task DAG with a serial oracle, examples/random_dag.h), "actors" (random
// actor calls from the driver and tasks, examples/actor_workload.h) and "all"
// (every seed example in turn). Each run is one dray::Init with the spec
// "seed=..,nodes=..,cpus=..[,gpus=..][,trace=..][,timeline=..]" and one
// Shutdown; a failed run prints the one command that reproduces it.
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <dray/dray.h>
#include <dray/sim.h>

#include "core/common/probe.h"
#include "sim/spec.h"
#include "examples.h"
#include "actor_workload.h"
#include "sim/scenario.h"
#include "random_dag.h"
#include "recovery_workload.h"

namespace {

constexpr int kUsageError = 2;

struct Options {
  uint64_t seed_first = 1;
  uint64_t seed_last = 1;
  bool seed_given = false;
  uint32_t nodes = 1;
  std::string cpus = "4";
  std::string gpus;  // empty: none
  std::string workload;
  std::string trace;
  std::string timeline;
  std::string extra_spec;  // more simulation keys, "k=v,k=v"
  std::string scenario;    // --scenario FILE
  int tasks = 100;         // random_dag
  bool tasks_given = false;
  int max_fan_in = 4;      // random_dag
  bool list = false;
  bool quiet = false;
  uint32_t jobs = 1;       // parallel processes for a seed range
  bool coverage = false;   // print the code-probe table at the end
  std::string scenario_dir = ".";  // where a failing seed's drawn faults are written as a scenario
};

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: dray-sim --workload NAME [--seed N | --seeds A-B] [--nodes N] [--cpus N] [--gpus N]\n"
               "                [--trace FILE] [--timeline FILE] [--spec KEY=VALUE,...]\n"
               "                [--tasks N] [--max-fan-in N] [--quiet] [--jobs N] [--coverage]\n"
               "       dray-sim --list\n"
               "\n"
               "  --workload NAME  a seed example, random_dag, actors, recovery, or all (every seed example); see --list\n"
               "  --seed N         the simulation seed (default 1)\n"
               "  --seeds A-B      run seeds A..B one after the other, one line per seed\n"
               "  --nodes N        simulated nodes (default 1)\n"
               "  --cpus N         CPUs per node (default 4)\n"
               "  --gpus N         GPUs per node (default 0)\n"
               "  --trace FILE     write the run's SQLite trace (with several runs, -SEED/-WORKLOAD is\n"
               "                   inserted before the extension)\n"
               "  --timeline FILE  write a Chrome trace JSON of the run (needs --trace)\n"
               "  --spec K=V,...   further simulation spec keys (docs/sim.md), e.g. latency_us=500\n"
               "  --tasks N        random_dag: tasks in the DAG (default 100); tiny_tasks: how many; actors: calls per caller (20)\n"
               "  --scenario FILE  replay a scenario file: its spec, workload and scripted faults (docs/sim.md)\n"
               "                   (default the seed's 100000)\n"
               "  --max-fan-in N   random_dag: most inputs of one task (default 4)\n"
               "  --quiet          only the one line per run\n"
               "  --jobs N         run the seeds in N processes at once (seed i in process i mod N)\n"
               "  --coverage       at the end, how often each recovery path (code probe) ran, and in\n"
               "                   how many runs; paths never reached are listed (docs/fault-tolerance.md)\n"
               "  --scenario-dir D where a failing seed's drawn faults are written as a scenario file\n"
               "                   (default: the current directory)\n"
               "\n"
               "exit status: 0 every run passed, 1 a run failed, 2 bad usage\n");
}

[[noreturn]] void BadUsage(const std::string& msg) {
  std::fprintf(stderr, "dray-sim: %s\n\n", msg.c_str());
  Usage(stderr);
  std::exit(kUsageError);
}

uint64_t ParseU64(const std::string& flag, const std::string& v) {
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
    BadUsage(flag + " needs a non-negative integer, got '" + v + "'");
  try {
    return std::stoull(v);
  } catch (const std::exception&) {
    BadUsage(flag + ": '" + v + "' is out of range");
  }
}

std::string ParseAmount(const std::string& flag, const std::string& v) {
  try {
    size_t n = 0;
    double d = std::stod(v, &n);
    if (n != v.size() || d < 0) throw std::invalid_argument("x");
  } catch (const std::exception&) {
    BadUsage(flag + " needs a non-negative number, got '" + v + "'");
  }
  return v;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  bool seeds_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      Usage(stdout);
      std::exit(0);
    }
    if (a == "--list") {
      o.list = true;
      continue;
    }
    if (a == "--quiet") {
      o.quiet = true;
      continue;
    }
    if (a == "--coverage") {
      o.coverage = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) BadUsage("unexpected argument '" + a + "'");
    std::string flag = a, val;
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      flag = a.substr(0, eq);
      val = a.substr(eq + 1);
    } else {
      if (i + 1 >= argc) BadUsage(flag + " needs a value");
      val = argv[++i];
    }
    if (flag == "--seed") {
      o.seed_first = o.seed_last = ParseU64(flag, val);
      o.seed_given = true;
    } else if (flag == "--seeds") {
      size_t dash = val.find('-');
      if (dash == std::string::npos) BadUsage("--seeds needs a range A-B, got '" + val + "'");
      o.seed_first = ParseU64(flag, val.substr(0, dash));
      o.seed_last = ParseU64(flag, val.substr(dash + 1));
      if (o.seed_last < o.seed_first) BadUsage("--seeds " + val + ": the range is empty");
      seeds_given = true;
    } else if (flag == "--nodes") {
      uint64_t n = ParseU64(flag, val);
      if (n < 1 || n > 1000) BadUsage("--nodes must be in [1, 1000], got " + val);
      o.nodes = static_cast<uint32_t>(n);
    } else if (flag == "--cpus") {
      o.cpus = ParseAmount(flag, val);
    } else if (flag == "--gpus") {
      o.gpus = ParseAmount(flag, val);
    } else if (flag == "--workload") {
      o.workload = val;
    } else if (flag == "--trace") {
      o.trace = val;
    } else if (flag == "--timeline") {
      o.timeline = val;
    } else if (flag == "--spec") {
      o.extra_spec = val;
    } else if (flag == "--scenario") {
      // A scenario file (sim/scenario.h): its spec (its keys win over
      // --nodes and --cpus), its workload, and its scripted faults.
      dray::sim::Scenario sc;
      try {
        sc = dray::sim::ReadScenarioFile(val);
      } catch (const std::exception& e) {
        BadUsage(e.what());
      }
      if (!sc.workload.empty()) o.workload = sc.workload;
      if (sc.tasks > 0) {
        o.tasks = sc.tasks;
        o.tasks_given = true;
      }
      try {
        dray::sim::SimSpec ss = dray::sim::ParseSimSpec(sc.spec);
        o.seed_first = o.seed_last = ss.seed;
        o.seed_given = true;
        o.nodes = ss.nodes;
        char cpus[32];
        std::snprintf(cpus, sizeof cpus, "%g", ss.cpus);
        o.cpus = cpus;
      } catch (const std::exception& e) {
        BadUsage(e.what());
      }
      o.scenario = val;
      o.extra_spec = sc.spec + (sc.spec.empty() ? "" : ",") + "scenario=" + val;
    } else if (flag == "--scenario-dir") {
      if (val.empty()) BadUsage("--scenario-dir needs a directory");
      o.scenario_dir = val;
    } else if (flag == "--tasks") {
      uint64_t n = ParseU64(flag, val);
      if (n < 1 || n > 10000000) BadUsage("--tasks must be in [1, 10000000], got " + val);
      o.tasks = static_cast<int>(n);
      o.tasks_given = true;
    } else if (flag == "--jobs") {
      uint64_t n = ParseU64(flag, val);
      if (n < 1 || n > 256) BadUsage("--jobs must be in [1, 256], got " + val);
      o.jobs = static_cast<uint32_t>(n);
    } else if (flag == "--max-fan-in") {
      uint64_t n = ParseU64(flag, val);
      if (n > 1000) BadUsage("--max-fan-in must be at most 1000, got " + val);
      o.max_fan_in = static_cast<int>(n);
    } else {
      BadUsage("unknown flag '" + flag + "'");
    }
  }
  if (o.seed_given && seeds_given) BadUsage("give --seed or --seeds, not both");
  if (!o.timeline.empty() && o.trace.empty()) BadUsage("--timeline needs --trace (the timeline is made from the trace)");
  if (!o.list) {
    if (o.workload.empty()) BadUsage("--workload is required (see --list)");
    if (o.workload != "random_dag" && o.workload != "actors" && o.workload != "recovery" && o.workload != "all" &&
        !dray::examples::FindExample(o.workload))
      BadUsage("unknown workload '" + o.workload + "' (see --list)");
  }
  return o;
}

// "run.sqlite" -> "run-7.sqlite" when several runs share one name.
std::string PerRunPath(const std::string& path, const std::string& tag) {
  if (path.empty() || tag.empty()) return path;
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash) || dot == 0)
    return path + "-" + tag;
  return path.substr(0, dot) + "-" + tag + path.substr(dot);
}

std::string ReproduceCommand(const Options& o, uint64_t seed, const std::string& workload) {
  if (!o.scenario.empty()) return "dray-sim --scenario " + o.scenario;
  std::string cmd = "dray-sim --seed " + std::to_string(seed) + " --nodes " + std::to_string(o.nodes) + " --cpus " +
                    o.cpus;
  if (!o.gpus.empty()) cmd += " --gpus " + o.gpus;
  if (!o.extra_spec.empty()) cmd += " --spec " + o.extra_spec;
  cmd += " --workload " + workload;
  if (workload == "random_dag")
    cmd += " --tasks " + std::to_string(o.tasks) + " --max-fan-in " + std::to_string(o.max_fan_in);
  if ((workload == "tiny_tasks" || workload == "recovery" || workload == "actors") && o.tasks_given)
    cmd += " --tasks " + std::to_string(o.tasks);
  return cmd;
}

// A failing seed's drawn faults as a scenario file (sim/scenario.h), when the
// run drew them: writes it and returns the lines to print ("" if none).
std::string WriteDrawnScenario(const Options& o, uint64_t seed, const std::string& workload) {
  if (!o.scenario.empty()) return "";  // a scenario run: its file reproduces it
  dray::sim::DrawnSchedule d = dray::sim::LastDrawnSchedule();
  if (!d.drawn) return "";
  dray::sim::Scenario sc;
  sc.spec = "seed=" + std::to_string(seed) + ",nodes=" + std::to_string(o.nodes) + ",cpus=" + o.cpus;
  if (!o.gpus.empty()) sc.spec += ",gpus=" + o.gpus;
  // The run's other keys, but what the drawn schedule says instead.
  static const char* const kReplaced[] = {"faults",       "trace",   "timeline", "scenario",           "loss_permille",
                                          "dup_permille", "reorder_permille", "rto_us", "disk_error_permille"};
  size_t pos = 0;
  while (pos <= o.extra_spec.size()) {
    size_t comma = o.extra_spec.find(',', pos);
    std::string item = o.extra_spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? o.extra_spec.size() + 1 : comma + 1;
    std::string key = item.substr(0, item.find('='));
    if (item.empty() || std::find(std::begin(kReplaced), std::end(kReplaced), key) != std::end(kReplaced)) continue;
    sc.spec += "," + item;
  }
  sc.spec += "," + d.spec;
  sc.workload = workload;
  if (workload == "random_dag" || ((workload == "tiny_tasks" || workload == "recovery" || workload == "actors") &&
                                   o.tasks_given))
    sc.tasks = o.tasks;
  sc.faults = d.faults;
  std::string path = o.scenario_dir + "/dray-sim-" + workload + "-seed" + std::to_string(seed) + ".scenario";
  std::string text = dray::sim::FormatScenario(sc);
  for (const auto& u : d.unexpressed) text += "# not expressed: " + u + "\n";
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size()) {
    if (f) std::fclose(f);
    return "  could not write its drawn faults as a scenario to " + path + "\n";
  }
  std::fclose(f);
  std::string out = "  its drawn faults (" + std::to_string(d.faults.size()) + ") as a scenario: " + path +
                    " (dray-sim --scenario " + path + ")\n";
  if (!d.unexpressed.empty())
    out += "  " + std::to_string(d.unexpressed.size()) +
           " drawn fault(s) cannot be written in a scenario (so its replay may differ), the first: " +
           d.unexpressed.front() + "\n";
  return out;
}

struct RunOutcome {
  bool ok = false;
  std::string detail;  // summary, or the error
  std::vector<std::string> output;
};

RunOutcome RunWorkload(const Options& o, uint64_t seed, const std::string& workload) {
  RunOutcome out;
  if (workload == "actors") {
    dray::workloads::ActorParams p;
    p.seed = seed;
    if (o.tasks_given) p.calls = o.tasks;
    try {
      dray::workloads::ActorResult r = dray::workloads::RunActorWorkload(p);
      out.ok = r.ok;
      out.detail = r.ok ? std::to_string(r.calls) + " actor calls" : r.error;
    } catch (const std::exception& e) {
      out.detail = std::string("exception: ") + e.what();
    }
    return out;
  }
  if (workload == "recovery") {
    dray::workloads::RecoveryParams p;
    p.seed = seed;
    if (o.tasks_given) p.units = o.tasks;
    try {
      dray::workloads::RecoveryResult r = dray::workloads::RunRecoveryWorkload(p);
      out.ok = r.ok;
      out.detail = r.ok ? std::to_string(r.units) + " units, " + std::to_string(r.errors_accepted) +
                              " documented errors explained by faults"
                        : r.error;
    } catch (const std::exception& e) {
      out.detail = std::string("exception: ") + e.what();
    }
    return out;
  }
  if (workload == "random_dag") {
    dray::workloads::DagParams p;
    p.seed = seed;
    p.tasks = o.tasks;
    p.max_fan_in = o.max_fan_in;
    try {
      dray::workloads::DagResult r = dray::workloads::RunRandomDag(p);
      out.ok = r.ok;
      char buf[128];
      std::snprintf(buf, sizeof buf, "%d tasks, checksum %016llx", r.tasks, static_cast<unsigned long long>(r.checksum));
      out.detail = r.ok ? buf : r.error;
    } catch (const std::exception& e) {
      out.detail = std::string("exception: ") + e.what();
    }
    return out;
  }
  const dray::examples::ExampleInfo* ex = dray::examples::FindExample(workload);
  dray::examples::ExampleResult r;
  if (workload == "tiny_tasks" && o.tasks_given) {
    try {
      r = dray::examples::RunTinyTasks(o.tasks);
    } catch (const std::exception& e) {
      r.error = std::string("exception: ") + e.what();
    }
  } else {
    r = ex->run();  // catches exceptions itself
  }
  // Completion order follows the sleeps only when nothing fails.
  bool order_counts =
      o.extra_spec.find("faults=") == std::string::npos || o.extra_spec.find("faults=none") != std::string::npos;
  out.ok = r.ok && (!order_counts || r.order_error.empty());
  out.detail = !r.ok ? r.error : !out.ok ? r.order_error : r.summary;
  // An actor that died of an injected fault takes its state with it: the
  // documented actor errors are a right outcome then (docs/actors.md), in a
  // run where faults were actually injected.
  dray::sim::RunStats faults_seen = dray::sim::CurrentStats();
  if (!r.ok && !order_counts && ex && ex->actors &&
      faults_seen.crashes + faults_seen.held + faults_seen.net_faults + faults_seen.frames_lost > 0 &&
      (r.error.find("ActorDiedError:") != std::string::npos ||
       r.error.find("ActorUnavailableError:") != std::string::npos)) {
    out.ok = true;
    out.detail = "actor lost to a fault (accepted): " + r.error;
  }
  out.output = r.output;
  return out;
}

// " net=3 lost=12 ..." for the faults a run had beyond crashes ("" if none).
std::string NetStr(const dray::sim::RunStats& st) {
  std::string out;
  auto add = [&](const char* name, uint64_t v) {
    if (v) out += std::string(" ") + name + "=" + std::to_string(v);
  };
  add("net_faults", st.net_faults);
  add("lost", st.frames_lost);
  add("dup", st.frames_duplicated);
  add("ahead", st.frames_reordered);
  add("held", st.held);
  add("deferred", st.deferred);
  add("spills", st.spills);
  add("restores", st.restores);
  add("disk_errors", st.disk_errors);
  return out;
}

}  // namespace

// What a set of runs amounted to.
struct Totals {
  uint64_t runs = 0, failed = 0, crashes = 0;
  // Network faults: injected (one-way cuts, spikes, slow nodes, clogs), frames
  // lost, duplicated, reordered; messages held by cuts; inputs deferred.
  uint64_t net[6] = {0, 0, 0, 0, 0, 0};
  uint64_t kind_runs[32] = {};  // runs that had each fault kind (bit i of RunStats::fault_kinds)
  std::vector<std::string> repro;
  std::map<std::string, std::pair<uint64_t, uint64_t>> probes;  // name -> (hits, runs that hit it)
};

Totals RunSeeds(const Options& o, const std::vector<uint64_t>& seeds, const std::vector<std::string>& workloads,
                bool verbose) {
  Totals t;
  const bool many_seeds = o.seed_last > o.seed_first;
  const bool many_workloads = workloads.size() > 1;
  for (uint64_t seed : seeds) {
    for (const auto& workload : workloads) {
      std::string tag = many_seeds ? std::to_string(seed) : "";
      if (many_workloads) tag += (tag.empty() ? "" : "-") + workload;
      std::string spec = "seed=" + std::to_string(seed) + ",nodes=" + std::to_string(o.nodes) + ",cpus=" + o.cpus;
      if (!o.gpus.empty()) spec += ",gpus=" + o.gpus;
      if (!o.trace.empty()) spec += ",trace=" + PerRunPath(o.trace, tag);
      if (!o.timeline.empty()) spec += ",timeline=" + PerRunPath(o.timeline, tag);
      if (!o.extra_spec.empty()) spec += "," + o.extra_spec;

      std::map<std::string, uint64_t> before = dray::ProbeRegistry::Get().hits;
      auto wall0 = std::chrono::steady_clock::now();
      try {
        dray::Init(dray::Config{.sim = spec});
      } catch (const std::exception& e) {
        std::fprintf(stderr, "dray-sim: cannot start the simulation '%s': %s\n", spec.c_str(), e.what());
        std::exit(kUsageError);
      }
      if (verbose) std::printf("== %s (%s)\n", workload.c_str(), spec.c_str());
      std::fflush(stdout);
      RunOutcome r = RunWorkload(o, seed, workload);
      dray::Shutdown();
      double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
      dray::sim::RunStats st = dray::sim::LastStats();
      ++t.runs;
      for (const auto& [name, hits] : dray::ProbeRegistry::Get().hits) {
        uint64_t was = before.count(name) ? before.at(name) : 0;
        if (hits > was) {
          t.probes[name].first += hits - was;
          t.probes[name].second += 1;
        }
      }
      if (verbose)
        for (const auto& line : r.output) std::printf("  %s\n", line.c_str());
      std::printf(
          "seed=%llu workload=%s %s steps=%llu messages=%llu crashes=%llu%s virtual=%.6fs trace_hash=%016llx "
          "wall=%.3fs | %s\n",
          static_cast<unsigned long long>(seed), workload.c_str(), r.ok ? "ok" : "FAILED",
          static_cast<unsigned long long>(st.steps), static_cast<unsigned long long>(st.messages),
          static_cast<unsigned long long>(st.crashes), NetStr(st).c_str(), static_cast<double>(st.virtual_ns) / 1e9,
          static_cast<unsigned long long>(st.trace_hash), wall, r.detail.c_str());
      t.crashes += st.crashes;
      uint64_t net[6] = {st.net_faults, st.frames_lost, st.frames_duplicated, st.frames_reordered, st.held,
                         st.deferred};
      for (int i = 0; i < 6; ++i) t.net[i] += net[i];
      for (int i = 0; i < 32; ++i) t.kind_runs[i] += (st.fault_kinds >> i) & 1;
      if (!r.ok) {
        ++t.failed;
        std::string cmd = ReproduceCommand(o, seed, workload);
        std::printf("  seed %llu failed; reproduce with: %s\n", static_cast<unsigned long long>(seed), cmd.c_str());
        std::printf("%s", WriteDrawnScenario(o, seed, workload).c_str());
        t.repro.push_back(cmd);
      }
      std::fflush(stdout);
    }
  }
  return t;
}

// --jobs: process k runs the seeds first+k, first+k+N, ...; its lines are
// passed through as they come, and its totals come back as '#' lines.
Totals RunInProcesses(const Options& o, const std::vector<std::string>& workloads, bool verbose) {
  std::fflush(stdout);
  struct Child {
    pid_t pid = -1;
    int fd = -1;
    std::string buf;
    bool reported = false;
  };
  std::vector<Child> kids(o.jobs);
  for (uint32_t k = 0; k < o.jobs; ++k) {
    int p[2];
    if (pipe(p) != 0) {
      std::perror("dray-sim: pipe");
      std::exit(kUsageError);
    }
    pid_t pid = fork();
    if (pid < 0) {
      std::perror("dray-sim: fork");
      std::exit(kUsageError);
    }
    if (pid == 0) {
      close(p[0]);
      dup2(p[1], STDOUT_FILENO);
      close(p[1]);
      std::vector<uint64_t> seeds;
      for (uint64_t seed = o.seed_first + k;; seed += o.jobs) {
        if (seed > o.seed_last || seed < o.seed_first) break;
        seeds.push_back(seed);
      }
      Totals t = RunSeeds(o, seeds, workloads, verbose);
      std::printf("#totals %llu %llu %llu\n", static_cast<unsigned long long>(t.runs),
                  static_cast<unsigned long long>(t.failed), static_cast<unsigned long long>(t.crashes));
      std::printf("#net %llu %llu %llu %llu %llu %llu\n", (unsigned long long)t.net[0], (unsigned long long)t.net[1],
                  (unsigned long long)t.net[2], (unsigned long long)t.net[3], (unsigned long long)t.net[4],
                  (unsigned long long)t.net[5]);
      for (int i = 0; i < 32; ++i)
        if (t.kind_runs[i]) std::printf("#kind %d %llu\n", i, (unsigned long long)t.kind_runs[i]);
      for (const auto& c : t.repro) std::printf("#repro %s\n", c.c_str());
      for (const auto& [name, hr] : t.probes)
        std::printf("#probe %s %llu %llu\n", name.c_str(), static_cast<unsigned long long>(hr.first),
                    static_cast<unsigned long long>(hr.second));
      std::fflush(stdout);
      std::_Exit(0);
    }
    close(p[1]);
    kids[k].pid = pid;
    kids[k].fd = p[0];
  }
  Totals t;
  auto take = [&](Child& c, const std::string& line) {
    if (line.rfind("#totals ", 0) == 0) {
      unsigned long long r = 0, f = 0, cr = 0;
      std::sscanf(line.c_str() + 8, "%llu %llu %llu", &r, &f, &cr);
      t.runs += r;
      t.failed += f;
      t.crashes += cr;
      c.reported = true;
    } else if (line.rfind("#net ", 0) == 0) {
      unsigned long long v[6] = {};
      std::sscanf(line.c_str() + 5, "%llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
      for (int i = 0; i < 6; ++i) t.net[i] += v[i];
    } else if (line.rfind("#kind ", 0) == 0) {
      int i = 0;
      unsigned long long n = 0;
      if (std::sscanf(line.c_str() + 6, "%d %llu", &i, &n) == 2 && i >= 0 && i < 32) t.kind_runs[i] += n;
    } else if (line.rfind("#repro ", 0) == 0) {
      t.repro.push_back(line.substr(7));
    } else if (line.rfind("#probe ", 0) == 0) {
      char name[256];
      unsigned long long h = 0, n = 0;
      if (std::sscanf(line.c_str() + 7, "%255s %llu %llu", name, &h, &n) == 3) {
        t.probes[name].first += h;
        t.probes[name].second += n;
      }
    } else {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    }
  };
  size_t open_fds = kids.size();
  while (open_fds > 0) {
    std::vector<pollfd> fds;
    for (auto& c : kids)
      if (c.fd >= 0) fds.push_back({c.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) continue;
    for (auto& c : kids) {
      if (c.fd < 0) continue;
      bool ready = false;
      for (const auto& f : fds) ready |= f.fd == c.fd && f.revents != 0;
      if (!ready) continue;
      char chunk[4096];
      ssize_t n = read(c.fd, chunk, sizeof chunk);
      if (n > 0) {
        c.buf.append(chunk, static_cast<size_t>(n));
        size_t nl;
        while ((nl = c.buf.find('\n')) != std::string::npos) {
          take(c, c.buf.substr(0, nl));
          c.buf.erase(0, nl + 1);
        }
      } else {
        close(c.fd);
        c.fd = -1;
        --open_fds;
      }
    }
  }
  for (size_t k = 0; k < kids.size(); ++k) {
    int status = 0;
    waitpid(kids[k].pid, &status, 0);
    if (!kids[k].reported) {
      // A process that died before it reported (a crash of the simulator
      // itself, or an assertion): its seeds count as one failed run.
      ++t.failed;
      ++t.runs;
      std::string why = WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                            : "exit " + std::to_string(WEXITSTATUS(status));
      std::printf("process %zu (seeds %llu, %llu+%u, ...) died before it reported (%s); run its seeds without --jobs\n",
                  k, static_cast<unsigned long long>(o.seed_first + k),
                  static_cast<unsigned long long>(o.seed_first + k), o.jobs, why.c_str());
    }
  }
  return t;
}

void PrintCoverage(const Totals& t) {
  std::printf("fault kinds: runs that had each, of %llu runs\n", static_cast<unsigned long long>(t.runs));
  for (int i = 0; i < dray::sim::kNumFaultKinds; ++i)
    std::printf("  %-32s %10llu\n", dray::sim::kFaultKindNames[i], static_cast<unsigned long long>(t.kind_runs[i]));
  std::printf("code probes (recovery paths): hits, runs that hit it, of %llu runs\n",
              static_cast<unsigned long long>(t.runs));
  std::vector<std::string> unreached;
  for (int i = 0; i < dray::kNumProbes; ++i) {
    auto it = t.probes.find(dray::kAllProbes[i]);
    uint64_t hits = it == t.probes.end() ? 0 : it->second.first;
    uint64_t runs = it == t.probes.end() ? 0 : it->second.second;
    std::printf("  %-32s %10llu %8llu\n", dray::kAllProbes[i], static_cast<unsigned long long>(hits),
                static_cast<unsigned long long>(runs));
    if (hits == 0) unreached.push_back(dray::kAllProbes[i]);
  }
  if (unreached.empty()) {
    std::printf("every probe was reached\n");
  } else {
    std::printf("never reached (%zu): a gap in this swarm:", unreached.size());
    for (const auto& n : unreached) std::printf(" %s", n.c_str());
    std::printf("\n");
  }
}

int main(int argc, char** argv) {
  Options o = ParseArgs(argc, argv);
  if (o.list) {
    std::printf("%-20s %s\n", "random_dag", "a random task DAG checked against a serial run (--tasks, --max-fan-in)");
    std::printf("%-20s %s\n", "actors", "random actor calls from the driver and tasks, with an oracle per call");
    std::printf("%-20s %s\n", "recovery", "limited retries, worker-owned refs and actors, killed actors: documented errors only where faults explain them (--tasks: units)");
    std::printf("%-20s %s\n", "all", "every seed example below, one after the other");
    for (const auto& e : dray::examples::AllExamples()) std::printf("%-20s %s\n", e.name, e.description);
    return 0;
  }

  std::vector<std::string> workloads;
  if (o.workload == "all") {
    for (const auto& e : dray::examples::AllExamples()) workloads.push_back(e.name);
  } else {
    workloads.push_back(o.workload);
  }
  const bool many_seeds = o.seed_last > o.seed_first;
  const bool verbose = !o.quiet && !many_seeds;

  Totals t;
  if (o.jobs > 1 && many_seeds) {
    t = RunInProcesses(o, workloads, verbose);
  } else {
    std::vector<uint64_t> seeds;
    for (uint64_t seed = o.seed_first;; ++seed) {
      seeds.push_back(seed);
      if (seed == o.seed_last) break;
    }
    t = RunSeeds(o, seeds, workloads, verbose);
  }
  if (t.runs > 1)
    std::printf("%llu of %llu runs passed (%llu injected crashes)%s\n",
                static_cast<unsigned long long>(t.runs - t.failed), static_cast<unsigned long long>(t.runs),
                static_cast<unsigned long long>(t.crashes), t.failed ? "; failed runs reproduce with:" : "");
  if (t.runs > 1)
    for (const auto& c : t.repro) std::printf("  %s\n", c.c_str());
  if (t.runs > 1 && (t.net[0] | t.net[1] | t.net[2] | t.net[3] | t.net[4] | t.net[5]))
    std::printf("network: %llu faults injected, %llu frames lost, %llu duplicated, %llu ahead of a gap, %llu messages "
                "held by cuts, %llu inputs deferred by slow nodes\n",
                (unsigned long long)t.net[0], (unsigned long long)t.net[1], (unsigned long long)t.net[2],
                (unsigned long long)t.net[3], (unsigned long long)t.net[4], (unsigned long long)t.net[5]);
  if (o.coverage) PrintCoverage(t);
  return t.failed ? 1 : 0;
}
