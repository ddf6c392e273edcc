#include "sim/scenario.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "dray/errors.h"

namespace dray::sim {

namespace {
const char* const kKindNames[] = {"crash_worker", "crash_node", "partition", "restart_gcs"};

[[noreturn]] void Bad(const std::string& where, int line, const std::string& what) {
  throw Error("dray: scenario " + where + ", line " + std::to_string(line) + ": " + what);
}

int64_t Number(const std::string& word, const std::string& where, int line, const char* what) {
  if (word.empty() || word.size() > 18 || !std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; }))
    Bad(where, line, std::string(what) + " must be a non-negative integer, got '" + word + "'");
  return std::stoll(word);
}
}  // namespace

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
      if (w.size() == 3) s.tasks = static_cast<int>(Number(w[2], where, line, "the workload's size"));
    } else if (w[0] == "at_us") {
      if (w.size() < 4) Bad(where, line, "a fault is 'at_us T KIND INDEX [DURATION_MS]'");
      ScriptedFault f;
      f.at_us = Number(w[1], where, line, "at_us");
      auto k = std::find(std::begin(kKindNames), std::end(kKindNames), w[2]);
      if (k == std::end(kKindNames))
        Bad(where, line, "unknown fault '" + w[2] + "' (known: crash_worker, crash_node, partition, restart_gcs)");
      f.kind = static_cast<ScriptedFault::Kind>(k - std::begin(kKindNames));
      f.index = static_cast<uint32_t>(Number(w[3], where, line, "the index"));
      if (f.kind == ScriptedFault::kPartition || f.kind == ScriptedFault::kRestartControlService) {
        if (w.size() != 5) Bad(where, line, "'" + w[2] + "' takes an index and a duration in ms");
        f.duration_ms = Number(w[4], where, line, "the duration");
      } else if (w.size() != 4) {
        Bad(where, line, "'" + w[2] + "' takes one index");
      }
      if (!s.faults.empty() && f.at_us < s.faults.back().at_us)
        Bad(where, line, "faults must be in time order");
      s.faults.push_back(f);
    } else {
      Bad(where, line, "unknown line '" + w[0] + "' (known: spec, workload, at_us)");
    }
  }
  return s;
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
    out += "at_us " + std::to_string(f.at_us) + " " + kKindNames[f.kind] + " " + std::to_string(f.index);
    if (f.kind == ScriptedFault::kPartition || f.kind == ScriptedFault::kRestartControlService)
      out += " " + std::to_string(f.duration_ms);
    out += "\n";
  }
  return out;
}

}  // namespace dray::sim
