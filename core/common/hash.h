// A small, portable 64-bit hash (FNV-1a folded through a splitmix finalizer).
// Used for trace hashes and derived ids; identical on every platform.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace dray {

inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Hasher {
 public:
  Hasher& Bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * 0x100000001b3ULL;
    return *this;
  }
  Hasher& U64(uint64_t v) {
    // Word-at-a-time: cheaper than bytes and still platform independent.
    h_ = Mix64(h_ ^ v) * 0x100000001b3ULL;
    return *this;
  }
  Hasher& Str(std::string_view s) { U64(s.size()); return Bytes(s.data(), s.size()); }
  uint64_t Done() const { return Mix64(h_); }

 private:
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

inline uint64_t HashBytes(const void* data, size_t n) { return Hasher().Bytes(data, n).Done(); }
inline uint64_t HashCombine(uint64_t a, uint64_t b) { return Hasher().U64(a).U64(b).Done(); }

}  // namespace dray
