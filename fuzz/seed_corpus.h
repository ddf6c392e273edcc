// The codec fuzzer's seed corpus: a valid encoding of every sample message,
// input and effect in tests/message_samples.h (every alternative both
// default-constructed and filled with nested data, plus further shapes; the
// same list the codec tests use). Shared by the standalone driver
// (fuzz/standalone_main.cc), which also writes it out as a libFuzzer corpus
// directory.
#pragma once
#include <string>
#include <vector>

#include "core/proto/codec.h"
#include "fuzz/fuzz_target.h"
#include "tests/message_samples.h"

namespace dray::fuzz {

inline std::vector<Seed> SeedCorpus() {
  std::vector<Seed> out;
  for (const auto& m : samples::SampleMessages())
    out.push_back({std::string("message-") + MessageName(m) + "-" + std::to_string(out.size()), EncodeMessage(m)});
  for (const auto& in : samples::SampleInputs())
    out.push_back({"input-" + std::to_string(in.index()) + "-" + std::to_string(out.size()), EncodeInput(in)});
  for (const auto& e : samples::SampleEffects())
    out.push_back({"effect-" + std::to_string(e.index()) + "-" + std::to_string(out.size()), EncodeEffect(e)});
  return out;
}

}  // namespace dray::fuzz
