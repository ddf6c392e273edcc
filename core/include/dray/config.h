#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace dray {

// Options for dray::Init. Flags (Init(argc, argv)) and the environment
// (DRAY_ADDRESS, DRAY_SIM, DRAY_RECORD) fill what is left empty here.
struct Config {
  // Empty: the embedded single-node cluster; else "HOST:PORT" of a cluster.
  std::string address;
  // The embedded cluster's node: CPUs (0: hardware threads) and other resources.
  int num_cpus = 0;
  std::map<std::string, double> resources;
  // Empty: run for real; else a simulation spec, e.g. "seed=42,nodes=5,cpus=2"
  // (docs/sim.md lists every key).
  std::string sim;
  // Non-empty: a real process records its trace into this directory (one
  // file per process, workers included; `dray replay DIR` checks them).
  // DRAY_RECORD fills it. The simulator writes its trace with `trace=`.
  std::string record;
  // A real node's object store (shared memory), in bytes: 0 is 2 GiB. Its
  // pages are faulted in as first used (and stay), or all at Init with
  // `prefault_object_store` (what a benchmark of large puts wants).
  uint64_t object_store_memory = 0;
  bool prefault_object_store = false;
};

}  // namespace dray
