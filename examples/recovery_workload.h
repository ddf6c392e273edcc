// A workload whose right answers include the documented errors: tasks with
// limited retries, objects put and returned by workers (borrowed by the
// driver), a worker's put that only its own six tasks use (fan-out; the
// worker drops its ref at once), actors owned by tasks, killed actors, actors
// created from pending arguments. `dray-sim --workload recovery` runs it, so that a swarm reaches
// the recovery paths that end in an error (docs/fault-tolerance.md, coverage).
//
// The oracle stays strict: every value is a pure function of its unit, and an
// error is accepted only where the injected faults explain it:
//   - WorkerCrashedError / ObjectLostError of a limited-retry task, or of a
//     task whose argument is one: only if the run had faults and the error
//     names that task ('leaf#i') and says its retries ran out;
//   - OwnerDiedError for a ref a worker owns: only if the run had faults;
//   - ObjectLostError for an object a worker put: only if a disk fault lost
//     a spilled copy in the run, and the error says the object was put;
//   - ActorDiedError / ActorUnavailableError for an actor that cannot restart
//     or retry (max_restarts 0 or max_task_retries 0) or whose owner is a
//     task: only if the run had faults;
//   - a call to an actor after Kill(no_restart): ActorDiedError, always.
// Anything else (a wrong value, another error, an error without faults)
// fails the run.
#pragma once
#include <cstdint>
#include <string>

namespace dray::workloads {

struct RecoveryParams {
  uint64_t seed = 1;
  int units = 16;  // independent units, each of a kind drawn from the seed
};

struct RecoveryResult {
  bool ok = false;
  std::string error;  // the first unit whose outcome the oracle rejects
  int units = 0;
  int errors_accepted = 0;  // outcomes that were a documented error, explained by faults
};

// REQUIRES: an initialized driver (dray::Init). Drops every ref and handle
// before returning.
RecoveryResult RunRecoveryWorkload(const RecoveryParams& p);

}  // namespace dray::workloads
