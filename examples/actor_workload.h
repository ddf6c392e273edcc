// A random actor-and-task workload with an oracle: the workload behind the
// actor RapidCheck property (tests/actor_property_test.cc) and
// `dray-sim --workload actors`, so that swarms run actors under faults.
#pragma once
#include <cstdint>
#include <string>

namespace dray::workloads {

struct ActorParams {
  uint64_t seed = 1;
  int actors = 3;         // Ledger actors, one of them named
  int callers = 3;        // tasks that call the actors through handles passed to them
  int calls = 20;         // per caller, and as many from the driver
  bool kill_restart = true;  // the driver kills one actor with restart allowed, midway
};

struct ActorResult {
  bool ok = false;
  std::string error;  // the first call whose result is wrong, or what failed
  int calls = 0;      // calls made
  int restarts_seen = 0;  // calls that reached a later incarnation than their caller's first
};

// REQUIRES: an initialized driver (with faults: task_retries=-1, for the
// caller tasks). Its actors restart and retry calls without limit, so each
// call's value is a pure function of its arguments (the oracle); each
// actor checks that every caller's calls reach it in the caller's order
// within one incarnation (a call out of order throws, failing the run).
// Drops every handle and ref before returning.
ActorResult RunActorWorkload(const ActorParams& p);

}  // namespace dray::workloads
