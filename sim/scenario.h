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
//   at_us 3500 partition_out 0 1000                (the 1st node other than 0 cannot send for 1000 ms)
//   at_us 3500 partition_in 0 1000                 (... cannot receive)
//   at_us 4000 clog 1 500                          (every link of the 2nd node other than 0 held 500 ms)
//   at_us 4500 slow_links 0 300 10000              (the 1st live node, node 0 counted: +10000 us per message, 300 ms)
//   at_us 5000 slow_node 1 300 500                 (the 2nd live node, node 0 counted: 500 us per step, 300 ms)
//   at_us 5500 loss 0 200 50                       (frames between nodes lost at 50 permille for 200 ms; index unused)
//   at_us 5500 duplicate 0 200 50                  (... sent twice)
//   at_us 5500 reorder 0 200 100                   (... held back so that later ones overtake them)
//   at_us 6000 disk_error 0 300 500                (spill restores fail at 500 permille for 300 ms; index unused)
//   at_ns 6000123 clog 1 500000001                 (exact times: the moment and the duration in ns, as
//                                                   a swarm's drawn schedule is written; otherwise as at_us)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dray::sim {

struct ScriptedFault {
  enum Kind : uint8_t {
    kCrashWorker,
    kCrashNode,
    kPartition,
    kRestartControlService,
    kPartitionOut,  // one-way: the node cannot send
    kPartitionIn,   // one-way: the node cannot receive
    kClog,
    kSlowLinks,  // amount: extra us per message
    kSlowNode,   // amount: us per step
    kLoss,       // amount: permille of frame transmissions (at most 900)
    kDuplicate,  // amount: permille
    kReorder,    // amount: permille
    kDiskError,  // amount: permille of spill restores that fail (an I/O error; that copy is lost)
    kNumKinds
  };
  int64_t at_us = 0;
  Kind kind = kCrashWorker;
  uint32_t index = 0;       // which worker or node, among the live ones in address order (modulo)
  int64_t duration_ms = 0;  // every kind but crashes: how long it lasts (restart_gcs: the outage)
  int64_t amount = 0;       // slow_links, slow_node: microseconds; loss, duplicate, reorder: permille
  // An at_ns line: the nanoseconds past at_us (0..999) and past duration_ms
  // (0..999999). 0 in at_us lines.
  int32_t at_ns_part = 0;
  int32_t duration_ns_part = 0;
  int64_t AtNs() const { return at_us * 1000 + at_ns_part; }
  int64_t DurationNs() const { return duration_ms * 1'000'000 + duration_ns_part; }
  bool operator==(const ScriptedFault&) const = default;
};

// A fault at an exact moment and duration in ns (written as an at_ns line
// when either is not a whole us / ms).
ScriptedFault ExactFault(int64_t at_ns, ScriptedFault::Kind kind, uint32_t index, int64_t duration_ns = 0,
                         int64_t amount = 0);

struct Scenario {
  std::string spec;      // DRAY_SIM text (without the faults)
  std::string workload;  // dray-sim's workload name
  int tasks = 0;         // random_dag / actors size (0: the default)
  std::vector<ScriptedFault> faults;
};

// Throws dray::Error naming the file, the line and what is wrong.
Scenario ParseScenario(const std::string& text, const std::string& where);
// The words of a kind ("crash_worker", ...), and how many numbers follow its
// index: 0 (crashes), 1 (a duration) or 2 (a duration and an amount).
const char* ScriptedFaultName(ScriptedFault::Kind k);
int ScriptedFaultArgs(ScriptedFault::Kind k);
// Whether the kind injects frame faults (the network is then sequenced from the start).
inline bool IsFrameFault(ScriptedFault::Kind k) {
  return k == ScriptedFault::kLoss || k == ScriptedFault::kDuplicate || k == ScriptedFault::kReorder;
}
// Whether the kind's amount is a rate in permille (frame faults: at most 900;
// disk errors: at most 1000).
inline bool IsRateFault(ScriptedFault::Kind k) { return IsFrameFault(k) || k == ScriptedFault::kDiskError; }
// What a run's fault streams drew (faults=swarm, or listed kinds), as a
// scenario: `spec` holds the keys that reproduce the faults that are not
// drawn one by one (faults=<kinds>, their rates), `faults` the crashes, cuts,
// spikes, slow nodes and clogs at their exact moments, and `unexpressed` what
// a scenario file cannot say (a replay then differs from the seed's run).
struct DrawnSchedule {
  bool drawn = false;  // the run drew faults from its seed
  std::string spec;
  std::vector<ScriptedFault> faults;
  std::vector<std::string> unexpressed;
};
// Of the last simulation shut down in this process (sim/sim_backend.cc).
DrawnSchedule LastDrawnSchedule();

Scenario ReadScenarioFile(const std::string& path);
std::string FormatScenario(const Scenario& s);

}  // namespace dray::sim
