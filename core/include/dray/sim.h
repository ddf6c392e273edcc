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
  // Network faults (docs/fault-tolerance.md).
  uint64_t net_faults = 0;       // one-way cuts, latency spikes, slow nodes and clogs injected
  uint64_t frames_lost = 0;      // frame transmissions lost (each retransmitted after rto_us)
  uint64_t frames_duplicated = 0;  // extra copies sent (dropped by the receiver's sequencing)
  uint64_t frames_reordered = 0;   // frames that arrived ahead of a gap and waited for it
  uint64_t deferred = 0;         // inputs that waited for a slow node's process to finish a step
  uint32_t fault_kinds = 0;      // the fault kinds in effect (faults=swarm: drawn from the seed), as bits
  uint64_t gcs_restarts = 0;     // control-service crashes (each restarted from its SQLite tables)
  uint64_t liveness_failures = 0;  // waits still pending at the liveness bound (docs/sim.md)
  // The object stores' disks (docs/sim.md, "The simulated disk").
  uint64_t spills = 0;         // objects written to a node's spill disk
  uint64_t restores = 0;       // spilled objects read back
  uint64_t spill_deletes = 0;  // spill files deleted (freed objects)
  uint64_t disk_errors = 0;    // restores failed by an injected disk fault (faults=disk_error)
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
// A one-way partition: kOutgoing, node `node` cannot send to any other node
// (its messages wait) but still receives; kIncoming, the reverse. kBoth is
// Partition(node). Heal(node) ends it. Not node 0.
enum class Cut : uint8_t { kBoth = 0, kOutgoing = 1, kIncoming = 2 };
void Partition(uint32_t node, Cut cut);
// Clogs every link of `node` (messages to and from it wait, in order) until
// Unclog(node): what FoundationDB's swizzle does to half the nodes at once.
// A clog is independent of partitions (a node can be both). Not node 0.
void Clog(uint32_t node);
void Unclog(uint32_t node);
// A latency spike: every message to or from `node` takes `extra` longer
// (0 ends it). Per-connection order is kept.
void SlowLinks(uint32_t node, std::chrono::nanoseconds extra);
// A slow node: every step of its processes takes `per_step` of virtual time
// (their inputs wait while one runs, their messages leave at its end);
// 0 ends it.
void SlowNode(uint32_t node, std::chrono::nanoseconds per_step);
// The control service crashes as soon as the driver next waits and restarts
// `down` later, rebuilt from the tables it persisted in SQLite (jobs, nodes,
// dead nodes, actors). Meanwhile messages to it wait (its clients retry) and
// the nodes keep running tasks. A lease lasts 10 s by default: an outage
// longer than that stops every actor (docs/actors.md).
void RestartControlService(std::chrono::nanoseconds down);

}  // namespace dray::sim
