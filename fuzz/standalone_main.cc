// A deterministic driver for a fuzz target that needs no libFuzzer: runs
// LLVMFuzzerTestOneInput over the target's seed corpus (fuzz/fuzz_target.h;
// the codec's is fuzz/seed_corpus.h) and then over N mutations of it drawn
// from the project's PRNG (bit flips, truncations, random bytes, interesting
// msgpack bytes, splices).
//
//   <target>_standalone [N] [--seed S]   N mutations (default 200000)
//   <target>_standalone --write-corpus DIR   write the seeds as files, exit
//   <target>_standalone --run FILE...        run the target on files
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/common/prng.h"
#include "fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void RunOne(const std::string& s) { LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

// Bytes that change msgpack structure: nil, bools, fixarray/fixmap/fixstr
// edges, bin/str/array/map headers with 8/16/32-bit lengths, ints, floats.
constexpr uint8_t kInteresting[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2,
                                    0xc3, 0xc4, 0xc5, 0xc6, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0,
                                    0xd3, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};

std::string Mutate(const std::vector<dray::fuzz::Seed>& seeds, dray::Prng& rng) {
  std::string s = seeds[rng.Below(seeds.size())].bytes;
  int rounds = 1 + static_cast<int>(rng.Below(4));
  for (int r = 0; r < rounds; ++r) {
    switch (rng.Below(8)) {
      case 0:  // flip a few bits
        if (!s.empty())
          for (uint64_t k = 1 + rng.Below(8); k > 0; --k) s[rng.Below(s.size())] ^= char(1u << rng.Below(8));
        break;
      case 1:  // truncate
        s.resize(rng.Below(s.size() + 1));
        break;
      case 2:  // overwrite with random bytes
        if (!s.empty())
          for (uint64_t k = 1 + rng.Below(4); k > 0; --k) s[rng.Below(s.size())] = char(rng.Below(256));
        break;
      case 3:  // an interesting byte
        if (!s.empty()) s[rng.Below(s.size())] = char(kInteresting[rng.Below(sizeof kInteresting)]);
        break;
      case 4: {  // insert random bytes
        std::string ins(1 + rng.Below(8), '\0');
        for (auto& c : ins) c = char(rng.Below(256));
        s.insert(rng.Below(s.size() + 1), ins);
        break;
      }
      case 5: {  // delete a range
        if (s.empty()) break;
        size_t at = rng.Below(s.size());
        s.erase(at, 1 + rng.Below(std::min<size_t>(16, s.size() - at)));
        break;
      }
      case 6: {  // splice: a prefix of this, a suffix of another seed
        const std::string& o = seeds[rng.Below(seeds.size())].bytes;
        s = s.substr(0, rng.Below(s.size() + 1)) + o.substr(rng.Below(o.size() + 1));
        break;
      }
      case 7: {  // entirely random bytes, the seeds' first byte (the codec's version) kept half of the time
        std::string t(rng.Below(64), '\0');
        for (auto& c : t) c = char(rng.Below(256));
        if (!t.empty() && rng.Chance(1, 2)) t[0] = seeds[0].bytes.empty() ? '\0' : seeds[0].bytes[0];
        s = std::move(t);
        break;
      }
    }
  }
  return s;
}

int Usage(const std::string& name) {
  std::fprintf(stderr, "usage: %s [N] [--seed S] | --write-corpus DIR | --run FILE...\n", name.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t n = 200000;
  uint64_t seed = 1;
  dray::fuzz::FuzzTarget target = dray::fuzz::MakeFuzzTarget();
  const std::vector<dray::fuzz::Seed>& seeds = target.seeds;
  const char* name = target.name.c_str();
  if (seeds.empty()) {
    std::fprintf(stderr, "%s: no seeds\n", name);
    return 1;
  }
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--write-corpus" && i + 1 < argc) {
      std::filesystem::path dir = argv[++i];
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
      for (const auto& s : seeds) std::ofstream(dir / s.name, std::ios::binary) << s.bytes;
      std::printf("%s: wrote %zu seeds to %s\n", name, seeds.size(), dir.c_str());
      return 0;
    } else if (a == "--run") {
      for (++i; i < argc; ++i) {
        std::ifstream f(argv[i], std::ios::binary);
        if (!f) { std::fprintf(stderr, "cannot read %s\n", argv[i]); return 2; }
        RunOne(std::string(std::istreambuf_iterator<char>(f), {}));
        std::printf("%s: ok\n", argv[i]);
      }
      return 0;
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (!a.empty() && a[0] != '-') {
      char* end = nullptr;
      n = std::strtoull(a.c_str(), &end, 10);
      if (*end) return Usage(target.name);
    } else {
      return Usage(target.name);
    }
  }
  // Every seed must be accepted (else the corpus or the code is broken).
  for (const auto& s : seeds) {
    std::string err;
    if (!target.seed_ok(s, &err)) {
      std::fprintf(stderr, "%s: seed %s is not accepted: %s\n", name, s.name.c_str(), err.c_str());
      return 1;
    }
    RunOne(s.bytes);
  }
  dray::Prng rng(seed);
  uint64_t accepted = 0;
  for (uint64_t i = 0; i < n; ++i) {
    std::string s = Mutate(seeds, rng);
    RunOne(s);
    if (target.accepted(s)) ++accepted;
  }
  std::printf("%s: %zu seeds and %llu mutations (seed %llu) passed; %llu mutations %s\n", name, seeds.size(),
              (unsigned long long)n, (unsigned long long)seed, (unsigned long long)accepted,
              target.accepted_what.c_str());
  return 0;
}
