// DRAY_REMOTE's registry: a name bound to two different functions must not
// silently run one of them for the other.
#include <gtest/gtest.h>

#include "dray/dray.h"

namespace {
int First(int x) { return x; }
int Second(int x) { return -x; }
int Alone(int x) { return x + 1; }
}  // namespace

TEST(Registry, SplitsNamesAndStripsAmpersands) {
  auto n = dray::internal::SplitRemoteNames("Add, &Counter::Inc,  Foo<int, int>::Make");
  ASSERT_EQ(n.size(), 3u);
  EXPECT_EQ(n[0], "Add");
  EXPECT_EQ(n[1], "Counter::Inc");
  EXPECT_EQ(n[2], "Foo<int, int>::Make");
}

TEST(Registry, OneNameTwoFunctionsIsNotCallable) {
  dray::internal::RegisterOne("registry_test_dup", &First);
  ASSERT_NE(dray::internal::FindFunction("registry_test_dup"), nullptr);
  dray::internal::RegisterOne("registry_test_dup", &Second);
  EXPECT_EQ(dray::internal::FindFunction("registry_test_dup"), nullptr);
  EXPECT_EQ(dray::internal::FunctionName(reinterpret_cast<const void*>(&First)), nullptr);
  EXPECT_THROW(dray::Task(&Second), dray::FunctionNotFoundError);
}

TEST(Registry, SameFunctionTwiceIsFine) {
  dray::internal::RegisterOne("registry_test_alone", &Alone);
  dray::internal::RegisterOne("registry_test_alone", &Alone);
  ASSERT_NE(dray::internal::FindFunction("registry_test_alone"), nullptr);
  EXPECT_NE(dray::internal::FunctionName(reinterpret_cast<const void*>(&Alone)), nullptr);
}
