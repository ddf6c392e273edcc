// The Owner stepped by hand, as a driver and as a worker: submission, id
// derivation, dependency resolution, Get/Wait/Put, reference counting,
// borrowing and the worker's side of a task.
#include "core/owner/owner.h"

#include "core/proto/codec.h"

#include <gtest/gtest.h>

#include "step_harness.h"

namespace dray {
namespace {

using testing::Cpus;
using testing::Effects;
using testing::Sent;
using testing::Stepper;

const Addr kNode{0, kNodeManagerProc};
const Addr kGcs{0, kControlServiceProc};
const Addr kDriver{0, kFirstUserProc};
const Addr kWorker{1, 70};      // a worker on another node
const Addr kOtherProc{2, 71};   // some other process that borrows

ObjectValue Value(const std::string& s) { return ObjectValue{Buf(s), false, {}}; }

TaskSpec Call(const std::string& fn, std::vector<TaskArg> args = {}) {
  TaskSpec s;
  s.function = fn;
  s.args = std::move(args);
  s.resources = Cpus(1);
  return s;
}
TaskArg RefArg(RefInfo r) {
  TaskArg a;
  a.kind = TaskArg::kRef;
  a.ref = r;
  return a;
}
TaskArg ValueArg(ObjectValue v) {
  TaskArg a;
  a.value = std::move(v);
  a.resolved = true;
  return a;
}

// The error record an error value carries (an empty one if it has none).
ErrorRecord ErrorOf(const ObjectValue& v) {
  ErrorRecord rec;
  std::string err;
  EXPECT_TRUE(Unpack(v.data.data(), v.data.size(), &rec, &err)) << err;
  return rec;
}

ReturnObject Inline(TaskId t, const std::string& s) {
  return ReturnObject{ObjectId::Return(t, 1), Value(s), false, 0, s.size()};
}
ReturnObject Stored(TaskId t, NodeId where, uint64_t size) {
  return ReturnObject{ObjectId::Return(t, 1), ObjectValue{}, true, where, size};
}

struct DriverTest : ::testing::Test {
  Stepper<Owner> o{OwnerConfig{kDriver, kNode, kGcs, false, 5}};
  void SetUp() override {
    o.Command(CmdStart{});
    o.Deliver(kGcs, JobRegistered{1});
  }
  // Submits and returns the ref to the single return value.
  RefInfo Submit(TaskSpec s, std::vector<Effect>* fx_out = nullptr) {
    auto fx = o.Command(CmdSubmit{std::move(s)});
    auto res = Effects<EfCommandResult>(fx);
    EXPECT_EQ(res.size(), 1u);
    if (fx_out) *fx_out = fx;
    return RefInfo{res.at(0).ids.at(0), kDriver};
  }
  std::vector<Effect> Done(RefInfo r, ReturnObject ro) {
    return o.Deliver(kWorker, TaskDone{r.id.Task(), 0, kWorker, {ro}});
  }
};

TEST(OwnerStart, DriverRegistersItsJobAndWakesInit) {
  Stepper<Owner> o{OwnerConfig{kDriver, kNode, kGcs, false, 5}};
  auto fx = o.Command(CmdStart{});
  auto reg = Sent<RegisterJob>(fx);
  ASSERT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg[0].first, kGcs);
  EXPECT_EQ(reg[0].second.driver, kDriver);
  auto fx2 = o.Deliver(kGcs, JobRegistered{3});
  auto done = Effects<EfCompleteWait>(fx2);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].waiter, kStartWaiter);
  EXPECT_EQ(done[0].status, kWaitOk);
  EXPECT_EQ(o.comp.job(), 3u);
}

TEST_F(DriverTest, SubmitReturnsADerivedIdAndSendsTheTaskToItsNode) {
  std::vector<Effect> fx;
  RefInfo r = Submit(Call("f", {ValueArg(Value("1"))}), &fx);
  TaskId expect = TaskId::Child(TaskId::ForDriver(1), 1);
  auto res = Effects<EfCommandResult>(fx);
  EXPECT_EQ(res[0].task, expect);
  EXPECT_EQ(r.id, ObjectId::Return(expect, 1));
  auto sub = Sent<SubmitTask>(fx);
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].first, kNode);
  const TaskSpec& s = sub[0].second.spec;
  EXPECT_EQ(s.task, expect);
  EXPECT_EQ(s.parent, TaskId::ForDriver(1));
  EXPECT_EQ(s.job, 1u);
  EXPECT_EQ(s.owner, kDriver);
  EXPECT_EQ(s.name, "f");
  // The next submission gets the next derived id.
  RefInfo r2 = Submit(Call("f"));
  EXPECT_EQ(r2.id.Task(), TaskId::Child(TaskId::ForDriver(1), 2));
  EXPECT_EQ(o.comp.pending_tasks(), 2u);
}

TEST_F(DriverTest, ATaskNamedByTheUserThreadKeepsItsIdAndTheStepReturnsNothing) {
  // The real backend's user thread names its tasks (one-way Submits): the
  // Owner files the task under that id and emits no command result.
  TaskSpec s = Call("f");
  s.task = TaskId::Child(TaskId::ForDriver(1), 7);
  s.parent = TaskId::ForDriver(1);
  auto fx = o.Command(CmdSubmit{s});
  EXPECT_TRUE(Effects<EfCommandResult>(fx).empty());
  auto sub = Sent<SubmitTask>(fx);
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].second.spec.task, s.task);
  EXPECT_EQ(sub[0].second.spec.parent, TaskId::ForDriver(1));
  EXPECT_EQ(o.comp.pending_tasks(), 1u);
  // Its result completes a Get on the id the user thread derived.
  auto get = o.Command(CmdGet{1, {RefInfo{ObjectId::Return(s.task, 1), kDriver}}, -1});
  EXPECT_TRUE(Effects<EfCompleteWait>(get).empty());
  auto done = Done(RefInfo{ObjectId::Return(s.task, 1), kDriver}, Inline(s.task, "v"));
  auto c = Effects<EfCompleteWait>(done);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].values.at(0).data.view(), "v");
}

TEST_F(DriverTest, SubmitWaitsForAPendingArgumentThenSendsItResolved) {
  RefInfo a = Submit(Call("a"));
  std::vector<Effect> fx;
  RefInfo b = Submit(Call("b", {RefArg(a)}), &fx);
  EXPECT_TRUE(Sent<SubmitTask>(fx).empty()) << "b was sent before its argument was ready";
  auto fx2 = Done(a, Inline(a.id.Task(), "A-value"));
  auto sub = Sent<SubmitTask>(fx2);
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].second.spec.task, b.id.Task());
  const TaskArg& arg = sub[0].second.spec.args.at(0);
  EXPECT_TRUE(arg.resolved);
  EXPECT_FALSE(arg.in_store);
  EXPECT_EQ(arg.value, Value("A-value"));
}

TEST_F(DriverTest, AStoredArgumentTravelsAsLocations) {
  RefInfo a = Submit(Call("a"));
  Done(a, Stored(a.id.Task(), 3, 200 * 1024));
  std::vector<Effect> fx;
  Submit(Call("b", {RefArg(a)}), &fx);
  auto sub = Sent<SubmitTask>(fx);
  ASSERT_EQ(sub.size(), 1u);
  const TaskArg& arg = sub[0].second.spec.args.at(0);
  EXPECT_TRUE(arg.in_store);
  EXPECT_EQ(arg.locations, std::vector<NodeId>{3});
  EXPECT_EQ(arg.size, 200u * 1024);
}

TEST_F(DriverTest, GetOnAReadyInlineObjectCompletesAtOnce) {
  RefInfo a = Submit(Call("a"));
  Done(a, Inline(a.id.Task(), "v"));
  auto fx = o.Command(CmdGet{7, {a}, -1});
  auto done = Effects<EfCompleteWait>(fx);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].waiter, 7u);
  EXPECT_EQ(done[0].status, kWaitOk);
  ASSERT_EQ(done[0].values.size(), 1u);
  EXPECT_EQ(done[0].values[0], Value("v"));
  EXPECT_EQ(o.comp.waiters(), 0u);
}

TEST_F(DriverTest, GetOnAPendingObjectCompletesWhenTheTaskIsDone) {
  RefInfo a = Submit(Call("a"));
  auto fx = o.Command(CmdGet{8, {a}, -1});
  EXPECT_TRUE(Effects<EfCompleteWait>(fx).empty());
  EXPECT_EQ(o.comp.waiters(), 1u);
  auto fx2 = Done(a, Inline(a.id.Task(), "late"));
  auto done = Effects<EfCompleteWait>(fx2);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].waiter, 8u);
  EXPECT_EQ(done[0].values.at(0), Value("late"));
}

TEST_F(DriverTest, GetOnAStoredObjectFetchesItThroughTheNode) {
  RefInfo a = Submit(Call("a"));
  Done(a, Stored(a.id.Task(), 3, 200 * 1024));
  auto fx = o.Command(CmdGet{9, {a}, -1});
  EXPECT_TRUE(Effects<EfCompleteWait>(fx).empty());
  auto fetch = Sent<FetchObject>(fx);
  ASSERT_EQ(fetch.size(), 1u);
  EXPECT_EQ(fetch[0].first, kNode);
  EXPECT_EQ(fetch[0].second.id, a.id);
  EXPECT_EQ(fetch[0].second.locations, std::vector<NodeId>{3});
  ObjectValue big = Value(std::string(200 * 1024, 'z'));
  auto fx2 = o.Deliver(kNode, ObjectReady{a.id, fetch[0].second.request, true, big, ""});
  auto done = Effects<EfCompleteWait>(fx2);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].values.at(0), big);
}

TEST_F(DriverTest, GetWithATimeoutTimesOut) {
  RefInfo a = Submit(Call("a"));
  o.now = 1000;
  auto fx = o.Command(CmdGet{4, {a}, 500});
  auto timers = Effects<EfSetTimer>(fx);
  ASSERT_EQ(timers.size(), 1u);
  EXPECT_EQ(timers[0].id, Owner::kWaitTimerBase + 4);
  EXPECT_EQ(timers[0].at, 1500);
  o.now = 1500;
  auto fx2 = o.Timer(Owner::kWaitTimerBase + 4);
  auto done = Effects<EfCompleteWait>(fx2);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].waiter, 4u);
  EXPECT_EQ(done[0].status, kWaitTimeout);
  EXPECT_EQ(o.comp.waiters(), 0u);
  // The result arriving later wakes nobody.
  EXPECT_TRUE(Effects<EfCompleteWait>(Done(a, Inline(a.id.Task(), "x"))).empty());
}

TEST_F(DriverTest, GetCompletedInTimeCancelsItsTimer) {
  RefInfo a = Submit(Call("a"));
  o.Command(CmdGet{4, {a}, 500});
  auto fx = Done(a, Inline(a.id.Task(), "x"));
  ASSERT_EQ(Effects<EfCompleteWait>(fx).size(), 1u);
  auto cancel = Effects<EfCancelTimer>(fx);
  ASSERT_EQ(cancel.size(), 1u);
  EXPECT_EQ(cancel[0].id, Owner::kWaitTimerBase + 4);
  EXPECT_TRUE(Effects<EfCompleteWait>(o.Timer(Owner::kWaitTimerBase + 4)).empty());
}

TEST_F(DriverTest, WaitReturnsOnceEnoughAreReady) {
  RefInfo a = Submit(Call("a")), b = Submit(Call("b")), c = Submit(Call("c"));
  EXPECT_TRUE(Effects<EfCompleteWait>(o.Command(CmdWait{5, {a, b, c}, 2, -1})).empty());
  EXPECT_TRUE(Effects<EfCompleteWait>(Done(c, Inline(c.id.Task(), "c"))).empty());
  auto done = Effects<EfCompleteWait>(Done(a, Inline(a.id.Task(), "a")));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].ready, (std::vector<uint8_t>{1, 0, 1}));
}

TEST_F(DriverTest, WaitForZeroCompletesAtOnceWithNothingReady) {
  RefInfo a = Submit(Call("a"));
  Done(a, Inline(a.id.Task(), "a"));
  auto done = Effects<EfCompleteWait>(o.Command(CmdWait{6, {a}, 0, -1}));
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].ready, std::vector<uint8_t>{0}) << "at most num_returns (0) may be ready";
}

TEST_F(DriverTest, PutKeepsSmallValuesInlineAndStoresLargeOnes) {
  auto fx = o.Command(CmdPut{Value("small")});
  EXPECT_TRUE(Sent<PutObject>(fx).empty());
  auto ids = Effects<EfCommandResult>(fx);
  ASSERT_EQ(ids.size(), 1u);
  ObjectId small = ids[0].ids.at(0);
  EXPECT_TRUE(small.IsPut());
  auto fx2 = o.Command(CmdPut{Value(std::string(kInlineLimitBytes + 1, 'p'))});
  auto put = Sent<PutObject>(fx2);
  ASSERT_EQ(put.size(), 1u);
  EXPECT_EQ(put[0].first, kNode);
  EXPECT_EQ(put[0].second.object.owner, kDriver);
  ObjectId large = Effects<EfCommandResult>(fx2).at(0).ids.at(0);
  EXPECT_NE(small, large);
  EXPECT_EQ(put[0].second.object.id, large);
  // Exactly the limit still travels inline.
  EXPECT_TRUE(Sent<PutObject>(o.Command(CmdPut{Value(std::string(kInlineLimitBytes, 'p'))})).empty());
}

TEST_F(DriverTest, LastRefFreesAStoredObjectOnItsNode) {
  RefInfo a = Submit(Call("a"));
  o.Command(CmdAddRef{a});
  Done(a, Stored(a.id.Task(), 3, 200 * 1024));
  EXPECT_EQ(o.comp.owned_objects(), 1u);
  o.Command(CmdAddRef{a});  // a copy of the handle
  EXPECT_TRUE(Sent<FreeObjects>(o.Command(CmdRemoveRef{a})).empty());
  auto fx = o.Command(CmdRemoveRef{a});
  auto freed = Sent<FreeObjects>(fx);
  ASSERT_EQ(freed.size(), 1u);
  EXPECT_EQ(freed[0].first, (Addr{3, kNodeManagerProc}));
  EXPECT_EQ(freed[0].second.ids, std::vector<ObjectId>{a.id});
  EXPECT_EQ(o.comp.owned_objects(), 0u);
}

TEST_F(DriverTest, LastRefFreesAnInlineObjectWithoutMessages) {
  RefInfo a = Submit(Call("a"));
  o.Command(CmdAddRef{a});
  Done(a, Inline(a.id.Task(), "v"));
  auto fx = o.Command(CmdRemoveRef{a});
  EXPECT_TRUE(Sent<FreeObjects>(fx).empty());
  EXPECT_EQ(o.comp.owned_objects(), 0u);
}

TEST_F(DriverTest, AResultForADroppedRefIsFreedOnArrival) {
  RefInfo a = Submit(Call("a"));
  o.Command(CmdAddRef{a});
  o.Command(CmdRemoveRef{a});  // dropped while the task still runs
  EXPECT_EQ(o.comp.owned_objects(), 0u);
  auto fx = Done(a, Stored(a.id.Task(), 2, 300 * 1024));
  auto freed = Sent<FreeObjects>(fx);
  ASSERT_EQ(freed.size(), 1u);
  EXPECT_EQ(freed[0].first, (Addr{2, kNodeManagerProc}));
  EXPECT_EQ(o.comp.pending_tasks(), 0u);
  EXPECT_EQ(o.comp.owned_objects(), 0u);
}

TEST_F(DriverTest, APendingTaskHoldsItsArgumentsUntilItEnds) {
  RefInfo a = Submit(Call("a"));
  o.Command(CmdAddRef{a});
  Done(a, Inline(a.id.Task(), "v"));
  RefInfo b = Submit(Call("b", {RefArg(a)}));
  o.Command(CmdAddRef{b});
  o.Command(CmdRemoveRef{a});  // the user's handle goes; b still needs a
  EXPECT_EQ(o.comp.owned_objects(), 2u);
  Done(b, Inline(b.id.Task(), "w"));
  EXPECT_EQ(o.comp.owned_objects(), 1u);  // a is gone with b's hold; b's value stays
  o.Command(CmdRemoveRef{b});
  EXPECT_EQ(o.comp.owned_objects(), 0u);
}

TEST_F(DriverTest, ABorrowerKeepsAnObjectAliveAfterTheLocalRefsGo) {
  RefInfo a = Submit(Call("a"));
  o.Command(CmdAddRef{a});
  Done(a, Stored(a.id.Task(), 3, 200 * 1024));
  auto fx = o.Deliver(kOtherProc, AddBorrower{a.id});
  auto ack = Sent<AddBorrowerAck>(fx);
  ASSERT_EQ(ack.size(), 1u);
  EXPECT_EQ(ack[0].first, kOtherProc);
  EXPECT_TRUE(ack[0].second.found);
  auto fx2 = o.Command(CmdRemoveRef{a});
  EXPECT_TRUE(Sent<FreeObjects>(fx2).empty());
  EXPECT_EQ(o.comp.owned_objects(), 1u);
  // The borrower can still read its status.
  auto status = Sent<ObjectStatus>(o.Deliver(kOtherProc, GetObjectStatus{a.id}));
  ASSERT_EQ(status.size(), 1u);
  EXPECT_TRUE(status[0].second.found);
  EXPECT_TRUE(status[0].second.in_store);
  // When the borrower lets go, the object is freed.
  auto fx3 = o.Deliver(kOtherProc, RemoveBorrower{a.id, 1});
  ASSERT_EQ(Sent<FreeObjects>(fx3).size(), 1u);
  EXPECT_EQ(o.comp.owned_objects(), 0u);
}

TEST_F(DriverTest, AddBorrowerForAFreedObjectIsAnsweredNotFound) {
  auto ack = Sent<AddBorrowerAck>(o.Deliver(kOtherProc, AddBorrower{ObjectId{123, 1}}));
  ASSERT_EQ(ack.size(), 1u);
  EXPECT_FALSE(ack[0].second.found);
}

// ---- worker side ----

struct WorkerTest : ::testing::Test {
  Stepper<Owner> w{OwnerConfig{kWorker, Addr{1, kNodeManagerProc}, kGcs, true, 6}};
  TaskSpec spec;
  void SetUp() override {
    spec = Call("f", {ValueArg(Value("arg"))});
    spec.task = TaskId{555};
    spec.parent = TaskId::ForDriver(1);
    spec.job = 1;
    spec.owner = kDriver;
  }
};

TEST_F(WorkerTest, StartRegistersWithTheNode) {
  auto reg = Sent<RegisterWorker>(w.Command(CmdStart{}));
  ASSERT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg[0].first, (Addr{1, kNodeManagerProc}));
  EXPECT_EQ(reg[0].second.worker, kWorker);
}

TEST_F(WorkerTest, ExecutesAndReportsTheResult) {
  auto fx = w.Deliver(Addr{1, kNodeManagerProc}, ExecuteTask{spec});
  auto run = Effects<EfRunTask>(fx);
  ASSERT_EQ(run.size(), 1u);
  EXPECT_EQ(run[0].spec.task, spec.task);
  auto fx2 = w.Command(CmdTaskReturned{spec.task, {Value("result")}});
  auto fin = Sent<TaskFinished>(fx2);
  ASSERT_EQ(fin.size(), 1u);
  EXPECT_EQ(fin[0].first, (Addr{1, kNodeManagerProc}));
  EXPECT_TRUE(fin[0].second.stored.empty());
  auto done = Sent<TaskDone>(fx2);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].first, kDriver);
  EXPECT_EQ(done[0].second.task, spec.task);
  EXPECT_EQ(done[0].second.worker, kWorker);
  ASSERT_EQ(done[0].second.returns.size(), 1u);
  EXPECT_EQ(done[0].second.returns[0].id, ObjectId::Return(spec.task, 1));
  EXPECT_FALSE(done[0].second.returns[0].stored);
  EXPECT_EQ(done[0].second.returns[0].value, Value("result"));
}

TEST_F(WorkerTest, ALargeResultStaysInTheNodeStore) {
  w.Deliver(Addr{1, kNodeManagerProc}, ExecuteTask{spec});
  ObjectValue big = Value(std::string(kInlineLimitBytes + 1, 'b'));
  auto fx = w.Command(CmdTaskReturned{spec.task, {big}});
  auto fin = Sent<TaskFinished>(fx);
  ASSERT_EQ(fin.size(), 1u);
  ASSERT_EQ(fin[0].second.stored.size(), 1u);
  EXPECT_EQ(fin[0].second.stored[0].value, big);
  EXPECT_EQ(fin[0].second.stored[0].owner, kDriver);
  auto done = Sent<TaskDone>(fx);
  ASSERT_EQ(done.size(), 1u);
  const ReturnObject& r = done[0].second.returns.at(0);
  EXPECT_TRUE(r.stored);
  EXPECT_EQ(r.location, 1u);
  EXPECT_EQ(r.size, big.data.size());
  EXPECT_EQ(r.value.data.size(), 0u);  // the bytes do not travel to the owner
}

TEST_F(WorkerTest, TaskDoneWaitsForAnUnackedBorrowRegistration) {
  w.Deliver(Addr{1, kNodeManagerProc}, ExecuteTask{spec});
  // The task deserializes a nested ref owned by the driver: it borrows it.
  RefInfo borrowed{ObjectId{999, 1}, kDriver};
  auto fx = w.Command(CmdAddRef{borrowed});
  auto reg = Sent<AddBorrower>(fx);
  ASSERT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg[0].first, kDriver);
  EXPECT_EQ(w.comp.borrowed_objects(), 1u);
  auto fx2 = w.Command(CmdRemoveRef{borrowed});
  EXPECT_TRUE(Sent<RemoveBorrower>(fx2).empty()) << "released before the owner knew of the borrow";
  auto fx3 = w.Command(CmdTaskReturned{spec.task, {Value("r")}});
  EXPECT_EQ(Sent<TaskFinished>(fx3).size(), 1u);  // the node may reuse the worker
  EXPECT_TRUE(Sent<TaskDone>(fx3).empty()) << "TaskDone sent while a borrow registration is unacked";
  auto fx4 = w.Deliver(kDriver, AddBorrowerAck{borrowed.id, true});
  auto rel = Sent<RemoveBorrower>(fx4);
  auto done = Sent<TaskDone>(fx4);
  ASSERT_EQ(rel.size(), 1u);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(rel[0].first, kDriver);
  EXPECT_EQ(done[0].first, kDriver);
  // In that order: the owner learns of the borrow's end before the task's end.
  size_t i_rel = 0, i_done = 0;
  for (size_t i = 0; i < fx4.size(); ++i) {
    if (const auto* s = std::get_if<EfSend>(&fx4[i])) {
      if (std::holds_alternative<RemoveBorrower>(s->msg)) i_rel = i;
      if (std::holds_alternative<TaskDone>(s->msg)) i_done = i;
    }
  }
  EXPECT_LT(i_rel, i_done);
}

TEST_F(WorkerTest, AGetInsideATaskReleasesTheCpuUntilGranted) {
  w.Deliver(Addr{1, kNodeManagerProc}, ExecuteTask{spec});
  RefInfo borrowed{ObjectId{999, 1}, kDriver};
  w.Command(CmdAddRef{borrowed});
  w.Deliver(kDriver, AddBorrowerAck{borrowed.id, true});
  auto fx = w.Command(CmdGet{1, {borrowed}, -1});
  auto status = Sent<GetObjectStatus>(fx);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].first, kDriver);
  auto blocked = Sent<WorkerBlocked>(fx);
  ASSERT_EQ(blocked.size(), 1u);
  EXPECT_EQ(blocked[0].second.task, spec.task);
  // The value arrives: the worker asks for its CPU back before the task goes on.
  auto fx2 = w.Deliver(kDriver, ObjectStatus{borrowed.id, true, false, Value("nested"), {}, 6});
  EXPECT_TRUE(Effects<EfCompleteWait>(fx2).empty());
  auto unblocked = Sent<WorkerUnblocked>(fx2);
  ASSERT_EQ(unblocked.size(), 1u);
  EXPECT_EQ(unblocked[0].second.task, spec.task);
  auto fx3 = w.Deliver(Addr{1, kNodeManagerProc}, ResumeGrant{spec.task});
  auto done = Effects<EfCompleteWait>(fx3);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].values.at(0), Value("nested"));
}

TEST_F(WorkerTest, SubmissionsInsideATaskDeriveFromTheTaskId) {
  w.Deliver(Addr{1, kNodeManagerProc}, ExecuteTask{spec});
  auto fx = w.Command(CmdSubmit{Call("child")});
  auto res = Effects<EfCommandResult>(fx);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].task, TaskId::Child(spec.task, 1));
  auto sub = Sent<SubmitTask>(fx);
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].second.spec.owner, kWorker);
  EXPECT_EQ(sub[0].second.spec.parent, spec.task);
}

}  // namespace
}  // namespace dray

// ---- failures ----

namespace dray {
namespace {

TEST_F(DriverTest, AFailedAttemptIsResubmittedWithTheNextAttempt) {
  TaskSpec s = Call("f");
  s.max_retries = 1;
  RefInfo r = Submit(s);
  TaskId t = r.id.Task();
  auto fx = o.Deliver(kNode, TaskFailed{t, 0, "WorkerCrashedError", "worker died"});
  auto sub = Sent<SubmitTask>(fx);
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].second.spec.attempt, 1u);
  // A stale report about attempt 0 changes nothing.
  EXPECT_TRUE(o.Deliver(kNode, TaskFailed{t, 0, "WorkerCrashedError", "late"}).empty());
  // Out of retries: the return becomes the error, and a Get gets it.
  o.Deliver(kNode, TaskFailed{t, 1, "WorkerCrashedError", "worker died again"});
  EXPECT_EQ(o.comp.pending_tasks(), 0u);
  auto got = Effects<EfCompleteWait>(o.Command(CmdGet{9, {r}, -1}));
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].values.size(), 1u);
  EXPECT_TRUE(got[0].values[0].is_error);
  ErrorRecord rec = ErrorOf(got[0].values[0]);
  EXPECT_EQ(rec.kind, "WorkerCrashedError");
  EXPECT_NE(rec.message.find("no retries left of 1"), std::string::npos) << rec.message;
}

// A task forwarded to a node that then dies is retried; one still on a live
// node is not.
TEST_F(DriverTest, TasksPlacedOnADeadNodeAreRetried) {
  RefInfo a = Submit(Call("f"));
  RefInfo b = Submit(Call("g"));
  o.Deliver(kNode, TaskPlaced{a.id.Task(), 0, 3, 1});
  o.Deliver(kNode, TaskPlaced{b.id.Task(), 0, 4, 1});
  auto fx = o.Deliver(kGcs, Deaths{{}, {3}, "node 3 missed 5 health checks"});
  auto sub = Sent<SubmitTask>(fx);
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].second.spec.task, a.id.Task());
  EXPECT_EQ(sub[0].second.spec.attempt, 1u);
  // Forwarded to a node already known dead: retried at once.
  auto fx2 = o.Deliver(kNode, TaskPlaced{a.id.Task(), 1, 3, 1});
  ASSERT_EQ(Sent<SubmitTask>(fx2).size(), 1u);
  EXPECT_EQ(Sent<SubmitTask>(fx2)[0].second.spec.attempt, 2u);
}

// A stored result whose only copy dies is rebuilt when a Get needs it: its
// task runs again (lineage), and the Get fetches the new copy.
TEST_F(DriverTest, ALostStoredResultIsRebuiltWhenNeeded) {
  RefInfo r = Submit(Call("f"));
  Done(r, Stored(r.id.Task(), 2, 200'000));
  EXPECT_EQ(o.comp.lineage_entries(), 1u);
  // Nothing is rebuilt merely because the copy died ...
  EXPECT_TRUE(Sent<SubmitTask>(o.Deliver(kGcs, Deaths{{}, {2}, "node 2 died"})).empty());
  // ... only once a Get needs it.
  auto fx = o.Command(CmdGet{4, {r}, -1});
  auto sub = Sent<SubmitTask>(fx);
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].second.spec.attempt, 1u);
  EXPECT_EQ(o.comp.reconstructions(), 1u);
  EXPECT_TRUE(Effects<EfCompleteWait>(fx).empty());
  auto fx2 = o.Deliver(kWorker, TaskDone{r.id.Task(), 1, kWorker, {Stored(r.id.Task(), 5, 200'000)}});
  auto fetch = Sent<FetchObject>(fx2);
  ASSERT_EQ(fetch.size(), 1u);
  EXPECT_EQ(fetch[0].second.locations, std::vector<NodeId>{5});
}

// A Put object cannot be rebuilt: losing every copy gives ObjectLostError.
TEST_F(DriverTest, ALostPutObjectIsLost) {
  auto fx = o.Command(CmdPut{Value(std::string(200'000, 'p'))});
  RefInfo r{Effects<EfCommandResult>(fx).at(0).ids.at(0), kDriver};
  o.Deliver(kNode, AddObjectLocation{r.id, 4});
  o.Deliver(kGcs, Deaths{{}, {0, 4}, "nodes died"});
  auto got = Effects<EfCompleteWait>(o.Command(CmdGet{5, {r}, -1}));
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].values.at(0).is_error);
  ErrorRecord rec = ErrorOf(got[0].values[0]);
  EXPECT_EQ(rec.kind, "ObjectLostError");
  EXPECT_NE(rec.message.find("was put"), std::string::npos) << rec.message;
}

// Review finding: checking a Get can give up on one object, which wakes the
// same Get again; that nested check used to complete the Get under the outer
// one (use after free, then an assertion).
TEST_F(DriverTest, AGetOfTwoObjectsThatCannotBeRebuiltCompletesOnce) {
  TaskSpec s = Call("f");
  s.max_retries = 0;
  RefInfo x = Submit(s);
  RefInfo y = Submit(s);
  Done(x, Stored(x.id.Task(), 2, 200'000));
  Done(y, Stored(y.id.Task(), 2, 200'000));
  auto fx = o.Command(CmdGet{6, {x, y}, -1});
  ASSERT_EQ(Sent<FetchObject>(fx).size(), 2u);
  auto fx2 = o.Deliver(kGcs, Deaths{{}, {2}, "node 2 died"});
  auto done = Effects<EfCompleteWait>(fx2);
  ASSERT_EQ(done.size(), 1u);
  ASSERT_EQ(done[0].values.size(), 2u);
  EXPECT_TRUE(done[0].values[0].is_error);
  EXPECT_TRUE(done[0].values[1].is_error);
  EXPECT_EQ(o.comp.waiters(), 0u);
}

// Review finding: a re-run that runs out of retries turned every return of
// the task into the error, also one that had not been lost.
TEST_F(DriverTest, ARebuildThatFailsKeepsTheReturnsThatSurvived) {
  TaskSpec s = Call("f");
  s.num_returns = 2;
  s.max_retries = 1;
  auto fx = o.Command(CmdSubmit{s});
  auto ids = Effects<EfCommandResult>(fx).at(0).ids;
  ASSERT_EQ(ids.size(), 2u);
  RefInfo r1{ids[0], kDriver}, r2{ids[1], kDriver};
  TaskId t = r1.id.Task();
  o.Deliver(kWorker, TaskDone{t, 0, kWorker,
                              {ReturnObject{r1.id, {}, true, 2, 200'000}, ReturnObject{r2.id, {}, true, 3, 200'000}}});
  o.Deliver(kGcs, Deaths{{}, {2}, "node 2 died"});
  auto sub = Sent<SubmitTask>(o.Command(CmdGet{7, {r1}, -1}));
  ASSERT_EQ(sub.size(), 1u);  // rebuilding r1 (its last retry)
  auto fx2 = o.Deliver(kNode, TaskFailed{t, 1, "WorkerCrashedError", "worker died"});
  auto done = Effects<EfCompleteWait>(fx2);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].values.at(0).is_error);
  // r2 still has its copy on node 3.
  auto fetch = Sent<FetchObject>(o.Command(CmdGet{8, {r2}, -1}));
  ASSERT_EQ(fetch.size(), 1u);
  EXPECT_EQ(fetch[0].second.locations, std::vector<NodeId>{3});
}

// Review finding: an attempt that failed only because an argument's copies
// died used up the task's retries; it is resubmitted without costing one.
TEST_F(DriverTest, ALostArgumentCostsNoRetry) {
  TaskSpec s = Call("f");
  s.max_retries = 0;
  RefInfo r = Submit(s);
  TaskId t = r.id.Task();
  auto fx = o.Deliver(kNode, TaskFailed{t, 0, "ObjectLostError", "its argument's node died"});
  auto sub = Sent<SubmitTask>(fx);
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].second.spec.attempt, 1u);
  // A crash still counts: with no retries, it fails.
  o.Deliver(kNode, TaskFailed{t, 1, "WorkerCrashedError", "worker died"});
  EXPECT_EQ(o.comp.pending_tasks(), 0u);
}

// A node that was sent a task for a put whose only location it named itself,
// and which no longer has the copy, tells the owner so (recovery seed 655):
// the retry does not go there again but runs with ObjectLostError for the
// put, however many retries the task has.
TEST_F(DriverTest, APutWhoseOnlyLocationIsGoneFailsItsTaskInsteadOfRetryingForever) {
  auto px = o.Command(CmdPut{Value(std::string(200'000, 'p'))});
  RefInfo put{Effects<EfCommandResult>(px).at(0).ids.at(0), kDriver};
  TaskSpec s = Call("f", {RefArg(put)});
  s.max_retries = -1;
  RefInfo r = Submit(s);
  TaskId t = r.id.Task();
  o.Deliver(kNode, RemoveObjectLocation{put.id, 0});
  auto fx = o.Deliver(kNode, TaskFailed{t, 0, "ObjectLostError", "its only known copy, on node 0, was evicted"});
  auto sub = Sent<SubmitTask>(fx);
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].second.spec.attempt, 1u);
  const TaskArg& a = sub[0].second.spec.args.at(0);
  EXPECT_FALSE(a.in_store);
  ASSERT_TRUE(a.value.is_error);
  ErrorRecord rec = ErrorOf(a.value);
  EXPECT_EQ(rec.kind, "ObjectLostError");
  EXPECT_NE(rec.message.find("was put"), std::string::npos) << rec.message;
}

// A result from a worker on a node declared dead (cut off, then healed) is
// ignored: the task was retried elsewhere, and the owner takes one result.
TEST_F(DriverTest, AResultFromADeadNodeIsIgnored) {
  RefInfo r = Submit(Call("f"));
  o.Deliver(kNode, TaskPlaced{r.id.Task(), 0, 1, 1});
  auto fx = o.Deliver(kGcs, Deaths{{}, {1}, "node 1 missed 5 health checks"});
  ASSERT_EQ(Sent<SubmitTask>(fx).size(), 1u);  // retried
  EXPECT_TRUE(o.Deliver(kWorker, TaskDone{r.id.Task(), 0, kWorker, {Inline(r.id.Task(), "old")}}).empty());
  EXPECT_EQ(o.comp.pending_tasks(), 1u);
  Addr other{2, 70};
  o.Deliver(other, TaskDone{r.id.Task(), 1, other, {Inline(r.id.Task(), "new")}});
  EXPECT_EQ(o.comp.pending_tasks(), 0u);
}

}  // namespace
}  // namespace dray
