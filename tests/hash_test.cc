// Pins Hasher (core/common/hash.h): trace hashes and derived ids depend on it,
// so a change must be deliberate, and it must not depend on the platform.
#include "core/common/hash.h"

#include <gtest/gtest.h>

#include <string>

namespace dray {
namespace {

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) & 0xff);
  return s;
}

// Both paths of Bytes: short inputs go bytewise, 64 bytes and more go through
// the word lanes and then the tail. The values were computed by an independent
// Python transcription of the algorithm in hash.h, not by this code.
TEST(Hasher, GoldenValues) {
  EXPECT_EQ(HashBytes("", 0), 0xf52a15e9a9b5e89bULL);
  std::string s63 = Pattern(63), s64 = Pattern(64), s1000 = Pattern(1000);
  EXPECT_EQ(HashBytes(s63.data(), s63.size()), 0x6fbcd1eedf6e1b8eULL);
  EXPECT_EQ(HashBytes(s64.data(), s64.size()), 0x7718ad19b374852aULL);
  EXPECT_EQ(HashBytes(s1000.data(), s1000.size()), 0x3c8db00348c0f5fcULL);
  EXPECT_EQ(Hasher().U64(1).U64(2).Done(), 0x63113f0697d49047ULL);
}

// Every single-bit change of a buffer that takes the lane path, in its lanes
// and in its tail, changes the hash; so does its length.
TEST(Hasher, EveryBitMatters) {
  std::string s = Pattern(200);
  uint64_t base = HashBytes(s.data(), s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    for (int b = 0; b < 8; ++b) {
      std::string t = s;
      t[i] = static_cast<char>(t[i] ^ (1 << b));
      ASSERT_NE(HashBytes(t.data(), t.size()), base) << "byte " << i << " bit " << b;
    }
  }
  EXPECT_NE(HashBytes(s.data(), 199), base);
  EXPECT_NE(Hasher().Str(s).Done(), Hasher().Str(s.substr(0, 100)).Str(s.substr(100)).Done());
}

// Swapping two 8-byte words (same lane or not) changes the hash.
TEST(Hasher, WordOrderMatters) {
  std::string s = Pattern(256);
  uint64_t base = HashBytes(s.data(), s.size());
  std::string t = s;
  std::swap_ranges(t.begin(), t.begin() + 8, t.begin() + 32);  // same lane, different block
  EXPECT_NE(HashBytes(t.data(), t.size()), base);
  t = s;
  std::swap_ranges(t.begin(), t.begin() + 8, t.begin() + 8);
  std::swap_ranges(t.begin(), t.begin() + 8, t.begin() + 16);  // different lanes
  EXPECT_NE(HashBytes(t.data(), t.size()), base);
}

}  // namespace
}  // namespace dray
