// A random task DAG with a serial oracle: the workload behind the RapidCheck
// property (tests/dag_property_test.cc), `dray-sim --workload random_dag` and
// the large-DAG benchmark.
#pragma once
#include <cstdint>
#include <string>

namespace dray::workloads {

struct DagParams {
  uint64_t seed = 1;
  int tasks = 100;
  int max_fan_in = 4;
  uint64_t max_value_bytes = 200 * 1024;
  bool random_resources = true;
};

struct DagResult {
  bool ok = false;
  std::string error;      // names the first task whose value differs from the oracle
  uint64_t checksum = 0;  // over every task's value, in task order
  int tasks = 0;          // tasks submitted
};

// REQUIRES: called from an initialized driver (dray::Init). Builds a DAG from
// p.seed: task i takes up to max_fan_in earlier results, some as top-level
// ObjectRef arguments (resolved before the call) and some nested in a
// std::vector<ObjectRef> that the task Gets itself; its value's payload is
// drawn on both sides of the 100 KiB inline limit (up to max_value_bytes); its
// demand is 0.5 or 1 CPU. Gets every result, compares it with the same
// functions run serially in-process, and drops every ref before returning.
DagResult RunRandomDag(const DagParams& p);

}  // namespace dray::workloads
