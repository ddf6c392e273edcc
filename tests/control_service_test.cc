// The control service stepped by hand: jobs, node registration and the
// cluster view it pushes to every node.
#include "core/gcs/control_service.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "step_harness.h"

namespace dray {
namespace {

using testing::Cpus;
using testing::Sent;
using testing::Stepper;

const Addr kGcs{0, kControlServiceProc};
Addr NodeAddr(NodeId n) { return {n, kNodeManagerProc}; }

struct ControlServiceTest : ::testing::Test {
  Stepper<ControlService> cs{ControlServiceConfig{kGcs, 7}};
  std::vector<Effect> Register(NodeId n, double cpus) {
    return cs.Deliver(NodeAddr(n), RegisterNode{n, NodeAddr(n), Cpus(cpus), 1 << 20});
  }
};

TEST_F(ControlServiceTest, RegisterJobAnswersTheDriverWithANewJobId) {
  Addr driver{0, 2};
  auto fx = cs.Deliver(driver, RegisterJob{driver});
  ASSERT_EQ(fx.size(), 2u);  // the answer, and the job table's row written
  auto rows = testing::Effects<EfPersist>(fx);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].table, "jobs");
  auto sent = Sent<JobRegistered>(fx);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].first, driver);
  EXPECT_EQ(sent[0].second.job, 1u);
  Addr other{3, 9};
  auto fx2 = cs.Deliver(other, RegisterJob{other});
  auto sent2 = Sent<JobRegistered>(fx2);
  ASSERT_EQ(sent2.size(), 1u);
  EXPECT_EQ(sent2[0].first, other);
  EXPECT_EQ(sent2[0].second.job, 2u);
  EXPECT_EQ(cs.comp.jobs(), 2u);
}

TEST_F(ControlServiceTest, RegisterNodeBroadcastsTheWholeViewToEveryNode) {
  auto fx = Register(0, 4);
  auto views = Sent<ClusterView>(fx);
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].first, NodeAddr(0));
  ASSERT_EQ(views[0].second.nodes.size(), 1u);
  EXPECT_EQ(views[0].second.nodes[0].total, Cpus(4));
  EXPECT_EQ(views[0].second.nodes[0].available, Cpus(4));
  uint64_t v1 = views[0].second.version;

  auto fx2 = Register(1, 2);
  auto views2 = Sent<ClusterView>(fx2);
  ASSERT_EQ(views2.size(), 2u);  // the old node learns of the new one, and vice versa
  EXPECT_EQ(views2[0].first, NodeAddr(0));
  EXPECT_EQ(views2[1].first, NodeAddr(1));
  for (const auto& [to, v] : views2) {
    EXPECT_GT(v.version, v1);
    ASSERT_EQ(v.nodes.size(), 2u);
    EXPECT_EQ(v.nodes[0].node, 0u);  // ordered by node id
    EXPECT_EQ(v.nodes[1].node, 1u);
    EXPECT_EQ(v.nodes[1].addr, NodeAddr(1));
  }
  EXPECT_EQ(cs.comp.nodes().size(), 2u);
}

TEST_F(ControlServiceTest, ResourceReportUpdatesTheViewAndTellsTheOtherNodes) {
  Register(0, 4);
  Register(1, 4);
  Register(2, 4);
  ResourceReport r{1, Cpus(1.5), 3, {Cpus(16)}, 1};
  auto fx = cs.Deliver(NodeAddr(1), r);
  auto views = Sent<ClusterView>(fx);
  ASSERT_EQ(views.size(), 2u);  // not back to the reporter
  EXPECT_EQ(views[0].first, NodeAddr(0));
  EXPECT_EQ(views[1].first, NodeAddr(2));
  const NodeView& n1 = views[0].second.nodes.at(1);
  EXPECT_EQ(n1.available, Cpus(1.5));
  EXPECT_EQ(n1.total, Cpus(4));
  EXPECT_EQ(n1.queued, 3u);
  ASSERT_EQ(cs.comp.infeasible().count(1), 1u);
  EXPECT_EQ(cs.comp.infeasible().at(1).at(0), Cpus(16));
  // A later report without infeasible demands clears them.
  cs.Deliver(NodeAddr(1), ResourceReport{1, Cpus(4), 0, {}, 2});
  EXPECT_EQ(cs.comp.infeasible().count(1), 0u);
  EXPECT_EQ(cs.comp.nodes().at(1).available, Cpus(4));
}

TEST_F(ControlServiceTest, ReportFromAnUnknownNodeIsIgnored) {
  Register(0, 4);
  auto fx = cs.Deliver(NodeAddr(5), ResourceReport{5, Cpus(1), 0, {}, 1});
  EXPECT_TRUE(fx.empty());
  EXPECT_EQ(cs.comp.nodes().count(5), 0u);
}

TEST_F(ControlServiceTest, OtherInputsDoNothing) {
  EXPECT_TRUE(cs.Timer(99).empty());
  EXPECT_TRUE(cs.Deliver(NodeAddr(0), FreeObjects{}).empty());
}

// ---- failure detection ----

TEST_F(ControlServiceTest, StartArmsTheHealthTimer) {
  auto fx = cs.Command(CmdStart{});
  auto timers = testing::Effects<EfSetTimer>(fx);
  ASSERT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers[0].id, ControlService::kHealthTimer);
  EXPECT_EQ(timers[0].at, 3'000'000'000);  // Ray's default period
}

TEST_F(ControlServiceTest, EachRoundPingsEveryNodeAndRearms) {
  Register(0, 4);
  Register(1, 4);
  cs.now = 3'000'000'000;
  auto fx = cs.Timer(ControlService::kHealthTimer);
  auto pings = Sent<HealthCheck>(fx);
  ASSERT_EQ(pings.size(), 2u);
  EXPECT_EQ(pings[0].first, NodeAddr(0));
  EXPECT_EQ(pings[1].first, NodeAddr(1));
  auto timers = testing::Effects<EfSetTimer>(fx);
  ASSERT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers[0].at, 6'000'000'000);
}

// A node silent for five rounds in a row is declared dead: the view drops it
// and every node and driver hears of the death. A node that answers lives.
TEST_F(ControlServiceTest, FiveMissedRoundsDeclareANodeDead) {
  Addr driver{0, 2};
  cs.Deliver(driver, RegisterJob{driver});
  Register(0, 4);
  Register(1, 4);
  std::vector<Effect> fx;
  for (int round = 1; round <= 6; ++round) {
    cs.now = round * 3'000'000'000LL;
    fx = cs.Timer(ControlService::kHealthTimer);
    auto pings = Sent<HealthCheck>(fx);
    if (!Sent<Deaths>(fx).empty()) break;
    ASSERT_FALSE(pings.empty());
    cs.Deliver(NodeAddr(0), HealthCheckAck{0, pings[0].second.seq});  // node 1 never answers
  }
  auto deaths = Sent<Deaths>(fx);
  ASSERT_EQ(deaths.size(), 2u);  // node 0 and the driver
  EXPECT_EQ(deaths[0].first, NodeAddr(0));
  EXPECT_EQ(deaths[1].first, driver);
  EXPECT_EQ(deaths[0].second.nodes, std::vector<NodeId>{1});
  EXPECT_NE(deaths[0].second.cause.find("missed 5 health checks"), std::string::npos) << deaths[0].second.cause;
  // Declared by round 6: rounds 2..6 each found it silent since the last.
  EXPECT_EQ(cs.now, 6 * 3'000'000'000LL);
  EXPECT_TRUE(cs.comp.IsDead(1));
  EXPECT_FALSE(cs.comp.IsDead(0));
  ASSERT_EQ(cs.comp.nodes().size(), 1u);
  auto views = Sent<ClusterView>(fx);
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].second.nodes.size(), 1u);
}

// Fencing: once dead, a node is ignored, also if it registers again under
// its old id (a restarted node joins as a new node).
TEST_F(ControlServiceTest, ADeadNodeIsFenced) {
  Register(0, 4);
  Register(1, 4);
  for (int round = 1; round <= 6; ++round) {
    cs.now = round * 3'000'000'000LL;
    auto fx = cs.Timer(ControlService::kHealthTimer);
    for (const auto& [to, ping] : Sent<HealthCheck>(fx))
      if (to == NodeAddr(0)) cs.Deliver(NodeAddr(0), HealthCheckAck{0, ping.seq});
  }
  ASSERT_TRUE(cs.comp.IsDead(1));
  // What it sends changes nothing; it is told it was declared dead (so that
  // it fences itself), and nothing else.
  auto fx = cs.Deliver(NodeAddr(1), ResourceReport{1, Cpus(4), 0, {}, 9});
  ASSERT_EQ(fx.size(), 1u);
  auto told = Sent<Deaths>(fx);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].first, NodeAddr(1));
  EXPECT_EQ(told[0].second.nodes, std::vector<NodeId>{1});
  EXPECT_TRUE(Register(1, 4).empty());
  EXPECT_EQ(cs.comp.nodes().size(), 1u);
  // A new node id is welcome.
  EXPECT_EQ(Sent<ClusterView>(Register(2, 4)).size(), 2u);
}

}  // namespace
}  // namespace dray

namespace dray {
namespace {

// A control service restarted from the rows its predecessor persisted has
// the same jobs, nodes, dead nodes and actors (scenario 5 of issue 3 runs
// this in the simulator: tests/gcs_restart_test.cc).
TEST(ControlServiceRecovery, ARestartedControlServiceHasItsTables) {
  const Addr gcs{0, kControlServiceProc};
  testing::Stepper<ControlService> first{ControlServiceConfig{gcs, 7}};
  std::vector<PersistRecord> disk;
  auto keep = [&](const std::vector<Effect>& fx) {
    for (const auto& p : testing::Effects<EfPersist>(fx)) {
      disk.erase(std::remove_if(disk.begin(), disk.end(),
                                [&](const PersistRecord& r) { return r.table == p.table && r.key == p.key; }),
                 disk.end());
      if (!p.erase) disk.push_back(PersistRecord{p.table, p.key, p.value});
    }
  };
  const Addr driver{0, 2};
  keep(first.Deliver(driver, RegisterJob{driver}));
  for (NodeId n : {0u, 1u, 2u})
    keep(first.Deliver(Addr{n, kNodeManagerProc}, RegisterNode{n, Addr{n, kNodeManagerProc}, testing::Cpus(2), 1 << 20}));
  ActorSpec a;
  a.actor = 50;
  a.owner = driver;
  a.job = 1;
  a.name = "kept";
  a.creation.task = TaskId{50};
  a.creation.actor_kind = kActorCreation;
  a.creation.actor = 50;
  keep(first.Deliver(driver, RegisterActor{a}));
  keep(first.Deliver(Addr{1, kNodeManagerProc}, TaskDone{TaskId{50}, 0, Addr{1, 66}, {ReturnObject{}}}));
  // Node 2 goes silent: declared dead after its missed health checks.
  for (int round = 0; round < 7; ++round) {
    first.now += 3'000'000'000;
    for (NodeId n : {0u, 1u}) keep(first.Deliver(Addr{n, kNodeManagerProc}, HealthCheckAck{n, 1}));
    keep(first.Timer(ControlService::kHealthTimer));
  }
  ASSERT_TRUE(first.comp.IsDead(2));

  ControlServiceConfig cfg{gcs, 7};
  cfg.recovered = disk;
  testing::Stepper<ControlService> second{cfg};
  EXPECT_TRUE(second.comp.recovered());
  EXPECT_EQ(second.comp.jobs(), 1u);
  EXPECT_EQ(second.comp.nodes().size(), 2u);
  EXPECT_TRUE(second.comp.IsDead(2));
  const ActorInfo* info = second.comp.actors().Find(50);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->state, kActorAlive);
  EXPECT_EQ(info->worker, (Addr{1, 66}));
  // The name came back, and the next job id follows the recovered ones.
  auto found = testing::Sent<ActorInfo>(second.Deliver(driver, GetActorInfo{0, "kept", 1, 3}));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(found[0].second.found);
  auto job = testing::Sent<JobRegistered>(second.Deliver(Addr{0, 3}, RegisterJob{Addr{0, 3}}));
  ASSERT_EQ(job.size(), 1u);
  EXPECT_EQ(job[0].second.job, 2u);
}

}  // namespace
}  // namespace dray
