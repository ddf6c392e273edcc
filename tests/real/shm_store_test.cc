// The shared-memory store's segment and allocator (real/shm_store.h), a
// frame's large attachments read straight into it (real/wire_frame.h), and
// the hub's ledger of ranges its workers hold (real/shm_ledger.h).
#include "real/shm_store.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstring>
#include <algorithm>
#include <map>
#include <vector>

#include "real/shm_ledger.h"
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
  auto view = ShmView::Open(a->path(), false, &err);
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
  EXPECT_FALSE(ShmView::Open("/proc/self/fd/987654", false, &err));
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


// ---- the ledger: ranges granted to and lent to worker connections ----

TEST(ShmLedger, AGrantHandedOverBecomesTheHubsValueAndIsFreedOnRelease) {
  auto a = MakeArena(1 << 20);
  ShmLedger l(a, 0);
  EXPECT_EQ(l.grant_max_bytes(), a->capacity() / 2);
  uint64_t off = 0;
  std::string why;
  ASSERT_TRUE(l.Grant(7, 100000, &off, &why)) << why;
  EXPECT_EQ(l.granted_ranges(), 1u);
  EXPECT_EQ(l.granted_bytes(7), 100000u);
  EXPECT_EQ(a->live_allocations(), 1u);
  internal::Bytes v;
  ASSERT_TRUE(l.HandOver(7, off, 100000, &v, &why)) << why;
  EXPECT_EQ(v.size(), 100000u);
  uint64_t at = 0;
  ASSERT_TRUE(a->Contains(v, &at));
  EXPECT_EQ(at, off);
  EXPECT_EQ(l.granted_ranges(), 0u);
  EXPECT_EQ(l.lent_ranges(), 1u);  // the worker still reads its copy
  EXPECT_EQ(l.granted_bytes(7), 0u);
  // Twice: refused, and says so.
  internal::Bytes again;
  EXPECT_FALSE(l.HandOver(7, off, 100000, &again, &why));
  EXPECT_NE(why.find("already handed over"), std::string::npos) << why;
  EXPECT_TRUE(l.Release(7, off));
  EXPECT_EQ(l.lent_ranges(), 0u);
  EXPECT_EQ(a->live_allocations(), 1u);  // the hub's value
  v = {};
  EXPECT_EQ(a->live_allocations(), 0u);
  EXPECT_FALSE(l.Release(7, off));
}

TEST(ShmLedger, AGrantGivenBackIsFreed) {
  auto a = MakeArena(1 << 20);
  ShmLedger l(a, 0);
  uint64_t off = 0;
  std::string why;
  ASSERT_TRUE(l.Grant(3, 70000, &off, &why)) << why;
  EXPECT_TRUE(l.Release(3, off));
  EXPECT_EQ(l.granted_ranges(), 0u);
  EXPECT_EQ(a->live_allocations(), 0u);
  EXPECT_EQ(a->used_bytes(), 0u);
}

TEST(ShmLedger, DescriptorsNotGrantedToThatConnectionAreRefused) {
  auto a = MakeArena(1 << 20);
  ShmLedger l(a, 0);
  uint64_t off = 0;
  std::string why;
  ASSERT_TRUE(l.Grant(1, 70000, &off, &why)) << why;
  internal::Bytes v;
  EXPECT_FALSE(l.HandOver(2, off, 70000, &v, &why));  // another connection's grant
  EXPECT_NE(why.find("not granted"), std::string::npos) << why;
  EXPECT_FALSE(l.HandOver(1, off + 64, 70000, &v, &why));  // inside it, not its start
  EXPECT_FALSE(l.HandOver(1, off, 70001, &v, &why));  // another size
  EXPECT_FALSE(l.HandOver(1, off, 60000, &v, &why));
  EXPECT_FALSE(l.HandOver(1, UINT64_MAX - 8, 16, &v, &why));  // out of bounds
  EXPECT_FALSE(l.Release(2, off));
  EXPECT_EQ(l.granted_ranges(), 1u);
  ASSERT_TRUE(l.HandOver(1, off, 70000, &v, &why)) << why;
}

TEST(ShmLedger, AConnectionThatGoesLeavesNothingHeld) {
  auto a = MakeArena(1 << 20);
  ShmLedger l(a, 0);
  uint64_t g1 = 0, g2 = 0, g3 = 0;
  std::string why;
  ASSERT_TRUE(l.Grant(5, 70000, &g1, &why));
  ASSERT_TRUE(l.Grant(5, 80000, &g2, &why));
  ASSERT_TRUE(l.Grant(6, 90000, &g3, &why));
  internal::Bytes handed;
  ASSERT_TRUE(l.HandOver(5, g2, 80000, &handed, &why));
  internal::Bytes lent = Alloc(*a, 100000, 'l');
  uint64_t lo = 0;
  ASSERT_TRUE(a->Contains(lent, &lo));
  l.Lend(5, lo, lent);
  l.Lend(5, lo, lent);  // a range may be lent twice
  EXPECT_EQ(l.lent_ranges(), 3u);
  EXPECT_EQ(l.granted_ranges(), 2u);
  l.Drop(5);
  EXPECT_EQ(l.lent_ranges(), 0u);
  EXPECT_EQ(l.granted_ranges(), 1u);  // connection 6's
  EXPECT_EQ(a->live_allocations(), 3u);  // handed, lent (held here), connection 6's grant
  handed = {};
  lent = {};
  EXPECT_EQ(a->live_allocations(), 1u);
  l.Drop(6);
  EXPECT_EQ(a->live_allocations(), 0u);
  EXPECT_EQ(a->used_bytes(), 0u);
}

TEST(ShmLedger, GrantsAreBoundedPerConnectionAndByTheStore) {
  auto a = MakeArena(1 << 20);
  ShmLedger l(a, 300 << 10);
  uint64_t off = 0;
  std::string why;
  ASSERT_TRUE(l.Grant(1, 200 << 10, &off, &why)) << why;
  EXPECT_FALSE(l.Grant(1, 200 << 10, &off, &why));  // over this connection's bound
  EXPECT_NE(why.find("not yet handed over"), std::string::npos) << why;
  EXPECT_FALSE(l.Grant(1, 0, &off, &why));
  EXPECT_FALSE(l.Grant(1, UINT64_MAX, &off, &why));
  ASSERT_TRUE(l.Grant(2, 200 << 10, &off, &why)) << why;  // another connection has its own
  ASSERT_TRUE(l.Grant(3, 300 << 10, &off, &why)) << why;
  ASSERT_TRUE(l.Grant(4, 300 << 10, &off, &why)) << why;
  EXPECT_FALSE(l.Grant(5, 300 << 10, &off, &why));  // the store is full: the worker uses its heap
  EXPECT_NE(why.find("no free range"), std::string::npos) << why;
  l.Clear();
  EXPECT_EQ(a->used_bytes(), 0u);
}

// Random grants, hand-overs, lends, releases and drops: the counts match the
// entries, and once every connection is dropped and every value gone, the
// store is empty.
RC_GTEST_PROP(ShmLedger, EveryRangeComesBack, ()) {
  auto a = MakeArena(4 << 20);
  ShmLedger l(a, 1 << 20);
  struct Range {
    uint64_t conn, offset, size;
  };
  std::vector<Range> granted, lent;
  std::vector<internal::Bytes> hub_values;
  const int steps = *rc::gen::inRange(1, 200);
  for (int i = 0; i < steps; ++i) {
    const uint64_t conn = *rc::gen::inRange<uint64_t>(1, 4);
    const int op = *rc::gen::inRange(0, 6);
    std::string why;
    if (op == 0) {
      uint64_t off = 0, n = *rc::gen::inRange<uint64_t>(1, 400 << 10);
      if (l.Grant(conn, n, &off, &why)) granted.push_back({conn, off, n});
    } else if (op == 1 && !granted.empty()) {  // handed over
      size_t k = *rc::gen::inRange<size_t>(0, granted.size());
      Range r = granted[k];
      granted.erase(granted.begin() + static_cast<long>(k));
      internal::Bytes v;
      RC_ASSERT(l.HandOver(r.conn, r.offset, r.size, &v, &why));
      RC_ASSERT(!l.HandOver(r.conn, r.offset, r.size, &v, &why));  // never twice
      hub_values.push_back(v);
      lent.push_back(r);
    } else if (op == 2 && !granted.empty()) {  // given back unused
      size_t k = *rc::gen::inRange<size_t>(0, granted.size());
      RC_ASSERT(l.Release(granted[k].conn, granted[k].offset));
      granted.erase(granted.begin() + static_cast<long>(k));
    } else if (op == 3 && !lent.empty()) {
      size_t k = *rc::gen::inRange<size_t>(0, lent.size());
      RC_ASSERT(l.Release(lent[k].conn, lent[k].offset));
      lent.erase(lent.begin() + static_cast<long>(k));
    } else if (op == 4) {
      l.Drop(conn);
      auto gone = [&](const Range& r) { return r.conn == conn; };
      granted.erase(std::remove_if(granted.begin(), granted.end(), gone), granted.end());
      lent.erase(std::remove_if(lent.begin(), lent.end(), gone), lent.end());
    } else if (op == 5 && !hub_values.empty()) {
      hub_values.erase(hub_values.begin());
    }
    RC_ASSERT(l.granted_ranges() == granted.size());
    RC_ASSERT(l.lent_ranges() == lent.size());
  }
  for (uint64_t c = 1; c < 4; ++c) l.Drop(c);
  hub_values.clear();
  RC_ASSERT(l.granted_ranges() == 0u);
  RC_ASSERT(l.lent_ranges() == 0u);
  RC_ASSERT(a->live_allocations() == 0u);
  RC_ASSERT(a->used_bytes() == 0u);
}

}  // namespace
}  // namespace dray::real
