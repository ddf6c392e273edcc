// Resource amounts are fixed-point integers: sums never drift.
#include "core/common/resources.h"

#include <gtest/gtest.h>

namespace dray {
namespace {

TEST(Resources, TenthsAddUpExactly) {
  ResourceSet s;
  ResourceSet tenth;
  tenth.SetUnits("CPU", 0.1);
  for (int i = 0; i < 10; ++i) s.Add(tenth);
  ResourceSet one;
  one.SetUnits("CPU", 1.0);
  EXPECT_EQ(s, one);
  EXPECT_EQ(s.Get("CPU"), kResourceUnit);
  // The same sum in doubles drifts; that is why amounts are fixed-point.
  double d = 0;
  for (int i = 0; i < 10; ++i) d += 0.1;
  EXPECT_NE(d, 1.0);
  EXPECT_EQ(ToFixed(d), kResourceUnit);
}

TEST(Resources, ToFixedRoundsToNearest) {
  EXPECT_EQ(ToFixed(0.5), kResourceUnit / 2);
  EXPECT_EQ(ToFixed(0.0001), 1);
  EXPECT_EQ(ToFixed(0.00004), 0);
  EXPECT_EQ(ToFixed(2.99995), 30000);  // rounds, does not truncate
  EXPECT_DOUBLE_EQ(FromFixed(ToFixed(3.25)), 3.25);
}

TEST(Resources, ContainsAndSubtract) {
  ResourceSet node;
  node.SetUnits("CPU", 4);
  node.SetUnits("GPU", 1);
  ResourceSet need;
  need.SetUnits("CPU", 2.5);
  EXPECT_TRUE(node.Contains(need));
  node.Subtract(need);
  EXPECT_EQ(node.Get("CPU"), ToFixed(1.5));
  EXPECT_FALSE(node.Contains(need));  // 1.5 < 2.5
  ResourceSet gpu2;
  gpu2.SetUnits("GPU", 2);
  EXPECT_FALSE(node.Contains(gpu2));
  ResourceSet custom;
  custom.SetUnits("node:7", 0.001);
  EXPECT_FALSE(node.Contains(custom));  // a name the node does not have
  EXPECT_TRUE(node.Contains(ResourceSet{}));  // nothing needed always fits
  node.Add(need);
  EXPECT_EQ(node.Get("CPU"), ToFixed(4));
}

TEST(Resources, ZeroEntriesDisappear) {
  ResourceSet s;
  s.SetUnits("CPU", 1);
  ResourceSet one;
  one.SetUnits("CPU", 1);
  s.Subtract(one);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s, ResourceSet{});
  s.Set("GPU", 0);
  EXPECT_TRUE(s.empty());
}

TEST(Resources, ItemsStaySortedByName) {
  ResourceSet s;
  s.SetUnits("zeta", 1);
  s.SetUnits("CPU", 2);
  s.SetUnits("alpha", 3);
  ASSERT_EQ(s.items().size(), 3u);
  EXPECT_EQ(s.items()[0].first, "CPU");
  EXPECT_EQ(s.items()[1].first, "alpha");
  EXPECT_EQ(s.items()[2].first, "zeta");
  EXPECT_EQ(s.Str(), "{CPU: 2, alpha: 3, zeta: 1}");
}

TEST(ResourcesDeathTest, SubtractingMoreThanAvailableAsserts) {
  ResourceSet s;
  s.SetUnits("CPU", 1);
  ResourceSet two;
  two.SetUnits("CPU", 2);
  EXPECT_DEATH(s.Subtract(two), "subtracting more than is available");
}

}  // namespace
}  // namespace dray
