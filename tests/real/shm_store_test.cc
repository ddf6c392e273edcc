// The shared-memory store's segment and allocator (real/shm_store.h), and a
// frame's large attachments read straight into it (real/wire_frame.h).
#include "real/shm_store.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <map>

#include "real/wire_frame.h"

namespace dray::real {
namespace {

std::shared_ptr<ShmArena> MakeArena(uint64_t bytes) {
  std::string err;
  auto a = ShmArena::Create(bytes, false, &err);
  EXPECT_TRUE(a) << err;
  return a;
}

internal::Bytes Alloc(ShmArena& a, size_t n, char fill) {
  char* out = nullptr;
  internal::Bytes b;
  if (!a.Allocate(n, &out, &b)) return {};
  std::memset(out, fill, n);
  return b;
}

TEST(ShmArena, AllocatesFreesAndCoalesces) {
  auto a = MakeArena(1 << 20);
  internal::Bytes x = Alloc(*a, 300 << 10, 'x');
  internal::Bytes y = Alloc(*a, 300 << 10, 'y');
  internal::Bytes z = Alloc(*a, 300 << 10, 'z');
  ASSERT_EQ(x.size(), 300u << 10);
  ASSERT_EQ(z.size(), 300u << 10);
  EXPECT_EQ(a->live_allocations(), 3u);
  // No room for a fourth: the caller falls back to the heap.
  char* out = nullptr;
  internal::Bytes w;
  EXPECT_FALSE(a->Allocate(300 << 10, &out, &w));
  uint64_t off = 0;
  EXPECT_TRUE(a->Contains(y, &off));
  EXPECT_EQ(off, x.size() + (64 - x.size() % 64) % 64);
  EXPECT_FALSE(a->Contains(internal::Bytes(std::string(10, 'h')), &off));
  // Freeing x and y (two copies of y: freed with the last) leaves one free
  // range of their size, so a value of both sizes fits where they were.
  internal::Bytes y2 = y;
  x = {};
  y = {};
  EXPECT_EQ(a->live_allocations(), 2u);
  y2 = {};
  EXPECT_EQ(a->live_allocations(), 1u);
  internal::Bytes big = Alloc(*a, 600 << 10, 'b');
  ASSERT_EQ(big.size(), 600u << 10);
  EXPECT_TRUE(a->Contains(big, &off));
  EXPECT_EQ(off, 0u);
  EXPECT_EQ(z.view(), std::string(300 << 10, 'z'));  // untouched
}

// Random allocations and frees never hand out overlapping ranges, and the
// accounting returns to zero.
RC_GTEST_PROP(ShmArena, RangesNeverOverlap, ()) {
  auto a = MakeArena(256 << 10);
  std::map<uint64_t, internal::Bytes> live;  // offset -> value
  const int steps = *rc::gen::inRange(1, 200);
  for (int i = 0; i < steps; ++i) {
    if (!live.empty() && *rc::gen::arbitrary<bool>()) {
      auto it = live.begin();
      std::advance(it, *rc::gen::inRange<size_t>(0, live.size()));
      live.erase(it);
      continue;
    }
    size_t n = *rc::gen::inRange<size_t>(1, 64 << 10);
    char* out = nullptr;
    internal::Bytes b;
    if (!a->Allocate(n, &out, &b)) continue;
    uint64_t off = 0;
    RC_ASSERT(a->Contains(b, &off));
    auto next = live.lower_bound(off);
    if (next != live.end()) RC_ASSERT(off + n <= next->first);
    if (next != live.begin()) {
      auto prev = std::prev(next);
      RC_ASSERT(prev->first + prev->second.size() <= off);
    }
    live.emplace(off, std::move(b));
  }
  RC_ASSERT(a->live_allocations() == live.size());
  live.clear();
  RC_ASSERT(a->used_bytes() == 0u);
  char* out = nullptr;
  internal::Bytes whole;
  RC_ASSERT(a->Allocate(256 << 10, &out, &whole));  // coalesced back into one range
}

TEST(ShmView, ReadsWhatTheArenaWroteAndRefusesOutOfRange) {
  auto a = MakeArena(1 << 20);
  internal::Bytes v = Alloc(*a, 100 << 10, 'q');
  uint64_t off = 0;
  ASSERT_TRUE(a->Contains(v, &off));
  std::string err;
  auto view = ShmView::Open(a->path(), &err);
  ASSERT_TRUE(view) << err;
  std::vector<uint64_t> released;
  internal::Bytes seen;
  ASSERT_TRUE(view->Slice(off, v.size(), [&](uint64_t o) { released.push_back(o); }, &seen, &err)) << err;
  EXPECT_EQ(seen.view(), v.view());
  EXPECT_NE(seen.data(), v.data());  // another mapping of the same memory
  seen = {};
  EXPECT_EQ(released, std::vector<uint64_t>{off});
  EXPECT_FALSE(view->Slice(view->size() - 10, 11, nullptr, &seen, &err));
  EXPECT_NE(err.find("outside the node's object store"), std::string::npos) << err;
  EXPECT_FALSE(view->Slice(UINT64_MAX, 2, nullptr, &seen, &err));
  EXPECT_FALSE(ShmView::Open("/proc/self/fd/987654", &err));
  EXPECT_NE(err.find("opening the node's object store"), std::string::npos) << err;
}

TEST(FrameReader, LargeAttachmentsAreReadIntoTheArena) {
  auto a = MakeArena(4 << 20);
  Frame f{"h", {Buf(std::string(internal::kArenaMinBytes, 'L')), Buf(std::string(1000, 's'))}};
  std::string wire = EncodeWireFrame(FrameKind::kMessage, f);
  FrameReader r;
  r.set_arena(a.get());
  size_t at = 0;
  // In pieces, as a socket delivers them.
  for (;;) {
    size_t consumed = 0;
    auto st = r.Feed(wire.data() + at, std::min<size_t>(7000, wire.size() - at), &consumed);
    at += consumed;
    ASSERT_NE(st, FrameReader::Status::kError) << r.error();
    if (st == FrameReader::Status::kFrame) break;
  }
  WireFrame got = r.Take();
  ASSERT_EQ(got.frame.attachments.size(), 2u);
  EXPECT_EQ(got.frame.attachments[0], f.attachments[0]);
  EXPECT_EQ(got.frame.attachments[1], f.attachments[1]);
  uint64_t off = 0;
  EXPECT_TRUE(a->Contains(got.frame.attachments[0], &off));
  EXPECT_FALSE(a->Contains(got.frame.attachments[1], &off));  // small: the heap
}

TEST(FrameReader, SharedMemoryFramesAreAKnownKind) {
  Frame f{std::string(16, '\0') + "x", {Buf(std::string(kShmDescriptorBytes, '\0'))}};
  std::string wire = EncodeWireFrame(FrameKind::kRoutedShm, f);
  FrameReader r;
  size_t consumed = 0;
  ASSERT_EQ(r.Feed(wire.data(), wire.size(), &consumed), FrameReader::Status::kFrame) << r.error();
  EXPECT_EQ(r.Take().kind, FrameKind::kRoutedShm);
}

}  // namespace
}  // namespace dray::real
