// What core/api needs from a backend: start this process's cluster
// connection (returning the driver's runtime) and stop it.
#pragma once
#include <memory>
#include <string>

#include "dray/config.h"
#include "dray/internal/runtime.h"

namespace dray::internal {

class Backend {
 public:
  virtual ~Backend() = default;
  // Boots (or joins) the cluster; returns the driver process's runtime.
  virtual ProcessRuntime* StartDriver() = 0;
  virtual void Stop() = 0;
};

// sim/: a seeded simulation described by `spec` (docs/sim.md).
std::unique_ptr<Backend> CreateSimBackend(const Config& config);

// real/: the embedded single-node cluster (Config::address empty), or, in a
// process started as a worker (DRAY_WORKER set), worker mode: its
// StartDriver serves tasks and never returns.
std::unique_ptr<Backend> CreateRealBackend(const Config& config);

// Makes `rt` the runtime of the calling thread.
void SetCurrentRuntime(ProcessRuntime* rt);

}  // namespace dray::internal
