// The project's only source of randomness (DESIGN §3): xoshiro256++ seeded
// by splitmix64, unbiased bounded integers, its own shuffle, probabilities as
// integer ratios. Never std::*_distribution: their output differs between
// standard libraries. tests/prng_test.cc pins the output.
#pragma once
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/assert.h"

namespace dray {

class Prng {
 public:
  explicit Prng(uint64_t seed = 0) { Seed(seed); }

  void Seed(uint64_t seed) {
    seed_ = seed;
    uint64_t x = seed;
    for (auto& w : s_) w = SplitMix(x);
  }
  uint64_t seed() const { return seed_; }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[0] + s_[3], 23) + s_[0];
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n), unbiased (Lemire's multiply-and-reject). REQUIRES: n > 0.
  uint64_t Below(uint64_t n) {
    DRAY_ASSERT(n > 0);
    unsigned __int128 m = static_cast<unsigned __int128>(Next()) * n;
    auto low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(Next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  int64_t Range(int64_t lo, int64_t hi) {
    DRAY_ASSERT(lo <= hi);
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }

  // True with probability num/den. REQUIRES: den > 0, num <= den.
  bool Chance(uint64_t num, uint64_t den) {
    DRAY_ASSERT(den > 0 && num <= den);
    return Below(den) < num;
  }

  template <class T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[Below(i)]);
  }

  // A sub-stream that does not shift when other subsystems draw more.
  Prng Fork(uint64_t stream) const { return Prng(SubSeed(seed_, stream)); }
  Prng Fork(std::string_view name) const { return Fork(HashName(name)); }

  static uint64_t SubSeed(uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0x9e3779b97f4a7c15ULL);
    return SplitMix(x) ^ SplitMix(x);
  }
  static uint64_t HashName(std::string_view name) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ULL;
    return h;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t SplitMix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t s_[4];
  uint64_t seed_ = 0;
};

}  // namespace dray
