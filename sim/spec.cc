#include "sim/spec.h"

#include <charconv>
#include <vector>

#include "dray/errors.h"

namespace dray::sim {

namespace {
template <class T>
T ParseNumber(const std::string& key, const std::string& v, const std::string& text) {
  T out{};
  const char* b = v.data();
  const char* e = v.data() + v.size();
  auto r = std::from_chars(b, e, out);
  if (v.empty() || r.ec != std::errc() || r.ptr != e)
    throw Error("dray: simulation spec '" + text + "': key '" + key + "' needs a number, got '" + v + "'");
  return out;
}
double ParseDouble(const std::string& key, const std::string& v, const std::string& text) {
  try {
    size_t n = 0;
    double d = std::stod(v, &n);
    if (n != v.size() || d < 0) throw std::invalid_argument("x");
    return d;
  } catch (const std::exception&) {
    throw Error("dray: simulation spec '" + text + "': key '" + key + "' needs a non-negative number, got '" + v + "'");
  }
}
}  // namespace

const char* const kFaultKindNames[] = {"worker_crash", "node_crash", "partition", "one_way_partition",
                                       "latency_spike", "slow_node", "clog", "loss", "duplicate",
                                       "reorder", "buggify", "gcs_restart", "small_store",
                                       "disk_error"};
const int kNumFaultKinds = sizeof(kFaultKindNames) / sizeof(kFaultKindNames[0]);

std::string FaultKindsStr(uint32_t kinds) {
  std::string out;
  for (int i = 0; i < kNumFaultKinds; ++i)
    if (kinds & (1u << i)) out += (out.empty() ? "" : "+") + std::string(kFaultKindNames[i]);
  return out.empty() ? "none" : out;
}

namespace {
// none | workers | swarm | kind+kind+...
void ParseFaults(const std::string& v, const std::string& text, SimSpec* s) {
  s->faults = v;
  s->swarm = false;
  s->fault_kinds = 0;
  if (v == "none") return;
  if (v == "swarm") {
    s->swarm = true;
    return;
  }
  if (v == "workers") {
    s->fault_kinds = kFaultWorkerCrash;
    return;
  }
  std::string known = "none, workers, swarm, or kinds joined by '+': " + [] {
    std::string k;
    for (int i = 0; i < kNumFaultKinds; ++i) k += (i ? ", " : "") + std::string(kFaultKindNames[i]);
    return k;
  }();
  size_t pos = 0;
  while (true) {
    size_t plus = v.find('+', pos);
    std::string kind = v.substr(pos, plus == std::string::npos ? std::string::npos : plus - pos);
    int bit = -1;
    for (int i = 0; i < kNumFaultKinds; ++i)
      if (kind == kFaultKindNames[i]) bit = i;
    if (bit < 0)
      throw Error("dray: simulation spec '" + text + "': faults '" + v + "': unknown fault kind '" + kind +
                  "' (known: " + known + ")");
    s->fault_kinds |= 1u << bit;
    if (plus == std::string::npos) break;
    pos = plus + 1;
  }
}
}  // namespace

SimSpec ParseSimSpec(const std::string& text) {
  SimSpec s;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string::npos)
      throw Error("dray: simulation spec '" + text + "': '" + item + "' is not key=value");
    std::string k = item.substr(0, eq), v = item.substr(eq + 1);
    if (k == "seed") s.seed = ParseNumber<uint64_t>(k, v, text);
    else if (k == "nodes") s.nodes = ParseNumber<uint32_t>(k, v, text);
    else if (k == "cpus") s.cpus = ParseDouble(k, v, text);
    else if (k == "gpus") s.gpus = ParseDouble(k, v, text);
    else if (k == "store_mb") s.store_mb = ParseNumber<uint64_t>(k, v, text);
    else if (k == "store_kb") s.store_kb = ParseNumber<uint64_t>(k, v, text);
    else if (k == "disk_us") s.disk_us = ParseNumber<int64_t>(k, v, text);
    else if (k == "disk_mb_per_s") s.disk_mb_per_s = ParseNumber<uint64_t>(k, v, text);
    else if (k == "disk_error_permille") s.disk_error_permille = ParseNumber<uint32_t>(k, v, text);
    else if (k == "latency_us") s.latency_us = ParseNumber<int64_t>(k, v, text);
    else if (k == "worker_start_us") s.worker_start_us = ParseNumber<int64_t>(k, v, text);
    else if (k == "chunk_kb") s.chunk_kb = ParseNumber<uint64_t>(k, v, text);
    else if (k == "stack_kb") s.stack_kb = ParseNumber<uint64_t>(k, v, text);
    else if (k == "trace") s.trace = v;
    else if (k == "timeline") s.timeline = v;
    else if (k == "invariants") s.check_invariants = ParseNumber<int>(k, v, text) != 0;
    else if (k == "fault_every_us") s.fault_every_us = ParseNumber<int64_t>(k, v, text);
    else if (k == "faults_until_ms") s.faults_until_ms = ParseNumber<int64_t>(k, v, text);
    else if (k == "liveness_ms") s.liveness_ms = ParseNumber<int64_t>(k, v, text);
    else if (k == "task_retries") s.task_retries = ParseNumber<int32_t>(k, v, text);
    else if (k == "actor_restarts") s.actor_restarts = ParseNumber<int32_t>(k, v, text);
    else if (k == "actor_task_retries") s.actor_task_retries = ParseNumber<int32_t>(k, v, text);
    else if (k == "head_cpus") s.head_cpus = ParseNumber<double>(k, v, text);
    else if (k == "inline_kb") s.inline_kb = ParseNumber<uint64_t>(k, v, text);
    else if (k == "health_period_ms") s.health_period_ms = ParseNumber<int64_t>(k, v, text);
    else if (k == "health_misses") s.health_misses = ParseNumber<uint32_t>(k, v, text);
    else if (k == "net_fault_every_us") s.net_fault_every_us = ParseNumber<int64_t>(k, v, text);
    else if (k == "loss_permille") s.loss_permille = ParseNumber<uint32_t>(k, v, text);
    else if (k == "dup_permille") s.dup_permille = ParseNumber<uint32_t>(k, v, text);
    else if (k == "reorder_permille") s.reorder_permille = ParseNumber<uint32_t>(k, v, text);
    else if (k == "rto_us") s.rto_us = ParseNumber<int64_t>(k, v, text);
    else if (k == "faults") ParseFaults(v, text, &s);
    else if (k == "scenario") {
      s.scenario = v;
      s.script = ReadScenarioFile(v).faults;
    }
    else {
      throw Error("dray: simulation spec '" + text + "': unknown key '" + k +
                  "' (known: seed, nodes, cpus, gpus, store_mb, store_kb, disk_us, disk_mb_per_s, disk_error_permille, faults, trace, timeline, latency_us, "
                  "worker_start_us, chunk_kb, stack_kb, invariants, fault_every_us, faults_until_ms, liveness_ms, task_retries, "
                  "actor_restarts, actor_task_retries, head_cpus, inline_kb, health_period_ms, health_misses, "
                  "net_fault_every_us, loss_permille, dup_permille, reorder_permille, rto_us, scenario)");
    }
  }
  if (s.nodes < 1 || s.nodes > 1000) throw Error("dray: simulation spec '" + text + "': nodes must be in [1, 1000]");
  if (s.chunk_kb < 1) throw Error("dray: simulation spec '" + text + "': chunk_kb must be at least 1");
  if (s.health_period_ms < 1 || s.health_misses < 1)
    throw Error("dray: simulation spec '" + text + "': health_period_ms and health_misses must be at least 1");
  if (s.task_retries < -1)
    throw Error("dray: simulation spec '" + text + "': task_retries must be -1 (without limit) or more");
  if (s.actor_restarts < -1)
    throw Error("dray: simulation spec '" + text + "': actor_restarts must be -1 (without limit) or more");
  if (s.actor_task_retries < -1)
    throw Error("dray: simulation spec '" + text + "': actor_task_retries must be -1 (without limit) or more");
  if (s.liveness_ms < 0)
    throw Error("dray: simulation spec '" + text + "': liveness_ms must be 0 (the default bound) or more");
  if (s.fault_every_us < 1)
    throw Error("dray: simulation spec '" + text + "': fault_every_us must be at least 1");
  if (s.net_fault_every_us < 1 || s.rto_us < 1)
    throw Error("dray: simulation spec '" + text + "': net_fault_every_us and rto_us must be at least 1");
  if (s.loss_permille > 900 || s.dup_permille > 1000 || s.reorder_permille > 1000)
    throw Error("dray: simulation spec '" + text +
                "': loss_permille must be at most 900, dup_permille and reorder_permille at most 1000");
  if (s.disk_mb_per_s < 1)
    throw Error("dray: simulation spec '" + text + "': disk_mb_per_s must be at least 1");
  if (s.disk_error_permille > 1000)
    throw Error("dray: simulation spec '" + text + "': disk_error_permille must be at most 1000");
  if (s.stack_kb < 64 || s.stack_kb > (1u << 20))
    throw Error("dray: simulation spec '" + text + "': stack_kb must be between 64 and 1048576");
  return s;
}

int64_t LivenessBoundMs(const SimSpec& s) {
  if (s.liveness_ms > 0) return s.liveness_ms;
  constexpr int64_t kLongestOutageMs = 25'000 + 5'000;
  constexpr int64_t kDetectionRounds = 4;
  constexpr int64_t kWorkloadMs = 60'000;
  return kLongestOutageMs + kDetectionRounds * s.health_period_ms * (s.health_misses + 1) + kWorkloadMs;
}

std::string FormatSimSpec(const SimSpec& s) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "seed=%llu,nodes=%u,cpus=%g,faults=%s", static_cast<unsigned long long>(s.seed),
                s.nodes, s.cpus, s.faults.c_str());
  return buf;
}

}  // namespace dray::sim
