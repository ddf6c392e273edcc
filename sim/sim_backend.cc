// The simulator as a backend of the public API, and the dray/sim.h extensions.
#include <cstdio>
#include <cstdlib>

#include "core/api/backend.h"
#include "dray/errors.h"
#include "dray/sim.h"
#include "sim/world.h"

namespace dray {
namespace sim {
namespace {
World* g_world = nullptr;
RunStats g_last;
DrawnSchedule g_last_drawn;

class SimBackend final : public internal::Backend {
 public:
  explicit SimBackend(SimSpec spec) : world_(std::move(spec)) {}
  internal::ProcessRuntime* StartDriver() override {
    g_world = &world_;
    return world_.StartDriver();
  }
  void Stop() override {
    world_.Stop();
    g_last = world_.Stats();
    g_last_drawn = world_.Drawn();
    g_world = nullptr;
    if (std::getenv("DRAY_SIM_STATS"))
      std::fprintf(stderr, "dray sim: %s steps=%llu messages=%llu virtual=%.6fs trace_hash=%016llx\n",
                   FormatSimSpec(world_.spec()).c_str(), (unsigned long long)g_last.steps,
                   (unsigned long long)g_last.messages, g_last.virtual_ns / 1e9,
                   (unsigned long long)g_last.trace_hash);
  }

 private:
  World world_;
};
}  // namespace

std::string ClusterState::Str() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "store_objects=%llu store_bytes=%llu leased_workers=%llu workers=%llu owned=%llu borrowed=%llu "
                "pending_tasks=%llu queued=%llu",
                (unsigned long long)store_objects, (unsigned long long)store_bytes, (unsigned long long)leased_workers,
                (unsigned long long)workers, (unsigned long long)owned_objects, (unsigned long long)borrowed_objects,
                (unsigned long long)pending_tasks, (unsigned long long)queued_tasks);
  return buf;
}

bool IsSimulation() { return g_world != nullptr; }
ClusterState RunUntilQuiet(std::chrono::nanoseconds limit) {
  if (!g_world) throw Error("dray::sim::RunUntilQuiet: not running in a simulation");
  return g_world->RunUntilQuiet(limit.count());
}
RunStats CurrentStats() {
  if (!g_world) throw Error("dray::sim::CurrentStats: not running in a simulation");
  return g_world->Stats();
}
RunStats LastStats() { return g_last; }
DrawnSchedule LastDrawnSchedule() { return g_last_drawn; }
void CrashNode(uint32_t node) {
  if (!g_world) throw Error("dray::sim::CrashNode: not running in a simulation");
  g_world->CrashNode(node);
}
void Partition(uint32_t node) {
  if (!g_world) throw Error("dray::sim::Partition: not running in a simulation");
  g_world->Partition(node);
}
void Partition(uint32_t node, Cut cut) {
  if (!g_world) throw Error("dray::sim::Partition: not running in a simulation");
  g_world->Partition(node, static_cast<uint8_t>(cut));
}
void Clog(uint32_t node) {
  if (!g_world) throw Error("dray::sim::Clog: not running in a simulation");
  g_world->Clog(node, true);
}
void Unclog(uint32_t node) {
  if (!g_world) throw Error("dray::sim::Unclog: not running in a simulation");
  g_world->Clog(node, false);
}
void SlowLinks(uint32_t node, std::chrono::nanoseconds extra) {
  if (!g_world) throw Error("dray::sim::SlowLinks: not running in a simulation");
  g_world->SlowLinks(node, extra.count());
}
void SlowNode(uint32_t node, std::chrono::nanoseconds per_step) {
  if (!g_world) throw Error("dray::sim::SlowNode: not running in a simulation");
  g_world->SlowNode(node, per_step.count());
}
void Heal(uint32_t node) {
  if (!g_world) throw Error("dray::sim::Heal: not running in a simulation");
  g_world->Heal(node);
}
void RestartControlService(std::chrono::nanoseconds down) {
  if (!g_world) throw Error("dray::sim::RestartControlService: not running in a simulation");
  g_world->RestartControlService(down.count());
}
uint32_t AddNode() {
  if (!g_world) throw Error("dray::sim::AddNode: not running in a simulation");
  return g_world->AddNode();
}
bool CrashWorkerRunning(const std::string& task_name) {
  if (!g_world) throw Error("dray::sim::CrashWorkerRunning: not running in a simulation");
  return g_world->CrashWorkerRunning(task_name);
}
}  // namespace sim

namespace internal {
std::unique_ptr<Backend> CreateSimBackend(const Config& config) {
  sim::SimSpec spec = sim::ParseSimSpec(config.sim);
  return std::make_unique<sim::SimBackend>(std::move(spec));
}
}  // namespace internal
}  // namespace dray
