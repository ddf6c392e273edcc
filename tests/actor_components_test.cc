// The actor paths of each component, stepped by hand: the control service's
// actor table, the node manager's hosting and lease, the Owner's per-caller
// queue on the worker side and its calls on the caller side.
#include <gtest/gtest.h>

#include "core/gcs/control_service.h"
#include "core/node/node_manager.h"
#include "core/owner/owner.h"
#include "core/proto/codec.h"
#include "step_harness.h"

namespace dray {
namespace {

using testing::Cpus;
using testing::Effects;
using testing::Sent;
using testing::Stepper;

const Addr kGcs{0, kControlServiceProc};
const Addr kDriver{0, kFirstUserProc};
Addr NodeAddr(NodeId n) { return {n, kNodeManagerProc}; }

ActorSpec Spec(uint64_t id, const std::string& name = "", int32_t max_restarts = 0) {
  ActorSpec a;
  a.actor = id;
  a.owner = kDriver;
  a.job = 1;
  a.name = name;
  a.class_name = "Counter";
  a.creation.task = TaskId{id};
  a.creation.function = "Counter::Create";
  a.creation.actor_kind = kActorCreation;
  a.creation.actor = id;
  a.creation.resources = Cpus(1);
  a.max_restarts = max_restarts;
  return a;
}

struct GcsActors : ::testing::Test {
  Stepper<ControlService> cs{ControlServiceConfig{kGcs, 7}};
  void SetUp() override {
    cs.Deliver(NodeAddr(0), RegisterNode{0, NodeAddr(0), Cpus(2), 1 << 20});
    cs.Deliver(NodeAddr(1), RegisterNode{1, NodeAddr(1), Cpus(2), 1 << 20});
  }
  // The creation of incarnation `inc` finished on `worker`.
  std::vector<Effect> Created(uint64_t id, uint32_t inc, Addr worker, bool threw = false) {
    TaskDone d{TaskId{id}, inc, worker, {}};
    ReturnObject r;
    r.id = ObjectId::Return(TaskId{id}, 1);
    r.value.is_error = threw;
    if (threw) r.value.data = Buf(Pack(ErrorRecord{"TaskError", "Counter::Create", "std::invalid_argument", "bad"}));
    d.returns.push_back(r);
    return cs.Deliver(NodeAddr(worker.node), d);
  }
  const ActorInfo& Info(uint64_t id) { return *cs.comp.actors().Find(id); }
};

TEST_F(GcsActors, RegisterPlacesTheCreationOnTheOwnersNodeAndPublishesAlive) {
  auto fx = cs.Deliver(kDriver, RegisterActor{Spec(50)});
  auto reg = Sent<ActorRegistered>(fx);
  ASSERT_EQ(reg.size(), 1u);
  EXPECT_TRUE(reg[0].second.ok);
  auto submit = Sent<SubmitTask>(fx);
  ASSERT_EQ(submit.size(), 1u);
  EXPECT_EQ(submit[0].first, NodeAddr(0));
  EXPECT_EQ(submit[0].second.spec.owner, kGcs);  // its failures come to the control service
  EXPECT_EQ(Info(50).state, kActorPending);
  auto alive = Sent<ActorInfo>(Created(50, 0, Addr{0, 66}));
  ASSERT_EQ(alive.size(), 1u);
  EXPECT_EQ(alive[0].first, kDriver);  // the owner is subscribed
  EXPECT_EQ(alive[0].second.state, kActorAlive);
  EXPECT_EQ(alive[0].second.worker, (Addr{0, 66}));
}

TEST_F(GcsActors, NamesAreUniqueWhileTheActorLives) {
  cs.Deliver(kDriver, RegisterActor{Spec(50, "c")});
  auto fx = cs.Deliver(kDriver, RegisterActor{Spec(51, "c")});
  auto reg = Sent<ActorRegistered>(fx);
  ASSERT_EQ(reg.size(), 1u);
  EXPECT_FALSE(reg[0].second.ok);
  EXPECT_NE(reg[0].second.error.find("'c'"), std::string::npos);
  auto found = Sent<ActorInfo>(cs.Deliver(Addr{1, 70}, GetActorInfo{0, "c", 1, 9}));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_TRUE(found[0].second.found);
  EXPECT_EQ(found[0].second.actor, 50u);
  EXPECT_EQ(found[0].second.request, 9u);
  cs.Deliver(kDriver, KillActor{50, true, "Kill"});
  auto gone = Sent<ActorInfo>(cs.Deliver(Addr{1, 70}, GetActorInfo{0, "c", 1, 10}));
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_FALSE(gone[0].second.found);  // the name is free again
}

TEST_F(GcsActors, AWorkerDeathRestartsUntilRestartsRunOut) {
  cs.Deliver(kDriver, RegisterActor{Spec(50, "", 1)});
  Created(50, 0, Addr{1, 66});
  auto fx = cs.Deliver(NodeAddr(1), Deaths{{Addr{1, 66}}, {}, "crashed"});
  EXPECT_EQ(Info(50).state, kActorRestarting);
  EXPECT_EQ(Info(50).incarnation, 1u);
  auto again = Sent<SubmitTask>(fx);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].second.spec.attempt, 1u);
  Created(50, 1, Addr{0, 67});
  cs.Deliver(NodeAddr(0), Deaths{{Addr{0, 67}}, {}, "crashed again"});
  EXPECT_EQ(Info(50).state, kActorDead);
  EXPECT_NE(Info(50).cause.find("no restarts left of 1"), std::string::npos) << Info(50).cause;
}

TEST_F(GcsActors, KillWhileCreatingRestartsOnceTheCreationStoppedAndAThrowingConstructorKills) {
  cs.Deliver(kDriver, RegisterActor{Spec(50, "", -1)});
  // Killed (restart allowed) while incarnation 0 is being created: one
  // creation at a time, so nothing is placed yet.
  EXPECT_TRUE(Sent<SubmitTask>(cs.Deliver(kDriver, KillActor{50, false, "Kill"})).empty());
  auto done = Created(50, 0, Addr{0, 66});
  auto stop = Sent<StopActor>(done);
  ASSERT_EQ(stop.size(), 1u);
  EXPECT_EQ(stop[0].second.incarnation, 0u);
  EXPECT_TRUE(Sent<SubmitTask>(done).empty());
  EXPECT_EQ(Info(50).state, kActorRestarting);
  auto next = Sent<SubmitTask>(cs.Deliver(NodeAddr(0), Deaths{{Addr{0, 66}}, {}, "actor worker stopped"}));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].second.spec.attempt, 1u);
  // A result of an incarnation nobody wants is stopped.
  EXPECT_EQ(Sent<StopActor>(Created(50, 0, Addr{0, 68})).size(), 1u);
  Created(50, 1, Addr{0, 67}, /*threw=*/true);
  EXPECT_EQ(Info(50).state, kActorDead);
  EXPECT_NE(Info(50).cause.find("std::invalid_argument: bad"), std::string::npos) << Info(50).cause;
}

TEST_F(GcsActors, KillWithRestartWaitsForTheOldWorkerToStop) {
  cs.Deliver(kDriver, RegisterActor{Spec(50, "", 1)});
  Created(50, 0, Addr{1, 66});
  auto fx = cs.Deliver(kDriver, KillActor{50, false, "Kill"});
  EXPECT_EQ(Sent<StopActor>(fx).size(), 1u);
  EXPECT_EQ(Sent<SubmitTask>(fx).size(), 0u);  // not yet: the old one may still run
  auto stopped = cs.Deliver(NodeAddr(1), Deaths{{Addr{1, 66}}, {}, "actor worker stopped"});
  EXPECT_EQ(Sent<SubmitTask>(stopped).size(), 1u);
}

TEST_F(GcsActors, AnActorDiesWithItsOwnerAndLeasesGoOnlyToLiveNodes) {
  cs.Deliver(kDriver, RegisterActor{Spec(50, "", -1)});
  Created(50, 0, Addr{1, 66});
  cs.Deliver(NodeAddr(0), Deaths{{kDriver}, {}, "driver exited"});
  EXPECT_EQ(Info(50).state, kActorDead);
  EXPECT_NE(Info(50).cause.find("owner"), std::string::npos);
  auto granted = Sent<LeaseGranted>(cs.Deliver(NodeAddr(1), RenewLease{1, 4}));
  ASSERT_EQ(granted.size(), 1u);
  EXPECT_EQ(granted[0].second.nonce, 4u);
}

// ---- node manager ----

struct NodeActors : ::testing::Test {
  Stepper<NodeManager> nm{MakeConfig()};
  static NodeManagerConfig MakeConfig() {
    NodeManagerConfig c;
    c.node = 1;
    c.gcs = kGcs;
    c.total = Cpus(2);
    c.lease_ns = 10'000;
    c.lease_renew_ns = 3'000;
    return c;
  }
  Addr worker{1, 66};
  TaskSpec creation;
  void SetUp() override {
    nm.Command(CmdStart{});
    nm.Deliver(kGcs, LeaseGranted{0});  // good until 10'000
    nm.Deliver(worker, RegisterWorker{worker});
    creation.task = TaskId{50};
    creation.owner = kGcs;
    creation.actor_kind = kActorCreation;
    creation.actor = 50;
    creation.resources = Cpus(1);
    creation.name = "Counter::Create";
  }
  void Create() {
    auto fx = nm.Deliver(kGcs, SubmitTask{creation});
    ASSERT_EQ(Sent<ExecuteTask>(fx).size(), 1u);
    nm.Deliver(worker, TaskFinished{creation.task, {}});
    TaskDone d{creation.task, 0, worker, {ReturnObject{}}};
    auto fwd = Sent<TaskDone>(nm.Deliver(worker, d));
    ASSERT_EQ(fwd.size(), 1u);
    EXPECT_EQ(fwd[0].first, kGcs);
  }
  TaskSpec Call(uint64_t seq, uint32_t inc = 0) {
    TaskSpec s;
    s.task = TaskId{100 + seq};
    s.owner = kDriver;
    s.actor_kind = kActorCall;
    s.actor = 50;
    s.incarnation = inc;
    s.actor_seq = seq;
    s.name = "Counter::Inc";
    return s;
  }
};

TEST_F(NodeActors, ACreatedActorKeepsItsWorkerAndNoCpu) {
  Create();
  EXPECT_EQ(nm.comp.actors(), 1u);
  EXPECT_EQ(nm.comp.available().Get("CPU"), Cpus(2).Get("CPU"));  // 1 CPU to place, 0 to run
  auto fx = nm.Deliver(kDriver, SubmitTask{Call(0)});
  auto exec = Sent<ExecuteTask>(fx);
  ASSERT_EQ(exec.size(), 1u);
  EXPECT_EQ(exec[0].first, worker);
  // Its TaskFinished does not make it idle for other tasks.
  nm.Deliver(worker, TaskFinished{TaskId{100}, {}});
  TaskSpec t;
  t.task = TaskId{7};
  t.owner = kDriver;
  t.resources = Cpus(1);
  auto other = nm.Deliver(kDriver, SubmitTask{t});
  for (const auto& [to, m] : Sent<ExecuteTask>(other)) EXPECT_NE(to, worker);
}

TEST_F(NodeActors, ACallForAnotherIncarnationFails) {
  Create();
  auto fx = nm.Deliver(kDriver, SubmitTask{Call(0, /*inc=*/3)});
  auto failed = Sent<TaskFailed>(fx);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].first, kDriver);
  EXPECT_EQ(failed[0].second.kind, "ActorUnavailableError");
}

TEST_F(NodeActors, ALapsedLeaseStopsTheActors) {
  Create();
  nm.now = 10'000;  // no grant since the one asked at 0
  auto fx = nm.Timer(NodeManager::kLeaseExpiryTimer);
  auto stops = Effects<EfStopWorker>(fx);
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].worker, worker);
  EXPECT_EQ(nm.comp.actors(), 0u);
  auto deaths = Sent<Deaths>(fx);
  ASSERT_EQ(deaths.size(), 1u);
  EXPECT_EQ(deaths[0].second.procs, std::vector<Addr>{worker});
  // And no creation without a lease.
  auto refused = Sent<TaskFailed>(nm.Deliver(kGcs, SubmitTask{creation}));
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].first, kGcs);
}

TEST_F(NodeActors, ARenewedLeaseCountsFromWhenItWasAsked) {
  nm.now = 3'000;
  auto ask = Sent<RenewLease>(nm.Timer(NodeManager::kLeaseTimer));
  ASSERT_EQ(ask.size(), 1u);
  nm.now = 9'000;  // the grant arrives late: the lease runs from 3'000
  nm.Deliver(kGcs, LeaseGranted{ask[0].second.nonce});
  EXPECT_EQ(nm.comp.lease_until(), 13'000);
}

// ---- owner, worker side: calls run in each caller's order ----

TEST(OwnerActorHost, CallsRunInEachCallersOrder) {
  OwnerConfig cfg{Addr{1, 66}, NodeAddr(1), kGcs, /*is_worker=*/true, 3};
  Stepper<Owner> w{cfg};
  auto call = [](Addr caller, uint64_t seq, uint64_t done_below) {
    TaskSpec s;
    s.task = TaskId{caller.proc * 1000 + seq};
    s.owner = caller;
    s.actor_kind = kActorCall;
    s.actor = 50;
    s.actor_seq = seq;
    s.actor_done_below = done_below;
    return s;
  };
  Addr a{0, 2}, b{2, 70};
  // a's call 1 arrives before its call 0: it waits.
  EXPECT_TRUE(Effects<EfRunTask>(w.Deliver(NodeAddr(1), ExecuteTask{call(a, 1, 0)})).empty());
  auto first = Effects<EfRunTask>(w.Deliver(NodeAddr(1), ExecuteTask{call(a, 0, 0)}));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].spec.actor_seq, 0u);
  // b's call 5, with everything below 5 finished at b: runs after a's turn.
  EXPECT_TRUE(Effects<EfRunTask>(w.Deliver(NodeAddr(1), ExecuteTask{call(b, 5, 5)})).empty());
  auto next = Effects<EfRunTask>(w.Command(CmdTaskReturned{first[0].spec.task, {ObjectValue{}}}));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].spec.owner, a);
  EXPECT_EQ(next[0].spec.actor_seq, 1u);
  auto last = Effects<EfRunTask>(w.Command(CmdTaskReturned{next[0].spec.task, {ObjectValue{}}}));
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].spec.owner, b);
  EXPECT_EQ(last[0].spec.actor_seq, 5u);
}

// A caller task retried after its worker died calls again from a new worker.
// Its first attempt's calls may arrive late (a retransmitted frame), before
// this node hears of that worker's death: once the retry has called here,
// they never run (the actor swarm, seed 467).
TEST(OwnerActorHost, CallsOfASupersededCallerAttemptAreDropped) {
  OwnerConfig cfg{Addr{1, 66}, NodeAddr(1), kGcs, /*is_worker=*/true, 3};
  Stepper<Owner> w{cfg};
  const TaskId caller_task{9};
  // The retry's worker had called this actor before, for another task: its
  // sequence numbers go on from there (everything below `seq` finished).
  Addr dead{3, 66}, retry{1, 69};
  auto call = [&](Addr caller, uint32_t caller_attempt, uint64_t seq) {
    TaskSpec s;
    s.task = TaskId{caller.proc * 1000 + seq};
    s.parent = caller_task;
    s.caller_attempt = caller_attempt;
    s.owner = caller;
    s.actor_kind = kActorCall;
    s.actor = 50;
    s.actor_seq = seq;
    s.actor_done_below = caller == retry ? seq : 0;
    return s;
  };
  auto first = Effects<EfRunTask>(w.Deliver(NodeAddr(1), ExecuteTask{call(dead, 0, 0)}));
  ASSERT_EQ(first.size(), 1u);
  w.Command(CmdTaskReturned{first[0].spec.task, {ObjectValue{}}});
  // The retry (attempt 1) calls from another worker: it runs.
  auto again = Effects<EfRunTask>(w.Deliver(NodeAddr(1), ExecuteTask{call(retry, 1, 4)}));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].spec.owner, retry);
  w.Command(CmdTaskReturned{again[0].spec.task, {ObjectValue{}}});
  // The first attempt's next call, held back until now: dropped.
  EXPECT_TRUE(Effects<EfRunTask>(w.Deliver(NodeAddr(1), ExecuteTask{call(dead, 0, 1)})).empty());
  // The retry's calls still run, and so do other callers' (attempt 0 of another task).
  EXPECT_EQ(Effects<EfRunTask>(w.Deliver(NodeAddr(1), ExecuteTask{call(retry, 1, 5)})).size(), 1u);
}

}  // namespace
}  // namespace dray
