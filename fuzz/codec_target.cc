// The codec fuzz target's seeds for the standalone driver: every sample
// message, input and effect (fuzz/seed_corpus.h); each must decode.
#include "fuzz/fuzz_target.h"
#include "fuzz/seed_corpus.h"

namespace dray::fuzz {

FuzzTarget MakeFuzzTarget() {
  FuzzTarget t;
  t.name = "codec_fuzz_standalone";
  t.seeds = SeedCorpus();
  t.seed_ok = [](const Seed& s, std::string* err) {
    Message m;
    Input in;
    Effect e;
    return s.name.rfind("message-", 0) == 0 ? DecodeMessage(s.bytes.data(), s.bytes.size(), &m, err)
           : s.name.rfind("input-", 0) == 0 ? DecodeInput(s.bytes.data(), s.bytes.size(), &in, err)
                                            : DecodeEffect(s.bytes.data(), s.bytes.size(), &e, err);
  };
  t.accepted = [](const std::string& s) {
    Message m;
    std::string err;
    return DecodeMessage(s.data(), s.size(), &m, &err);
  };
  t.accepted_what = "still decoded as a message";
  return t;
}

}  // namespace dray::fuzz
