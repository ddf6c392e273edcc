// The end-to-end benchmark of issue 2: a random task DAG
// (examples/random_dag.h) on a simulated cluster, timed on the wall clock.
// Not a test and not Google Benchmark: one run, its figures printed.
//
//   dag_bench [--tasks N] [--seed S] [--nodes N] [--cpus C] [--invariants 0|1]
//             [--max-fan-in K] [--max-value-bytes B] [--uniform-resources]
//             [--sim EXTRA]   more sim spec keys, e.g. --sim store_mb=8192
// defaults: 100000 tasks, seed 1, 8 nodes x 4 CPUs, invariants checked, the
// workload's defaults (values up to 200 KiB, random 0.5/1 CPU demands).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <dray/dray.h>
#include <dray/sim.h>

#include "random_dag.h"

int main(int argc, char** argv) {
  dray::workloads::DagParams p;
  p.tasks = 100000;
  int nodes = 8;
  std::string cpus = "4";
  std::string invariants = "1";
  std::string extra;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "dag_bench: %s needs a value\n", a.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (a == "--tasks") p.tasks = std::stoi(next());
    else if (a == "--seed") p.seed = std::stoull(next());
    else if (a == "--nodes") nodes = std::stoi(next());
    else if (a == "--cpus") cpus = next();
    else if (a == "--invariants") invariants = next();
    else if (a == "--max-fan-in") p.max_fan_in = std::stoi(next());
    else if (a == "--max-value-bytes") p.max_value_bytes = std::stoull(next());
    else if (a == "--uniform-resources") p.random_resources = false;
    else if (a == "--sim") extra = next();
    else {
      std::fprintf(stderr,
                   "usage: dag_bench [--tasks N] [--seed S] [--nodes N] [--cpus C] [--invariants 0|1] "
                   "[--max-fan-in K] [--max-value-bytes B] [--uniform-resources] [--sim EXTRA]\n");
      return 2;
    }
  }
  std::string spec = "seed=" + std::to_string(p.seed) + ",nodes=" + std::to_string(nodes) + ",cpus=" + cpus +
                     ",invariants=" + invariants + (extra.empty() ? "" : "," + extra);
  auto t0 = std::chrono::steady_clock::now();
  dray::Init(dray::Config{.sim = spec});
  auto t1 = std::chrono::steady_clock::now();
  dray::workloads::DagResult r = dray::workloads::RunRandomDag(p);
  auto t2 = std::chrono::steady_clock::now();
  dray::Shutdown();
  auto t3 = std::chrono::steady_clock::now();
  dray::sim::RunStats s = dray::sim::LastStats();
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  double wall = secs(t0, t3);
  std::printf("dag_bench: sim %s, %d tasks (max_fan_in %d, max_value_bytes %llu, random_resources %d)\n",
              spec.c_str(), r.tasks, p.max_fan_in, static_cast<unsigned long long>(p.max_value_bytes),
              p.random_resources ? 1 : 0);
  std::printf("  result       %s (checksum %016llx)%s%s\n", r.ok ? "ok" : "FAILED",
              static_cast<unsigned long long>(r.checksum), r.ok ? "" : ": ", r.error.c_str());
  std::printf("  wall         %.3f s (init %.3f s, workload %.3f s, shutdown %.3f s)\n", wall, secs(t0, t1),
              secs(t1, t2), secs(t2, t3));
  std::printf("  steps        %llu\n", static_cast<unsigned long long>(s.steps));
  std::printf("  messages     %llu\n", static_cast<unsigned long long>(s.messages));
  std::printf("  steps/s      %.0f (wall)\n", static_cast<double>(s.steps) / wall);
  std::printf("  tasks/s      %.0f (wall)\n", r.tasks / wall);
  std::printf("  virtual time %.6f s\n", static_cast<double>(s.virtual_ns) / 1e9);
  std::printf("  trace hash   %016llx\n", static_cast<unsigned long long>(s.trace_hash));
  return r.ok ? 0 : 1;
}
