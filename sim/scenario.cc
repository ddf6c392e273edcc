#include "sim/scenario.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/common/assert.h"
#include "dray/errors.h"

namespace dray::sim {

namespace {
const char* const kKindNames[] = {"crash_worker",  "crash_node", "partition",  "restart_gcs",
                                  "partition_out", "partition_in", "clog",     "slow_links",
                                  "slow_node",     "loss",         "duplicate", "reorder",
                                  "disk_error"};
static_assert(sizeof(kKindNames) / sizeof(kKindNames[0]) == ScriptedFault::kNumKinds, "a name per kind");

std::string KnownKinds() {
  std::string out;
  for (const char* k : kKindNames) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

const char* Usage(ScriptedFault::Kind k) {
  switch (ScriptedFaultArgs(k)) {
    case 0: return "an index";
    case 1: return "an index and a duration in ms";
    default:
      return k == ScriptedFault::kSlowLinks   ? "an index, a duration in ms and the extra latency in us"
             : k == ScriptedFault::kSlowNode ? "an index, a duration in ms and the time per step in us"
                                              : "an index (unused), a duration in ms and a rate in permille";
  }
}

[[noreturn]] void Bad(const std::string& where, int line, const std::string& what) {
  throw Error("dray: scenario " + where + ", line " + std::to_string(line) + ": " + what);
}

int64_t Number(const std::string& word, const std::string& where, int line, const char* what,
               int64_t max = 999'999'999'999'999'999) {
  if (word.empty() || word.size() > 18 || !std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; }))
    Bad(where, line, std::string(what) + " must be a non-negative integer, got '" + word + "'");
  int64_t v = std::stoll(word);
  if (v > max) Bad(where, line, std::string(what) + " must be at most " + std::to_string(max) + ", got '" + word + "'");
  return v;
}
}  // namespace

const char* ScriptedFaultName(ScriptedFault::Kind k) {
  DRAY_ASSERT(k < ScriptedFault::kNumKinds, "a scripted fault kind out of range");
  return kKindNames[k];
}

int ScriptedFaultArgs(ScriptedFault::Kind k) {
  switch (k) {
    case ScriptedFault::kCrashWorker:
    case ScriptedFault::kCrashNode: return 0;
    case ScriptedFault::kPartition:
    case ScriptedFault::kRestartControlService:
    case ScriptedFault::kPartitionOut:
    case ScriptedFault::kPartitionIn:
    case ScriptedFault::kClog: return 1;
    default: return 2;
  }
}

Scenario ParseScenario(const std::string& text, const std::string& where) {
  Scenario s;
  std::istringstream in(text);
  std::string raw;
  int line = 0;
  while (std::getline(in, raw)) {
    ++line;
    if (auto hash = raw.find('#'); hash != std::string::npos) raw.resize(hash);
    std::istringstream words(raw);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    if (w.empty()) continue;
    if (w[0] == "spec") {
      if (w.size() != 2) Bad(where, line, "'spec' takes one key=value,... list without spaces");
      s.spec = w[1];
    } else if (w[0] == "workload") {
      if (w.size() < 2 || w.size() > 3) Bad(where, line, "'workload' takes a name and an optional size");
      s.workload = w[1];
      if (w.size() == 3) s.tasks = static_cast<int>(Number(w[2], where, line, "the workload's size", 100'000'000));
    } else if (w[0] == "at_us" || w[0] == "at_ns") {
      const bool ns = w[0] == "at_ns";
      if (w.size() < 4)
        Bad(where, line, ns ? "a fault is 'at_ns T KIND INDEX [DURATION_NS [AMOUNT]]'"
                            : "a fault is 'at_us T KIND INDEX [DURATION_MS [AMOUNT]]'");
      ScriptedFault f;
      if (ns) {
        int64_t t = Number(w[1], where, line, "at_ns");
        f.at_us = t / 1000;
        f.at_ns_part = static_cast<int32_t>(t % 1000);
      } else {
        // At most 9e15 us (285 years), so that the time in ns fits.
        f.at_us = Number(w[1], where, line, "at_us", 9'000'000'000'000'000);
      }
      auto k = std::find(std::begin(kKindNames), std::end(kKindNames), w[2]);
      if (k == std::end(kKindNames)) Bad(where, line, "unknown fault '" + w[2] + "' (known: " + KnownKinds() + ")");
      f.kind = static_cast<ScriptedFault::Kind>(k - std::begin(kKindNames));
      int args = ScriptedFaultArgs(f.kind);
      if (w.size() != static_cast<size_t>(4 + args))
        Bad(where, line, "'" + w[2] + "' takes " + Usage(f.kind) + ", got " + std::to_string(w.size() - 3) + " numbers");
      f.index = static_cast<uint32_t>(Number(w[3], where, line, "the index", 1'000'000));
      if (args >= 1 && ns) {
        int64_t d = Number(w[4], where, line, "the duration");
        f.duration_ms = d / 1'000'000;
        f.duration_ns_part = static_cast<int32_t>(d % 1'000'000);
      } else if (args >= 1) {
        f.duration_ms = Number(w[4], where, line, "the duration");
      }
      if (args >= 2) {
        f.amount = Number(w[5], where, line, IsRateFault(f.kind) ? "the rate" : "the amount");
        if (IsFrameFault(f.kind) && f.amount > 900)
          Bad(where, line, "the rate of '" + w[2] + "' is in permille, at most 900, got " + w[5]);
        if (f.kind == ScriptedFault::kDiskError && f.amount > 1000)
          Bad(where, line, "the rate of '" + w[2] + "' is in permille, at most 1000, got " + w[5]);
        if (!IsRateFault(f.kind) && f.amount > 60'000'000)
          Bad(where, line, "the amount of '" + w[2] + "' is in us, at most 60000000 (a minute), got " + w[5]);
      }
      if (f.duration_ms > 86'400'000 || (f.duration_ms == 86'400'000 && f.duration_ns_part > 0))
        Bad(where, line, std::string("the duration is in ") + (ns ? "ns" : "ms") + ", at most a day, got " + w[4]);
      if (!s.faults.empty() && f.AtNs() < s.faults.back().AtNs())
        Bad(where, line, "faults must be in time order");
      s.faults.push_back(f);
    } else {
      Bad(where, line, "unknown line '" + w[0] + "' (known: spec, workload, at_us, at_ns)");
    }
  }
  return s;
}

ScriptedFault ExactFault(int64_t at_ns, ScriptedFault::Kind kind, uint32_t index, int64_t duration_ns, int64_t amount) {
  DRAY_ASSERT(at_ns >= 0 && duration_ns >= 0, "a fault's moment and duration are not negative");
  ScriptedFault f;
  f.at_us = at_ns / 1000;
  f.at_ns_part = static_cast<int32_t>(at_ns % 1000);
  f.kind = kind;
  f.index = index;
  if (ScriptedFaultArgs(kind) >= 1) {
    f.duration_ms = duration_ns / 1'000'000;
    f.duration_ns_part = static_cast<int32_t>(duration_ns % 1'000'000);
  }
  if (ScriptedFaultArgs(kind) >= 2) f.amount = amount;
  return f;
}

Scenario ReadScenarioFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error("dray: cannot read scenario file '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseScenario(ss.str(), "'" + path + "'");
}

std::string FormatScenario(const Scenario& s) {
  std::string out = "# dray scenario (docs/sim.md): replay with dray-sim --scenario FILE\n";
  if (!s.spec.empty()) out += "spec " + s.spec + "\n";
  if (!s.workload.empty()) out += "workload " + s.workload + (s.tasks ? " " + std::to_string(s.tasks) : "") + "\n";
  for (const auto& f : s.faults) {
    int args = ScriptedFaultArgs(f.kind);
    bool ns = f.at_ns_part != 0 || (args >= 1 && f.duration_ns_part != 0);
    out += (ns ? "at_ns " + std::to_string(f.AtNs()) : "at_us " + std::to_string(f.at_us)) + " " +
           ScriptedFaultName(f.kind) + " " + std::to_string(f.index);
    if (args >= 1) out += " " + std::to_string(ns ? f.DurationNs() : f.duration_ms);
    if (args >= 2) out += " " + std::to_string(f.amount);
    out += "\n";
  }
  return out;
}

}  // namespace dray::sim
