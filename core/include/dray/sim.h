// Simulation-only extensions: inspect a simulated cluster from the driver.
// Available when dray runs with DRAY_SIM / Config::sim.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace dray::sim {

// What is left in the cluster, for leak checks once the driver let go.
struct ClusterState {
  uint64_t store_objects = 0;
  uint64_t store_bytes = 0;
  uint64_t leased_workers = 0;
  uint64_t workers = 0;
  uint64_t owned_objects = 0;  // over every owner
  uint64_t borrowed_objects = 0;
  uint64_t pending_tasks = 0;
  uint64_t queued_tasks = 0;
  // Nothing stored, leased, owned, borrowed or pending.
  bool Clean() const {
    return store_objects == 0 && leased_workers == 0 && owned_objects == 0 && borrowed_objects == 0 &&
           pending_tasks == 0 && queued_tasks == 0;
  }
  std::string Str() const;
};

struct RunStats {
  uint64_t steps = 0;       // state-machine steps
  uint64_t messages = 0;    // messages delivered
  uint64_t trace_hash = 0;  // same seed, same hash
  int64_t virtual_ns = 0;
  uint64_t crashes = 0;     // processes crashed by injected faults
  uint64_t held = 0;        // messages held up by partitions (delivered when healed)
};

bool IsSimulation();
// Runs the cluster until nothing is left to happen (or `limit` of virtual time
// passed) and reports what it still holds. Throws dray::Error outside a simulation.
ClusterState RunUntilQuiet(std::chrono::nanoseconds limit = std::chrono::seconds(60));
RunStats CurrentStats();
// The stats of the last simulation that was shut down in this process.
RunStats LastStats();

// Scripted faults. Crashes the worker process running a task named
// `task_name` (its display name), or else an idle worker that ran one last
// (the lowest address first), as soon as the driver next waits; returns false
// if there is no such worker. Throws outside a simulation.
bool CrashWorkerRunning(const std::string& task_name);
// Crashes a whole node (its node manager, its store's contents and every
// worker on it) as soon as the driver next waits. The control service
// declares it dead after its missed health checks (docs/fault-tolerance.md).
// Node 0 runs the driver and cannot be crashed. Throws on a bad node.
void CrashNode(uint32_t node);
// Starts a new node shaped like the others (a crashed node returns as a new
// node, with a new id); returns its id.
uint32_t AddNode();
// Cuts node `node` off from every other node, both ways, until Heal(node):
// messages across the cut wait and arrive, in order, when it heals (as a
// connection that retransmits). Not node 0. A node cut off for longer than
// failure detection takes is declared dead and, once healed, fences itself
// (stops its workers) and is ignored by everyone.
void Partition(uint32_t node);
void Heal(uint32_t node);

}  // namespace dray::sim
