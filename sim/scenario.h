// Scenario files: a fault schedule written down, so that a failure found by
// a swarm or shrunk by RapidCheck replays as it is (`dray-sim --scenario
// FILE`, or `scenario=FILE` in any program's DRAY_SIM). docs/sim.md.
//
//   # comments and blank lines are ignored
//   spec seed=3,nodes=3,cpus=2,task_retries=0     (dray-sim only)
//   workload random_dag 40                         (dray-sim only: name, and tasks)
//   at_us 1500 crash_worker 3                     (the 4th live worker, by address, modulo)
//   at_us 2000 crash_node 1                        (the 2nd live node other than 0; a new node joins)
//   at_us 2500 partition 0 25000                   (cut the 1st node other than 0 for 25000 ms)
//   at_us 3000 restart_gcs 0 2000                  (the control service down for 2000 ms; index unused)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dray::sim {

struct ScriptedFault {
  enum Kind : uint8_t { kCrashWorker, kCrashNode, kPartition, kRestartControlService };
  int64_t at_us = 0;
  Kind kind = kCrashWorker;
  uint32_t index = 0;       // which worker or node, among the live ones in address order (modulo)
  int64_t duration_ms = 0;  // kPartition: how long the cut lasts; kRestartControlService: the outage
  bool operator==(const ScriptedFault&) const = default;
};

struct Scenario {
  std::string spec;      // DRAY_SIM text (without the faults)
  std::string workload;  // dray-sim's workload name
  int tasks = 0;         // random_dag / actors size (0: the default)
  std::vector<ScriptedFault> faults;
};

// Throws dray::Error naming the file, the line and what is wrong.
Scenario ParseScenario(const std::string& text, const std::string& where);
Scenario ReadScenarioFile(const std::string& path);
std::string FormatScenario(const Scenario& s);

}  // namespace dray::sim
