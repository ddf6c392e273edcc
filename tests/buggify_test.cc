// Buggify (core/common/buggify.h): off without a seed (and then draws
// nothing), on per run per site from the config's seed alone, firing drawn
// from the component's rng; and the hooks of the node manager, the owner and
// the control service do what they say (each a legal, if rare, path).
#include "core/common/buggify.h"

#include <gtest/gtest.h>

#include "core/gcs/control_service.h"
#include "core/node/node_manager.h"
#include "core/owner/owner.h"
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


const Addr kNodeAddr{0, kNodeManagerProc};
const Addr kGcsAddr{0, kControlServiceProc};
const Addr kDriverAddr{0, kFirstUserProc};

// A retried task's resubmission is held back by a timer (1 to 100 ms), then
// sent as usual; without buggify it is sent at once.
TEST(Buggify, OwnerHoldsBackARetry) {
  uint64_t before = ProbeCounter("buggify.owner.retry_backoff");
  for (uint64_t seed : {0, 9}) {
    OwnerConfig oc{kDriverAddr, kNodeAddr, kGcsAddr, false, 5};
    oc.buggify = BuggifyConfig{seed, 1000, 1000};
    testing::Stepper<Owner> o{oc};
    o.Command(CmdStart{});
    o.Deliver(kGcsAddr, JobRegistered{1});
    TaskSpec s;
    s.function = "f";
    s.resources = testing::Cpus(1);
    s.max_retries = 2;
    auto res = testing::Effects<EfCommandResult>(o.Command(CmdSubmit{s}));
    ASSERT_EQ(res.size(), 1u);
    TaskId t = res[0].ids.at(0).Task();
    auto fx = o.Deliver(kNodeAddr, TaskFailed{t, 0, "WorkerCrashedError", "worker died"});
    auto sub = testing::Sent<SubmitTask>(fx);
    auto timers = testing::Effects<EfSetTimer>(fx);
    if (seed == 0) {
      ASSERT_EQ(sub.size(), 1u);
      EXPECT_TRUE(timers.empty());
      continue;
    }
    EXPECT_TRUE(sub.empty());
    ASSERT_EQ(timers.size(), 1u);
    EXPECT_GE(timers[0].at, o.now + 1'000'000);
    EXPECT_LE(timers[0].at, o.now + 100'000'000);
    EXPECT_NE(o.comp.Pending().find("held back"), std::string::npos) << o.comp.Pending();
    // A late report about the old attempt changes nothing; the timer sends it.
    EXPECT_TRUE(testing::Sent<SubmitTask>(o.Deliver(kNodeAddr, TaskFailed{t, 0, "WorkerCrashedError", "late"})).empty());
    o.now = timers[0].at;
    auto sub2 = testing::Sent<SubmitTask>(o.Timer(timers[0].id));
    ASSERT_EQ(sub2.size(), 1u);
    EXPECT_EQ(sub2[0].second.spec.attempt, 1u);
    // Its timer again (a stale one) sends nothing twice.
    EXPECT_TRUE(testing::Sent<SubmitTask>(o.Timer(timers[0].id)).empty());
  }
  EXPECT_EQ(ProbeCounter("buggify.owner.retry_backoff"), before + 1);
}

// A task with an argument in a store, retried without limit, is sent again
// as a newer attempt 1 us to 5 ms later (and maybe the older request once
// more after it); a finished task is not; without buggify nothing is resent.
TEST(Buggify, OwnerResubmitsATaskAsANewerAttempt) {
  uint64_t before = ProbeCounter("buggify.owner.resubmit");
  for (uint64_t seed : {0, 9}) {
    OwnerConfig oc{kDriverAddr, kNodeAddr, kGcsAddr, false, 5};
    oc.buggify = BuggifyConfig{seed, 1000, 1000};
    oc.inline_limit = 10;
    testing::Stepper<Owner> o{oc};
    o.Command(CmdStart{});
    o.Deliver(kGcsAddr, JobRegistered{1});
    auto put = testing::Effects<EfCommandResult>(o.Command(CmdPut{ObjectValue{Buf(std::string(100, 'p')), false, {}}}));
    ASSERT_EQ(put.size(), 1u);
    TaskSpec s;
    s.function = "f";
    s.resources = testing::Cpus(1);
    s.max_retries = -1;
    TaskArg a;
    a.kind = TaskArg::kRef;
    a.ref = RefInfo{put[0].ids.at(0), kDriverAddr};
    s.args.push_back(a);
    auto fx = o.Command(CmdSubmit{s});
    TaskId t = testing::Effects<EfCommandResult>(fx).at(0).ids.at(0).Task();
    auto sub = testing::Sent<SubmitTask>(fx);
    ASSERT_EQ(sub.size(), 1u);
    EXPECT_TRUE(sub[0].second.spec.args.at(0).in_store);
    auto timers = testing::Effects<EfSetTimer>(fx);
    if (seed == 0) {
      EXPECT_TRUE(timers.empty());
      continue;
    }
    ASSERT_EQ(timers.size(), 1u);
    EXPECT_GE(timers[0].at, o.now + 1'000);
    EXPECT_LE(timers[0].at, o.now + 5'000'000);
    o.now = timers[0].at;
    auto again = testing::Sent<SubmitTask>(o.Timer(timers[0].id));
    ASSERT_GE(again.size(), 1u);
    ASSERT_LE(again.size(), 2u);
    EXPECT_EQ(again[0].second.spec.attempt, 1u);  // the newer attempt first
    if (again.size() == 2) {
      EXPECT_EQ(again[1].second.spec.attempt, 0u);  // then the older once more
    }
    // A report about the older attempt is stale now; the newer one's result ends the task.
    EXPECT_TRUE(testing::Sent<SubmitTask>(o.Deliver(kNodeAddr, TaskFailed{t, 0, "WorkerCrashedError", "old"})).empty());
    EXPECT_NE(o.comp.Pending().find("attempt 1"), std::string::npos) << o.comp.Pending();
  }
  EXPECT_EQ(ProbeCounter("buggify.owner.resubmit"), before + 1);
}

// A node that missed health_misses checks is declared dead one period later
// (never sooner) with buggify; a cluster view goes out twice.
TEST(Buggify, ControlServiceHooks) {
  uint64_t miss_before = ProbeCounter("buggify.gcs.extra_health_miss");
  uint64_t twice_before = ProbeCounter("buggify.gcs.view_sent_twice");
  for (uint64_t seed : {0, 9}) {
    ControlServiceConfig c{kGcsAddr, 7};
    c.health_misses = 2;
    c.buggify = BuggifyConfig{seed, 1000, 1000};
    testing::Stepper<ControlService> cs{c};
    cs.Command(CmdStart{});
    Addr n1{1, kNodeManagerProc};
    auto reg = cs.Deliver(n1, RegisterNode{1, n1, testing::Cpus(2), 1 << 20});
    EXPECT_EQ(testing::Sent<ClusterView>(reg).size(), seed ? 2u : 1u);
    int rounds = 0;
    while (cs.comp.nodes().count(1) != 0 && rounds < 10) {
      cs.now += c.health_period_ns;
      cs.Timer(ControlService::kHealthTimer);
      ++rounds;
    }
    // Node 1 never answers; the first round finds it just registered.
    EXPECT_EQ(rounds, seed ? 4 : 3) << "seed " << seed;
  }
  EXPECT_EQ(ProbeCounter("buggify.gcs.extra_health_miss"), miss_before + 1);
  EXPECT_GE(ProbeCounter("buggify.gcs.view_sent_twice"), twice_before + 1);
}

}  // namespace
}  // namespace dray
