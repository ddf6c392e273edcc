// The node manager stepped by hand: registration, dispatch to workers,
// the worker pool, spillback, infeasible tasks, blocked workers, the store
// and chunked transfer between two nodes.
#include "core/node/node_manager.h"

#include <gtest/gtest.h>

#include <deque>

#include "core/common/probe.h"
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

NodeManagerConfig Config(NodeId node, double cpus) {
  NodeManagerConfig c;
  c.node = node;
  c.gcs = kGcs;
  c.total = Cpus(cpus);
  c.seed = 100 + node;
  return c;
}

TaskSpec Spec(uint64_t task, double cpus) {
  TaskSpec s;
  s.task = TaskId{task};
  s.job = 1;
  s.function = "f";
  s.name = "f";
  s.owner = kDriver;
  s.resources = Cpus(cpus);
  return s;
}

NodeView View(NodeId n, double total, double available) {
  return NodeView{n, NodeAddr(n), Cpus(total), Cpus(available), 0};
}

ObjectValue Bytes(size_t n, char c = 'x') { return ObjectValue{Buf(std::string(n, c)), false, {}}; }

struct NodeManagerTest : ::testing::Test {
  Stepper<NodeManager> nm{Config(0, 4)};
  Addr worker{0, 70};
  void RegisterWorker(Addr w) {
    auto fx = nm.Deliver(w, dray::RegisterWorker{w});
    EXPECT_TRUE(Sent<ExecuteTask>(fx).empty());
  }
};

TEST_F(NodeManagerTest, StartRegistersWithTheControlService) {
  auto fx = nm.Command(CmdStart{});
  auto reg = Sent<RegisterNode>(fx);
  ASSERT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg[0].first, kGcs);
  EXPECT_EQ(reg[0].second.node, 0u);
  EXPECT_EQ(reg[0].second.addr, NodeAddr(0));
  EXPECT_EQ(reg[0].second.total, Cpus(4));
}

TEST_F(NodeManagerTest, SubmitWithAnIdleWorkerExecutesThereAndChargesResources) {
  RegisterWorker(worker);
  auto fx = nm.Deliver(kDriver, SubmitTask{Spec(1, 1)});
  auto exec = Sent<ExecuteTask>(fx);
  ASSERT_EQ(exec.size(), 1u);
  EXPECT_EQ(exec[0].first, worker);
  EXPECT_EQ(exec[0].second.spec.task, TaskId{1});
  EXPECT_TRUE(Effects<EfStartWorker>(fx).empty());
  EXPECT_EQ(nm.comp.available(), Cpus(3));
  EXPECT_EQ(nm.comp.leased_workers(), 1u);
  EXPECT_EQ(nm.comp.queued_tasks(), 0u);
}

TEST_F(NodeManagerTest, SubmitWithoutAWorkerStartsOneThenDispatchesToIt) {
  auto fx = nm.Deliver(kDriver, SubmitTask{Spec(1, 1)});
  EXPECT_TRUE(Sent<ExecuteTask>(fx).empty());
  auto start = Effects<EfStartWorker>(fx);
  ASSERT_EQ(start.size(), 1u);
  EXPECT_EQ(start[0].worker.node, 0u);
  EXPECT_GE(start[0].worker.proc, kFirstUserProc);
  EXPECT_EQ(nm.comp.queued_tasks(), 1u);
  EXPECT_EQ(nm.comp.available(), Cpus(4));  // nothing charged while queued
  // Once the started worker registers, the task goes to it.
  auto fx2 = nm.Deliver(start[0].worker, dray::RegisterWorker{start[0].worker});
  auto exec = Sent<ExecuteTask>(fx2);
  ASSERT_EQ(exec.size(), 1u);
  EXPECT_EQ(exec[0].first, start[0].worker);
  EXPECT_EQ(nm.comp.available(), Cpus(3));
  // A second task, with the only worker busy, needs a second worker.
  auto fx3 = nm.Deliver(kDriver, SubmitTask{Spec(2, 1)});
  EXPECT_EQ(Effects<EfStartWorker>(fx3).size(), 1u);
}

TEST_F(NodeManagerTest, TaskFinishedFreesResourcesAndStoresLargeReturns) {
  RegisterWorker(worker);
  nm.Deliver(kDriver, SubmitTask{Spec(1, 2)});
  EXPECT_EQ(nm.comp.available(), Cpus(2));
  ObjectId big{1, 1};
  auto fx = nm.Deliver(worker, TaskFinished{TaskId{1}, {StoredObject{big, kDriver, Bytes(200 * 1024)}}});
  EXPECT_EQ(nm.comp.available(), Cpus(4));
  EXPECT_EQ(nm.comp.leased_workers(), 0u);
  EXPECT_TRUE(nm.comp.HasObject(big));
  EXPECT_EQ(nm.comp.store_objects(), 1u);
  EXPECT_EQ(nm.comp.store_used_bytes(), 200u * 1024);
  // The worker is idle again and is reused for the next task.
  auto fx2 = nm.Deliver(kDriver, SubmitTask{Spec(2, 1)});
  auto exec = Sent<ExecuteTask>(fx2);
  ASSERT_EQ(exec.size(), 1u);
  EXPECT_EQ(exec[0].first, worker);
  EXPECT_TRUE(Effects<EfStartWorker>(fx2).empty());
}

TEST_F(NodeManagerTest, FreeObjectsEmptiesTheStore) {
  ObjectId a{1, 1}, b{2, 1};
  nm.Deliver(kDriver, PutObject{StoredObject{a, kDriver, Bytes(150 * 1024)}});
  nm.Deliver(kDriver, PutObject{StoredObject{b, kDriver, Bytes(120 * 1024)}});
  EXPECT_EQ(nm.comp.store_objects(), 2u);
  nm.Deliver(kDriver, FreeObjects{{a}});
  EXPECT_FALSE(nm.comp.HasObject(a));
  EXPECT_TRUE(nm.comp.HasObject(b));
  nm.Deliver(kDriver, FreeObjects{{b, ObjectId{99, 1}}});  // unknown ids are fine
  EXPECT_EQ(nm.comp.store_objects(), 0u);
  EXPECT_EQ(nm.comp.store_used_bytes(), 0u);
}

TEST(NodeManagerPlacement, SpillsToAFreeNodeOnceLocalIsHalfUsed) {
  Stepper<NodeManager> nm{Config(0, 2)};
  Addr w{0, 70};
  nm.Deliver(w, RegisterWorker{w});
  nm.Deliver(kGcs, ClusterView{1, {View(0, 2, 2), View(1, 2, 2)}});
  // First task: the node is empty, so it stays local.
  auto fx1 = nm.Deliver(kDriver, SubmitTask{Spec(1, 1)});
  ASSERT_EQ(Sent<ExecuteTask>(fx1).size(), 1u);
  EXPECT_TRUE(Sent<SubmitTask>(fx1).empty());
  // Second: local is half used and node 1 is free: spill there.
  auto fx2 = nm.Deliver(kDriver, SubmitTask{Spec(2, 1)});
  EXPECT_TRUE(Sent<ExecuteTask>(fx2).empty());
  auto fwd = Sent<SubmitTask>(fx2);
  ASSERT_EQ(fwd.size(), 1u);
  EXPECT_EQ(fwd[0].first, NodeAddr(1));
  EXPECT_EQ(fwd[0].second.spec.task, TaskId{2});
  EXPECT_EQ(fwd[0].second.spec.spill_count, 1u);
  EXPECT_EQ(nm.comp.queued_tasks(), 0u);
}

TEST(NodeManagerPlacement, ASpilledTaskIsAcceptedWhereItFits) {
  Stepper<NodeManager> nm{Config(1, 2)};
  // Even fully used, a node takes a spilled task that fits its total: no ping-pong.
  nm.Deliver(kGcs, ClusterView{1, {View(0, 8, 8), View(1, 2, 0)}});
  TaskSpec s = Spec(3, 2);
  s.spill_count = 1;
  auto fx = nm.Deliver(NodeAddr(0), SubmitTask{s});
  EXPECT_TRUE(Sent<SubmitTask>(fx).empty());
  EXPECT_EQ(nm.comp.queued_tasks(), 1u);
}

TEST(NodeManagerPlacement, InfeasibleTaskWaitsUntilAFittingNodeAppears) {
  Stepper<NodeManager> nm{Config(0, 2)};
  auto fx = nm.Deliver(kDriver, SubmitTask{Spec(1, 8)});
  EXPECT_EQ(nm.comp.infeasible_tasks(), 1u);
  EXPECT_TRUE(Sent<ExecuteTask>(fx).empty());
  EXPECT_TRUE(Sent<SubmitTask>(fx).empty());
  EXPECT_TRUE(Effects<EfStartWorker>(fx).empty());
  // It is reported to the control service with the next resource report.
  auto timers = Effects<EfSetTimer>(fx);
  ASSERT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers[0].id, NodeManager::kReportTimer);
  nm.now = timers[0].at;
  auto rep = Sent<ResourceReport>(nm.Timer(NodeManager::kReportTimer));
  ASSERT_EQ(rep.size(), 1u);
  EXPECT_EQ(rep[0].first, kGcs);
  ASSERT_EQ(rep[0].second.infeasible.size(), 1u);
  EXPECT_EQ(rep[0].second.infeasible[0], Cpus(8));
  // A view without a fitting node changes nothing.
  nm.Deliver(kGcs, ClusterView{1, {View(0, 2, 2), View(1, 4, 4)}});
  EXPECT_EQ(nm.comp.infeasible_tasks(), 1u);
  // A view with one sends it there.
  auto fx2 = nm.Deliver(kGcs, ClusterView{2, {View(0, 2, 2), View(1, 4, 4), View(2, 8, 8)}});
  EXPECT_EQ(nm.comp.infeasible_tasks(), 0u);
  auto fwd = Sent<SubmitTask>(fx2);
  ASSERT_EQ(fwd.size(), 1u);
  EXPECT_EQ(fwd[0].first, NodeAddr(2));
  EXPECT_EQ(fwd[0].second.spec.spill_count, 1u);
}

// An infeasible task goes with its owner: once the owner's death is
// published it is no demand any more (`dray status` after a driver that asked
// for a GPU left), while another owner's stays.
TEST(NodeManagerPlacement, AnInfeasibleTaskGoesWithItsDeadOwner) {
  Stepper<NodeManager> nm{Config(0, 2)};
  const Addr other{0, kFirstUserProc + 1};
  TaskSpec mine = Spec(1, 8);
  TaskSpec theirs = Spec(2, 16);
  theirs.owner = other;
  nm.Deliver(kDriver, SubmitTask{mine});
  nm.Deliver(other, SubmitTask{theirs});
  EXPECT_EQ(nm.comp.infeasible_tasks(), 2u);
  nm.Deliver(kGcs, Deaths{{kDriver}, {}, "the driver disconnected"});
  EXPECT_EQ(nm.comp.infeasible_tasks(), 1u);
  nm.now += 1'000'000'000;
  auto rep = Sent<ResourceReport>(nm.Timer(NodeManager::kReportTimer));
  ASSERT_EQ(rep.size(), 1u);
  ASSERT_EQ(rep[0].second.infeasible.size(), 1u);
  EXPECT_EQ(rep[0].second.infeasible[0], Cpus(16));
}

TEST(NodeManagerBlocking, BlockedWorkerReturnsItsCpuAndResumesWhenCpuIsFree) {
  Stepper<NodeManager> nm{Config(0, 1)};
  Addr w1{0, 70}, w2{0, 71};
  nm.Deliver(w1, RegisterWorker{w1});
  nm.Deliver(w2, RegisterWorker{w2});
  nm.Deliver(kDriver, SubmitTask{Spec(1, 1)});
  EXPECT_EQ(nm.comp.available(), Cpus(0));
  // Task 1 blocks in Get: its CPU goes back, and task 2 can run meanwhile.
  nm.Deliver(w1, WorkerBlocked{TaskId{1}});
  EXPECT_EQ(nm.comp.available(), Cpus(1));
  auto fx = nm.Deliver(kDriver, SubmitTask{Spec(2, 1)});
  auto exec = Sent<ExecuteTask>(fx);
  ASSERT_EQ(exec.size(), 1u);
  EXPECT_EQ(exec[0].first, w2);
  EXPECT_EQ(nm.comp.available(), Cpus(0));
  // Task 1's Get is done, but there is no CPU: no grant yet.
  auto fx2 = nm.Deliver(w1, WorkerUnblocked{TaskId{1}});
  EXPECT_TRUE(Sent<ResumeGrant>(fx2).empty());
  // Task 2 finishes: task 1 gets the CPU back before anything new.
  auto fx3 = nm.Deliver(w2, TaskFinished{TaskId{2}, {}});
  auto grant = Sent<ResumeGrant>(fx3);
  ASSERT_EQ(grant.size(), 1u);
  EXPECT_EQ(grant[0].first, w1);
  EXPECT_EQ(grant[0].second.task, TaskId{1});
  EXPECT_EQ(nm.comp.available(), Cpus(0));
  // And when task 1 ends, its full demand is returned exactly once.
  nm.Deliver(w1, TaskFinished{TaskId{1}, {}});
  EXPECT_EQ(nm.comp.available(), Cpus(1));
}

TEST(NodeManagerBlocking, UnblockWithFreeCpuIsGrantedAtOnce) {
  Stepper<NodeManager> nm{Config(0, 2)};
  Addr w1{0, 70};
  nm.Deliver(w1, RegisterWorker{w1});
  nm.Deliver(kDriver, SubmitTask{Spec(1, 1)});
  nm.Deliver(w1, WorkerBlocked{TaskId{1}});
  EXPECT_EQ(nm.comp.available(), Cpus(2));
  auto grant = Sent<ResumeGrant>(nm.Deliver(w1, WorkerUnblocked{TaskId{1}}));
  ASSERT_EQ(grant.size(), 1u);
  EXPECT_EQ(grant[0].first, w1);
  EXPECT_EQ(nm.comp.available(), Cpus(1));
}

// Two node managers joined by a hand-run network: every EfSend between them
// is delivered in order; sends to anyone else are collected.
struct TwoNodes {
  Stepper<NodeManager> a, b;
  std::vector<std::pair<Addr, Message>> outside;
  size_t chunks = 0;
  explicit TwoNodes(uint64_t chunk_bytes)
      : a([&] { auto c = Config(0, 2); c.chunk_bytes = chunk_bytes; return c; }()),
        b([&] { auto c = Config(1, 2); c.chunk_bytes = chunk_bytes; return c; }()) {}

  void Pump(Addr from, std::vector<Effect> fx) {
    std::deque<std::tuple<Addr, Addr, Message>> q;
    auto add = [&](Addr src, const std::vector<Effect>& effects) {
      for (const auto& e : effects)
        if (const auto* s = std::get_if<EfSend>(&e)) q.emplace_back(src, s->to, s->msg);
    };
    add(from, fx);
    for (int guard = 0; !q.empty() && guard < 1000; ++guard) {
      auto [src, to, m] = std::move(q.front());
      q.pop_front();
      if (std::holds_alternative<ObjectChunk>(m)) ++chunks;
      if (to == NodeAddr(0)) add(to, a.Deliver(src, m));
      else if (to == NodeAddr(1)) add(to, b.Deliver(src, m));
      else outside.emplace_back(to, m);
    }
    ASSERT_TRUE(q.empty()) << "the transfer did not settle";
  }
};

TEST(NodeManagerTransfer, PullsAThreeChunkObjectBetweenNodes) {
  TwoNodes net(10);
  ObjectId id{42, 1};
  std::string data = "abcdefghijKLMNOPQRSTuvwxy";  // 25 bytes: chunks of 10, 10, 5
  ObjectValue v{Buf(data), false, {RefInfo{ObjectId{7, 1}, kDriver}}};
  net.a.Deliver(kDriver, PutObject{StoredObject{id, kDriver, v}});
  ASSERT_TRUE(net.a.comp.HasObject(id));
  // A process on node 1 asks its node manager for the object.
  Addr reader{1, 70};
  auto fx = net.b.Deliver(reader, FetchObject{id, kDriver, {0}, 7});
  ASSERT_EQ(Sent<PullObject>(fx).size(), 1u);
  net.Pump(NodeAddr(1), fx);
  EXPECT_EQ(net.chunks, 3u);
  EXPECT_TRUE(net.b.comp.HasObject(id));
  EXPECT_EQ(net.b.comp.store_used_bytes(), data.size());
  // The reader got the whole value, and the owner learned of the new copy.
  bool ready = false, located = false;
  for (const auto& [to, m] : net.outside) {
    if (const auto* r = std::get_if<ObjectReady>(&m)) {
      EXPECT_EQ(to, reader);
      EXPECT_EQ(r->request, 7u);
      EXPECT_TRUE(r->ok);
      EXPECT_EQ(r->value, v);
      ready = true;
    } else if (const auto* l = std::get_if<AddObjectLocation>(&m)) {
      EXPECT_EQ(to, kDriver);
      EXPECT_EQ(l->id, id);
      EXPECT_EQ(l->node, 1u);
      located = true;
    }
  }
  EXPECT_TRUE(ready);
  EXPECT_TRUE(located);
  // A second fetch is served from the local copy without another transfer.
  auto fx2 = net.b.Deliver(reader, FetchObject{id, kDriver, {0}, 8});
  EXPECT_TRUE(Sent<PullObject>(fx2).empty());
  auto r2 = Sent<ObjectReady>(fx2);
  ASSERT_EQ(r2.size(), 1u);
  EXPECT_EQ(r2[0].second.value, v);
}

TEST(NodeManagerTransfer, AQueuedTaskWaitsForItsArgumentToArrive) {
  TwoNodes net(10);
  ObjectId id{42, 1};
  ObjectValue v{Buf(std::string(25, 'q')), false, {}};
  net.a.Deliver(kDriver, PutObject{StoredObject{id, kDriver, v}});
  Addr w{1, 70};
  net.b.Deliver(w, RegisterWorker{w});
  TaskSpec s = Spec(5, 1);
  TaskArg arg;
  arg.kind = TaskArg::kRef;
  arg.ref = RefInfo{id, kDriver};
  arg.resolved = true;
  arg.in_store = true;
  arg.locations = {0};
  arg.size = 25;
  s.args = {arg};
  auto fx = net.b.Deliver(kDriver, SubmitTask{s});
  EXPECT_TRUE(Sent<ExecuteTask>(fx).empty());  // not before the argument is local
  EXPECT_EQ(net.b.comp.queued_tasks(), 1u);
  net.Pump(NodeAddr(1), fx);
  ExecuteTask* exec = nullptr;
  for (auto& [to, m] : net.outside)
    if (auto* e = std::get_if<ExecuteTask>(&m)) exec = e;
  ASSERT_NE(exec, nullptr);
  ASSERT_EQ(exec->spec.args.size(), 1u);
  EXPECT_EQ(exec->spec.args[0].value, v);  // handed over with the value
  EXPECT_FALSE(exec->spec.args[0].in_store);
}

TEST(NodeManagerTransfer, MissingObjectIsRetriedAfterAPause) {
  TwoNodes net(10);
  ObjectId id{42, 1};
  auto fx = net.b.Deliver(Addr{1, 70}, FetchObject{id, kDriver, {0}, 1});
  net.Pump(NodeAddr(1), fx);  // node 0 answers "not found"
  EXPECT_FALSE(net.b.comp.HasObject(id));
  // It arrives at node 0 meanwhile; the retry timer pulls it.
  net.a.Deliver(kDriver, PutObject{StoredObject{id, kDriver, Bytes(12)}});
  uint64_t retry = NodeManager::kPullRetryBase;
  net.b.now += 10'000'000;
  net.Pump(NodeAddr(1), net.b.Timer(retry));
  EXPECT_TRUE(net.b.comp.HasObject(id));
}

}  // namespace
}  // namespace dray

// ---- failures ----

namespace dray {
namespace {

// A worker that dies mid-task: its resources come back, the owner hears of
// the failed attempt, and the death goes to the control service to publish.
TEST(NodeManagerFailures, AWorkerDyingMidTaskFailsItsAttempt) {
  Stepper<NodeManager> nm{Config(0, 2)};
  Addr w{0, 70};
  nm.Deliver(w, RegisterWorker{w});
  TaskSpec s = Spec(5, 1);
  s.attempt = 2;
  ASSERT_EQ(Sent<ExecuteTask>(nm.Deliver(kDriver, SubmitTask{s})).size(), 1u);
  EXPECT_EQ(nm.comp.available(), Cpus(1));
  auto fx = nm.Deliver(w, WorkerDied{w, "killed by signal 9"});
  auto failed = Sent<TaskFailed>(fx);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].first, kDriver);
  EXPECT_EQ(failed[0].second.task, TaskId{5});
  EXPECT_EQ(failed[0].second.attempt, 2u);
  EXPECT_EQ(failed[0].second.kind, "WorkerCrashedError");
  EXPECT_NE(failed[0].second.message.find("killed by signal 9"), std::string::npos);
  auto deaths = Sent<Deaths>(fx);
  ASSERT_EQ(deaths.size(), 1u);
  EXPECT_EQ(deaths[0].first, kGcs);
  EXPECT_EQ(deaths[0].second.procs, std::vector<Addr>{w});
  EXPECT_EQ(nm.comp.available(), Cpus(2));
  EXPECT_EQ(nm.comp.leased_workers(), 0u);
  EXPECT_EQ(nm.comp.workers(), 0u);
  // Told twice: nothing more.
  EXPECT_TRUE(nm.Deliver(w, WorkerDied{w, "again"}).empty());
}

// A worker started for a queued task is stopped before it registered (on a
// real cluster: its node stops every worker as the last driver leaves) and
// its death is reported before its registration, already on its way, comes
// in. The late registration must not make it idle: the task would be
// dispatched to a process that is gone and be lost, while the worker started
// in its place sat idle (the hang of RealCluster with every example).
TEST(NodeManagerFailures, ARegistrationAfterTheWorkersDeathIsIgnored) {
  Stepper<NodeManager> nm{Config(0, 2)};
  auto fx = nm.Deliver(kDriver, SubmitTask{Spec(5, 1)});
  auto start = Effects<EfStartWorker>(fx);
  ASSERT_EQ(start.size(), 1u);
  Addr gone = start[0].worker;
  auto fx2 = nm.Deliver(gone, WorkerDied{gone, "stopped: its drivers left"});
  EXPECT_TRUE(Sent<TaskFailed>(fx2).empty());  // it held no task
  auto restart = Effects<EfStartWorker>(fx2);
  ASSERT_EQ(restart.size(), 1u);  // another for the queued task
  Addr fresh = restart[0].worker;
  EXPECT_NE(fresh, gone);
  auto fx3 = nm.Deliver(gone, RegisterWorker{gone});
  EXPECT_TRUE(Sent<ExecuteTask>(fx3).empty());
  auto stop = Effects<EfStopWorker>(fx3);
  ASSERT_EQ(stop.size(), 1u);
  EXPECT_EQ(stop[0].worker, gone);
  EXPECT_EQ(nm.comp.workers(), 1u);  // only the fresh one, still starting
  EXPECT_EQ(nm.comp.available(), Cpus(2));
  auto fx4 = nm.Deliver(fresh, RegisterWorker{fresh});
  auto exec = Sent<ExecuteTask>(fx4);
  ASSERT_EQ(exec.size(), 1u);
  EXPECT_EQ(exec[0].first, fresh);
  EXPECT_EQ(exec[0].second.spec.task, TaskId{5});
  // A registration told twice changes nothing (and crashes nothing).
  EXPECT_TRUE(nm.Deliver(fresh, RegisterWorker{fresh}).empty());
  EXPECT_EQ(nm.comp.leased_workers(), 1u);
}

// A forwarded task: its owner learns where it went.
TEST(NodeManagerFailures, ForwardingATaskTellsItsOwner) {
  Stepper<NodeManager> nm{Config(0, 2)};
  Addr w{0, 70};
  nm.Deliver(w, RegisterWorker{w});
  nm.Deliver(kGcs, ClusterView{1, {View(0, 2, 2), View(1, 2, 2)}});
  nm.Deliver(kDriver, SubmitTask{Spec(5, 1)});  // runs here: half used now
  TaskSpec s = Spec(6, 1);
  s.attempt = 1;
  auto fx = nm.Deliver(kDriver, SubmitTask{s});
  ASSERT_EQ(Sent<SubmitTask>(fx).size(), 1u);
  auto placed = Sent<TaskPlaced>(fx);
  ASSERT_EQ(placed.size(), 1u);
  EXPECT_EQ(placed[0].first, kDriver);
  EXPECT_EQ(placed[0].second.node, 1u);
  EXPECT_EQ(placed[0].second.hop, 1u);
  EXPECT_EQ(placed[0].second.attempt, 1u);
}

// Published deaths: a dead owner's stored objects are freed and nothing more
// is stored for it; a dead node leaves the view and a task whose argument
// was only there goes back to its owner.
// Two attempts of one task at the node where it waits for its argument: the
// newer stays (the older is dropped, whichever comes first), and one pull
// serves it; the task runs once.
TEST(NodeManagerFailures, OfTwoAttemptsWaitingForArgumentsTheNewerStays) {
  uint64_t superseded0 = ProbeCounter("node.waiting_attempt_superseded");
  uint64_t stale0 = ProbeCounter("node.stale_attempt_dropped");
  Stepper<NodeManager> nm{Config(0, 8)};  // roomy: both attempts stay here
  nm.Deliver(kGcs, ClusterView{1, {View(0, 8, 8), View(1, 2, 2)}});
  TaskSpec s = Spec(7, 1);
  TaskArg a;
  a.kind = TaskArg::kRef;
  a.ref = RefInfo{ObjectId{3, 1}, kDriver};
  a.resolved = true;
  a.in_store = true;
  a.locations = {1};
  s.args.push_back(a);
  ASSERT_EQ(Sent<PullObject>(nm.Deliver(kDriver, SubmitTask{s})).size(), 1u);
  TaskSpec newer = s;
  newer.attempt = 1;
  EXPECT_TRUE(Sent<PullObject>(nm.Deliver(kDriver, SubmitTask{newer})).empty());  // the pull is under way
  EXPECT_EQ(ProbeCounter("node.waiting_attempt_superseded"), superseded0 + 1);
  EXPECT_EQ(nm.comp.queued_tasks(), 1u);
  nm.Deliver(kDriver, SubmitTask{s});  // the older request once more
  EXPECT_EQ(ProbeCounter("node.stale_attempt_dropped"), stale0 + 1);
  EXPECT_EQ(nm.comp.queued_tasks(), 1u);
  // The argument arrives: the newer attempt, alone, wants a worker.
  auto fx = nm.Deliver(NodeAddr(1), ObjectChunk{ObjectId{3, 1}, true, 0, 1, 3, false, {}, kDriver, Buf(std::string("abc"))});
  EXPECT_EQ(Effects<EfStartWorker>(fx).size(), 1u);
  Addr w{0, Effects<EfStartWorker>(fx)[0].worker.proc};
  auto run = Sent<ExecuteTask>(nm.Deliver(w, dray::RegisterWorker{w}));
  ASSERT_EQ(run.size(), 1u);
  EXPECT_EQ(run[0].second.spec.attempt, 1u);
  EXPECT_EQ(nm.comp.queued_tasks(), 0u);
}

// Recovery seed 843: a worker that submitted tasks died, its task was retried
// in another process, and the retry submitted the same task ids (derived from
// the parent) with attempt 0, while the dead process's attempt 2 of one still
// waited here for its arguments. The newcomer was dropped as stale and its
// owner waited forever. Attempts of two owners do not compare: the newer
// submission stays, and the older owner, if alive, is told.
TEST(NodeManagerFailures, TheSameTaskFromAnotherProcessReplacesTheWaitingOne) {
  uint64_t other0 = ProbeCounter("node.waiting_task_of_another_owner");
  Stepper<NodeManager> nm{Config(0, 8)};
  nm.Deliver(kGcs, ClusterView{1, {View(0, 8, 8), View(1, 2, 2)}});
  const Addr first{0, 71};
  const Addr retry{0, 72};
  TaskSpec s = Spec(7, 1);
  s.owner = first;
  s.attempt = 2;
  TaskArg a;
  a.kind = TaskArg::kRef;
  a.ref = RefInfo{ObjectId{3, 1}, kDriver};
  a.resolved = true;
  a.in_store = true;
  a.locations = {1};
  s.args.push_back(a);
  ASSERT_EQ(Sent<PullObject>(nm.Deliver(first, SubmitTask{s})).size(), 1u);
  TaskSpec again = s;
  again.owner = retry;
  again.attempt = 0;
  auto fx = nm.Deliver(retry, SubmitTask{again});
  EXPECT_EQ(ProbeCounter("node.waiting_task_of_another_owner"), other0 + 1);
  EXPECT_EQ(nm.comp.queued_tasks(), 1u);
  auto told = Sent<TaskFailed>(fx);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].first, first);
  EXPECT_EQ(told[0].second.attempt, 2u);
  // The argument arrives: the retry's task runs.
  fx = nm.Deliver(NodeAddr(1), ObjectChunk{ObjectId{3, 1}, true, 0, 1, 3, false, {}, kDriver, Buf(std::string("abc"))});
  ASSERT_EQ(Effects<EfStartWorker>(fx).size(), 1u);
  Addr w{0, Effects<EfStartWorker>(fx)[0].worker.proc};
  auto run = Sent<ExecuteTask>(nm.Deliver(w, dray::RegisterWorker{w}));
  ASSERT_EQ(run.size(), 1u);
  EXPECT_EQ(run[0].second.spec.owner, retry);
  EXPECT_EQ(run[0].second.spec.attempt, 0u);
}

TEST(NodeManagerFailures, DeathsFreeWhatTheDeadOwnedAndFailPullsFromDeadNodes) {
  Stepper<NodeManager> nm{Config(0, 2)};
  Addr dead_owner{0, 71};
  nm.Deliver(dead_owner, PutObject{StoredObject{ObjectId{9, 1}, dead_owner, Bytes(500)}});
  nm.Deliver(kDriver, PutObject{StoredObject{ObjectId{8, 1}, kDriver, Bytes(300)}});
  ASSERT_EQ(nm.comp.store_objects(), 2u);
  nm.Deliver(kGcs, ClusterView{1, {View(0, 2, 2), View(1, 2, 2)}});
  // Not from the control service: ignored.
  nm.Deliver(NodeAddr(1), Deaths{{dead_owner}, {}, "forged"});
  EXPECT_EQ(nm.comp.store_objects(), 2u);
  nm.Deliver(kGcs, Deaths{{dead_owner}, {}, "crashed"});
  EXPECT_EQ(nm.comp.store_objects(), 1u);
  EXPECT_EQ(nm.comp.store_used_bytes(), 300u);
  nm.Deliver(dead_owner, PutObject{StoredObject{ObjectId{9, 2}, dead_owner, Bytes(10)}});
  EXPECT_EQ(nm.comp.store_objects(), 1u);
  // A task whose argument lives only on node 1 waits for a pull ...
  TaskSpec s = Spec(7, 1);
  TaskArg a;
  a.kind = TaskArg::kRef;
  a.ref = RefInfo{ObjectId{3, 1}, kDriver};
  a.resolved = true;
  a.in_store = true;
  a.locations = {1};
  s.args.push_back(a);
  auto fx = nm.Deliver(kDriver, SubmitTask{s});
  ASSERT_EQ(Sent<PullObject>(fx).size(), 1u);
  // ... and node 1 dies: the pull can never finish.
  auto fx2 = nm.Deliver(kGcs, Deaths{{}, {1}, "node 1 missed 5 health checks"});
  auto failed = Sent<TaskFailed>(fx2);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].first, kDriver);
  EXPECT_EQ(failed[0].second.kind, "ObjectLostError");
  EXPECT_NE(failed[0].second.message.find("every node that held it died"), std::string::npos);
  EXPECT_EQ(nm.comp.queued_tasks(), 0u);
  // Never forwarded to or pulled from a dead node again.
  auto fx3 = nm.Deliver(kDriver, SubmitTask{s});
  EXPECT_TRUE(Sent<PullObject>(fx3).empty());
  EXPECT_EQ(Sent<TaskFailed>(fx3).size(), 1u);
}

TEST(NodeManagerFailures, AnswersHealthChecksFromTheControlServiceOnly) {
  Stepper<NodeManager> nm{Config(3, 2)};
  auto acks = Sent<HealthCheckAck>(nm.Deliver(kGcs, HealthCheck{12}));
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].second.node, 3u);
  EXPECT_EQ(acks[0].second.seq, 12u);
  EXPECT_TRUE(nm.Deliver(NodeAddr(1), HealthCheck{13}).empty());
}

// Review finding: a queued task of a live owner whose stored argument was
// freed with its dead owner was dispatched anyway (an assertion).
TEST(NodeManagerFailures, AQueuedTaskWhoseArgumentWentWithADeadOwnerGoesBack) {
  Stepper<NodeManager> nm{Config(0, 1)};
  Addr w{0, 70};
  Addr dead_owner{0, 71};
  nm.Deliver(w, RegisterWorker{w});
  nm.Deliver(dead_owner, PutObject{StoredObject{ObjectId{9, 1}, dead_owner, Bytes(500)}});
  nm.Deliver(kDriver, SubmitTask{Spec(1, 1)});  // takes the only CPU
  TaskSpec s = Spec(2, 1);
  TaskArg a;
  a.kind = TaskArg::kRef;
  a.ref = RefInfo{ObjectId{9, 1}, dead_owner};
  a.resolved = true;
  a.in_store = true;
  a.locations = {0};
  s.args.push_back(a);
  nm.Deliver(kDriver, SubmitTask{s});  // queued: local argument, no CPU
  EXPECT_EQ(nm.comp.queued_tasks(), 1u);
  auto fx = nm.Deliver(kGcs, Deaths{{dead_owner}, {}, "crashed"});
  auto failed = Sent<TaskFailed>(fx);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].second.task, TaskId{2});
  EXPECT_EQ(failed[0].second.kind, "ObjectLostError");
  EXPECT_EQ(nm.comp.queued_tasks(), 0u);
  // The first task finishes; nothing is dispatched with a missing argument.
  auto fx2 = nm.Deliver(w, TaskFinished{TaskId{1}, {}, false});
  EXPECT_TRUE(Sent<ExecuteTask>(fx2).empty());
}

// Review finding: a pull that completed after its object's owner died stored
// nothing and answered nobody.
TEST(NodeManagerFailures, APullThatCompletesAfterTheOwnerDiedAnswersItsFetchers) {
  Stepper<NodeManager> nm{Config(1, 2)};
  Addr owner{0, 71};
  Addr reader{1, 70};
  ObjectId id{9, 1};
  auto fx = nm.Deliver(reader, FetchObject{id, owner, {0}, 3});
  ASSERT_EQ(Sent<PullObject>(fx).size(), 1u);
  nm.Deliver(kGcs, Deaths{{owner}, {}, "crashed"});
  ObjectChunk c;
  c.id = id;
  c.found = true;
  c.chunk = 0;
  c.num_chunks = 1;
  c.size = 4;
  c.owner = owner;
  c.data = Buf(std::string("abcd"));
  auto fx2 = nm.Deliver(NodeAddr(0), c);
  auto ready = Sent<ObjectReady>(fx2);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].first, reader);
  EXPECT_FALSE(ready[0].second.ok);
  EXPECT_NE(ready[0].second.error.find("owner"), std::string::npos) << ready[0].second.error;
  EXPECT_FALSE(nm.comp.HasObject(id));
}

// Told it was declared dead, a node stops every worker, drops what it holds
// and ignores everything after; a long silence from the control service
// makes it ask (its watchdog).
TEST(NodeManagerFailures, ANodeDeclaredDeadFencesItself) {
  Stepper<NodeManager> nm{Config(1, 2)};
  nm.Command(CmdStart{});
  Addr w{1, 70};
  nm.Deliver(w, RegisterWorker{w});
  nm.Deliver(kDriver, SubmitTask{Spec(1, 1)});
  nm.Deliver(kDriver, PutObject{StoredObject{ObjectId{8, 1}, kDriver, Bytes(100)}});
  nm.now = 10'000'000'000;  // no HealthCheck for 10 s
  auto fx = nm.Timer(NodeManager::kWatchdogTimer);
  auto asks = Sent<HealthCheckAck>(fx);
  ASSERT_EQ(asks.size(), 1u);
  EXPECT_EQ(asks[0].first, kGcs);
  auto fx2 = nm.Deliver(kGcs, Deaths{{}, {1}, "you were declared dead"});
  auto stops = Effects<EfStopWorker>(fx2);
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].worker, w);
  EXPECT_TRUE(nm.comp.fenced());
  EXPECT_EQ(nm.comp.store_objects(), 0u);
  EXPECT_EQ(nm.comp.leased_workers(), 0u);
  EXPECT_TRUE(nm.Deliver(kDriver, SubmitTask{Spec(2, 1)}).empty());
  EXPECT_TRUE(nm.Deliver(kGcs, HealthCheck{5}).empty());
}

// Swarm seed 142 (with partitions): a retry landed on the node where the
// first attempt still ran; leases keyed by task collided. Keyed by worker,
// both attempts hold their own lease and give their resources back.
TEST(NodeManagerFailures, TwoAttemptsOfATaskOnOneNodeHoldTwoLeases) {
  Stepper<NodeManager> nm{Config(0, 2)};
  Addr w1{0, 70}, w2{0, 71};
  nm.Deliver(w1, RegisterWorker{w1});
  nm.Deliver(w2, RegisterWorker{w2});
  TaskSpec a0 = Spec(5, 1);
  TaskSpec a1 = Spec(5, 1);
  a1.attempt = 1;
  ASSERT_EQ(Sent<ExecuteTask>(nm.Deliver(kDriver, SubmitTask{a0})).size(), 1u);
  ASSERT_EQ(Sent<ExecuteTask>(nm.Deliver(kDriver, SubmitTask{a1})).size(), 1u);
  EXPECT_EQ(nm.comp.leased_workers(), 2u);
  EXPECT_EQ(nm.comp.available(), Cpus(0));
  nm.Deliver(w2, TaskFinished{TaskId{5}, {}, false});
  EXPECT_EQ(nm.comp.leased_workers(), 1u);
  nm.Deliver(w1, TaskFinished{TaskId{5}, {}, false});
  EXPECT_EQ(nm.comp.leased_workers(), 0u);
  EXPECT_EQ(nm.comp.available(), Cpus(2));
}

}  // namespace
}  // namespace dray

namespace dray {
namespace {

// A worker dies after its TaskFinished ended the lease but before its result
// left it (held while a borrow registration was unacknowledged, or lost in
// a frame): the owner hears of the attempt (the actor swarm hung on this
// under frame loss, seed 58).
TEST_F(NodeManagerTest, AWorkerThatDiesAfterFinishingReportsItsLastTasks) {
  RegisterWorker(worker);
  ASSERT_EQ(Sent<ExecuteTask>(nm.Deliver(kDriver, SubmitTask{Spec(1, 1)})).size(), 1u);
  nm.Deliver(worker, TaskFinished{TaskId{1}, {}});
  EXPECT_EQ(nm.comp.leased_workers(), 0u);
  auto fx = nm.Deliver(worker, WorkerDied{worker, "killed by signal 9"});
  auto failed = Sent<TaskFailed>(fx);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].first, kDriver);
  EXPECT_EQ(failed[0].second.task, TaskId{1});
  EXPECT_EQ(failed[0].second.attempt, 0u);
}

// Of two attempts of one task waiting for their arguments, the newer stays
// (an older one held by a partition can arrive after the retry); a task
// spilled by a node declared dead is dropped.
TEST_F(NodeManagerTest, TheNewerAttemptWaitingForArgumentsStaysAndDeadNodesSpillNothing) {
  auto with_arg = [](uint32_t attempt) {
    TaskSpec s = Spec(5, 1);
    s.attempt = attempt;
    TaskArg a;
    a.kind = TaskArg::kRef;
    a.ref = RefInfo{ObjectId{77, 1}, kDriver};
    a.resolved = true;
    a.in_store = true;
    a.locations = {3};
    a.size = 200000;
    s.args = {a};
    return s;
  };
  nm.Deliver(kGcs, ClusterView{1, {View(0, 4, 4), View(3, 4, 4)}});
  nm.Deliver(kDriver, SubmitTask{with_arg(1)});
  EXPECT_EQ(nm.comp.queued_tasks(), 1u);
  nm.Deliver(NodeAddr(3), SubmitTask{with_arg(0)});  // older: dropped
  EXPECT_EQ(nm.comp.queued_tasks(), 1u);
  nm.Deliver(kDriver, SubmitTask{with_arg(2)});  // newer: replaces
  EXPECT_EQ(nm.comp.queued_tasks(), 1u);
  // Node 3 dies: the waiting task's only copy of its argument went with it.
  EXPECT_EQ(Sent<TaskFailed>(nm.Deliver(kGcs, Deaths{{}, {3}, "node 3 missed 5 health checks"})).size(), 1u);
  EXPECT_EQ(nm.comp.queued_tasks(), 0u);
  auto fx = nm.Deliver(NodeAddr(3), SubmitTask{Spec(9, 1)});
  auto told = Sent<TaskFailed>(fx);  // its owner may think it is here: it retries it
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].first, kDriver);
  EXPECT_EQ(nm.comp.queued_tasks(), 0u);
}

}  // namespace
}  // namespace dray
