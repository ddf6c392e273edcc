// What a standalone fuzz driver (fuzz/standalone_main.cc) needs from its
// target beyond LLVMFuzzerTestOneInput: the seed corpus, a check that every
// seed is accepted (else the corpus or the code is broken), and what counts
// as a mutation being accepted, for the summary line. One MakeFuzzTarget per
// standalone binary (fuzz/*_target.cc).
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace dray::fuzz {

struct Seed {
  std::string name;
  std::string bytes;
};

struct FuzzTarget {
  std::string name;  // e.g. "codec_fuzz_standalone"
  std::vector<Seed> seeds;
  std::function<bool(const Seed&, std::string* error)> seed_ok;
  std::function<bool(const std::string& bytes)> accepted;
  std::string accepted_what;  // "still decoded as a message"
};

FuzzTarget MakeFuzzTarget();

}  // namespace dray::fuzz
