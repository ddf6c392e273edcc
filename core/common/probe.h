// Code probes (FoundationDB's CODE_PROBE): each recovery path counts how often
// it ran, so that a swarm can show which paths it reached and which it never
// did (`dray-sim --coverage`). Counting changes no behaviour; the counters are
// per process and reset by the caller (the simulator, between runs).
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace dray {

struct ProbeRegistry {
  std::map<std::string, uint64_t> hits;  // every probe, also those never hit
  static ProbeRegistry& Get() {
    static ProbeRegistry r;
    return r;
  }
};

// Registers a probe at its first use in the process. Probes are listed in
// kAllProbes (probe.cc) too, so that one never reached still shows, at 0.
inline uint64_t& ProbeCounter(const char* name) { return ProbeRegistry::Get().hits[name]; }

// Every probe of the code base, for the coverage table.
extern const char* const kAllProbes[];
extern const int kNumProbes;

}  // namespace dray

// A recovery path ran once.
#define DRAY_PROBE(name)                                          \
  do {                                                            \
    static uint64_t& dray_probe_counter = ::dray::ProbeCounter(name); \
    ++dray_probe_counter;                                         \
  } while (0)
