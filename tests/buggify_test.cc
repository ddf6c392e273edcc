// Buggify (core/common/buggify.h): off without a seed (and then draws
// nothing), on per run per site from the config's seed alone, firing drawn
// from the component's rng; and a node manager's hooks do what they say.
#include "core/common/buggify.h"

#include <gtest/gtest.h>

#include "core/node/node_manager.h"
#include "step_harness.h"

namespace dray {
namespace {

TEST(Buggify, OffWithoutASeedAndDrawsNothing) {
  BuggifyConfig off;
  Prng rng(7), same(7);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(BuggifyFires(off, "node.late_report", rng));
  EXPECT_EQ(rng.Next(), same.Next());  // no draw moved the component's rng
}

TEST(Buggify, ASiteIsOnForTheWholeRunFromTheSeedAlone) {
  int on = 0;
  for (uint64_t seed = 1; seed <= 1000; ++seed) {
    BuggifyConfig c{seed};
    bool a = BuggifySiteOn(c, "x.site");
    EXPECT_EQ(a, BuggifySiteOn(c, "x.site"));  // the same answer every time
    on += a;
  }
  EXPECT_GT(on, 180);  // about site_permille (250) of runs
  EXPECT_LT(on, 320);
  BuggifyConfig always{1, 1000, 1000}, never{1, 0, 1000};
  Prng rng(1);
  EXPECT_TRUE(BuggifyFires(always, "x.site", rng));
  EXPECT_FALSE(BuggifyFires(never, "x.site", rng));
}

NodeManagerConfig Config(uint64_t buggify_seed) {
  NodeManagerConfig c;
  c.node = 1;
  c.gcs = Addr{0, kControlServiceProc};
  c.total = testing::Cpus(2);
  c.seed = 5;
  c.buggify = BuggifyConfig{buggify_seed, 1000, 1000};  // every site on, firing every time
  return c;
}

// A dirty node reports 100x later; a small stored object is served in tiny
// chunks.
TEST(Buggify, NodeManagerHooks) {
  uint64_t late_before = ProbeCounter("buggify.node.late_report");
  uint64_t tiny_before = ProbeCounter("buggify.node.tiny_pull_chunks");
  for (uint64_t seed : {0, 9}) {
    testing::Stepper<NodeManager> nm{Config(seed)};
    TaskSpec s;
    s.task = TaskId{1};
    s.job = 1;
    s.function = s.name = "f";
    s.owner = Addr{0, kFirstUserProc};
    s.resources = testing::Cpus(8);  // infeasible: the node reports it
    auto timers = testing::Effects<EfSetTimer>(nm.Deliver(s.owner, SubmitTask{s}));
    ASSERT_EQ(timers.size(), 1u);
    EXPECT_EQ(timers[0].at, nm.now + (seed ? 100 : 1) * Config(seed).report_delay_ns);
  }
  EXPECT_EQ(ProbeCounter("buggify.node.late_report"), late_before + 1);
  EXPECT_EQ(ProbeCounter("buggify.node.tiny_pull_chunks"), tiny_before);
}

}  // namespace
}  // namespace dray
