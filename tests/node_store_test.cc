// The node manager's object store under pressure, stepped by hand: LRU
// eviction of secondary copies (the owner hears), spilling of primary copies,
// restores on a fetch, a local task's argument and a pull from another node,
// spill files deleted on free, pinned arguments, the fallback allocation.
#include <gtest/gtest.h>

#include "core/node/node_manager.h"
#include "step_harness.h"

namespace dray {
namespace {

using testing::Cpus;
using testing::Effects;
using testing::Sent;
using testing::Stepper;

const Addr kGcs{0, kControlServiceProc};
const Addr kDriver{0, kFirstUserProc};
const Addr kSelf{0, kNodeManagerProc};
const Addr kOther{1, kNodeManagerProc};
const Addr kWorker{0, 70};
const Addr kReader{0, 71};

NodeManagerConfig SmallStore(uint64_t capacity_bytes) {
  NodeManagerConfig c;
  c.node = 0;
  c.gcs = kGcs;
  c.total = Cpus(2);
  c.seed = 7;
  c.store_capacity_bytes = capacity_bytes;
  return c;
}

ObjectValue Bytes(size_t n, char c) { return ObjectValue{Buf(std::string(n, c)), false, {}}; }
ObjectId Obj(uint64_t i) { return ObjectId{1000 + i, 1}; }

TaskSpec TaskWithArg(uint64_t task, const ObjectId& arg_id) {
  TaskSpec s;
  s.task = TaskId{task};
  s.job = 1;
  s.function = "f";
  s.name = "f";
  s.owner = kDriver;
  s.resources = Cpus(1);
  TaskArg a;
  a.kind = TaskArg::kRef;
  a.ref = RefInfo{arg_id, kDriver};
  a.resolved = true;
  a.in_store = true;
  a.locations = {0};
  s.args = {a};
  return s;
}

struct NodeStoreTest : ::testing::Test {
  Stepper<NodeManager> nm{SmallStore(1000)};
  std::vector<Effect> Put(uint64_t i, size_t bytes) {
    return nm.Deliver(kDriver, PutObject{StoredObject{Obj(i), kDriver, Bytes(bytes, static_cast<char>('a' + i))}});
  }
  // A secondary copy: pulled from node 1 for a reader here.
  void PullSecondary(uint64_t i, size_t bytes) {
    auto fx = nm.Deliver(kReader, FetchObject{Obj(i), kDriver, {1}, 100 + i});
    ASSERT_EQ(Sent<PullObject>(fx).size(), 1u);
    ObjectChunk c{Obj(i), true, 0, 1, bytes, false, {}, kDriver, Buf(std::string(bytes, 's'))};
    nm.Deliver(kOther, c);
    ASSERT_TRUE(nm.comp.HasObject(Obj(i)));
  }
  // The spill key an EfSpill of `id` among `fx` used (0: none).
  uint64_t SpillKey(const std::vector<Effect>& fx, const ObjectId& id) {
    for (const auto& s : Effects<EfSpill>(fx))
      if (s.id == id) return s.key;
    return 0;
  }
};

TEST_F(NodeStoreTest, EvictsTheLeastRecentlyUsedSecondaryCopyAndTellsItsOwner) {
  PullSecondary(1, 400);
  PullSecondary(2, 400);
  // Object 1 is read again: object 2 is now the least recently used.
  ASSERT_EQ(Sent<ObjectReady>(nm.Deliver(kReader, FetchObject{Obj(1), kDriver, {1}, 9})).size(), 1u);
  auto fx = Put(3, 400);
  EXPECT_TRUE(nm.comp.HasObject(Obj(1)));
  EXPECT_FALSE(nm.comp.HasObject(Obj(2)));
  EXPECT_TRUE(nm.comp.HasObject(Obj(3)));
  EXPECT_EQ(nm.comp.store_used_bytes(), 800u);
  EXPECT_EQ(nm.comp.store_evictions(), 1u);
  EXPECT_TRUE(Effects<EfSpill>(fx).empty());  // a secondary copy is dropped, not spilled
  auto gone = Sent<RemoveObjectLocation>(fx);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].first, kDriver);
  EXPECT_EQ(gone[0].second.id, Obj(2));
  EXPECT_EQ(gone[0].second.node, 0u);
  // A pull that still names this node gets found=false (and tries elsewhere).
  auto chunk = Sent<ObjectChunk>(nm.Deliver(kOther, PullObject{Obj(2), 0}));
  ASSERT_EQ(chunk.size(), 1u);
  EXPECT_FALSE(chunk[0].second.found);
}

TEST_F(NodeStoreTest, SpillsTheLeastRecentlyUsedPrimaryWhenNoSecondaryIsLeft) {
  Put(1, 400);
  Put(2, 400);
  auto fx = Put(3, 400);
  auto spills = Effects<EfSpill>(fx);
  ASSERT_EQ(spills.size(), 1u);
  EXPECT_EQ(spills[0].id, Obj(1));
  EXPECT_NE(spills[0].key, 0u);
  EXPECT_EQ(spills[0].data.view(), std::string(400, 'b'));
  EXPECT_TRUE(nm.comp.HasObject(Obj(1)));  // its metadata stays
  EXPECT_TRUE(nm.comp.IsSpilled(Obj(1)));
  EXPECT_EQ(nm.comp.store_used_bytes(), 800u);
  EXPECT_EQ(nm.comp.spilled_objects(), 1u);
  EXPECT_EQ(nm.comp.store_overflows(), 0u);
  EXPECT_TRUE(Sent<RemoveObjectLocation>(fx).empty());  // the owner's location is still right
}

TEST_F(NodeStoreTest, AFetchOfASpilledObjectWaitsForItsRestore) {
  Put(1, 400);
  Put(2, 400);
  uint64_t key = SpillKey(Put(3, 400), Obj(1));
  ASSERT_NE(key, 0u);
  auto fx = nm.Deliver(kReader, FetchObject{Obj(1), kDriver, {0}, 5});
  EXPECT_TRUE(Sent<ObjectReady>(fx).empty());
  auto restore = Effects<EfRestore>(fx);
  ASSERT_EQ(restore.size(), 1u);
  EXPECT_EQ(restore[0].key, key);
  EXPECT_EQ(restore[0].id, Obj(1));
  EXPECT_EQ(restore[0].size, 400u);
  // A second fetch meanwhile asks for no second read.
  EXPECT_TRUE(Effects<EfRestore>(nm.Deliver(kReader, FetchObject{Obj(1), kDriver, {0}, 6})).empty());
  // Only the node itself (its backend) completes a restore.
  EXPECT_TRUE(nm.Deliver(kOther, ObjectRestored{Obj(1), key, true, Buf(std::string(400, 'b')), ""}).empty());
  auto done = nm.Deliver(kSelf, ObjectRestored{Obj(1), key, true, Buf(std::string(400, 'b')), ""});
  auto ready = Sent<ObjectReady>(done);
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_TRUE(ready[0].second.ok);
  EXPECT_EQ(ready[0].second.value.data.view(), std::string(400, 'b'));
  EXPECT_FALSE(nm.comp.IsSpilled(Obj(1)));
  // Room for it: object 2 (now the least recently used) went to disk.
  auto spills = Effects<EfSpill>(done);
  ASSERT_EQ(spills.size(), 1u);
  EXPECT_EQ(spills[0].id, Obj(2));
  EXPECT_EQ(nm.comp.store_used_bytes(), 800u);
  // Spilled again later, it keeps its file: nothing is written twice.
  Put(4, 400);
  auto again = Put(5, 400);
  EXPECT_TRUE(nm.comp.IsSpilled(Obj(1)));
  EXPECT_EQ(SpillKey(again, Obj(1)), 0u);
}

TEST_F(NodeStoreTest, ALocalTasksSpilledArgumentIsRestoredBeforeItRuns) {
  nm.Deliver(kWorker, RegisterWorker{kWorker});
  Put(1, 400);
  Put(2, 400);
  uint64_t key = SpillKey(Put(3, 400), Obj(1));
  ASSERT_NE(key, 0u);
  auto fx = nm.Deliver(kDriver, SubmitTask{TaskWithArg(50, Obj(1))});
  EXPECT_TRUE(Sent<ExecuteTask>(fx).empty());
  ASSERT_EQ(Effects<EfRestore>(fx).size(), 1u);
  EXPECT_EQ(nm.comp.queued_tasks(), 1u);
  auto done = nm.Deliver(kSelf, ObjectRestored{Obj(1), key, true, Buf(std::string(400, 'b')), ""});
  auto exec = Sent<ExecuteTask>(done);
  ASSERT_EQ(exec.size(), 1u);
  EXPECT_EQ(exec[0].second.spec.args[0].value.data.view(), std::string(400, 'b'));
  EXPECT_TRUE(nm.comp.IsPinned(Obj(1)));
  // Finished: no longer pinned.
  nm.Deliver(kWorker, TaskFinished{TaskId{50}, {}});
  EXPECT_FALSE(nm.comp.IsPinned(Obj(1)));
}

// A queued task's arguments stay in memory until it runs (tasks waiting for
// workers would otherwise evict each other's arguments without end).
TEST_F(NodeStoreTest, AQueuedTasksArgumentStaysInMemoryUntilItRuns) {
  Put(1, 400);
  // No worker yet: the task waits in the ready queue.
  auto fx = nm.Deliver(kDriver, SubmitTask{TaskWithArg(51, Obj(1))});
  ASSERT_EQ(Effects<EfStartWorker>(fx).size(), 1u);
  Put(2, 400);
  auto spills = Effects<EfSpill>(Put(3, 400));
  ASSERT_EQ(spills.size(), 1u);
  EXPECT_EQ(spills[0].id, Obj(2));  // not the older object 1: a queued task needs it
  Addr w = Effects<EfStartWorker>(fx)[0].worker;
  auto exec = Sent<ExecuteTask>(nm.Deliver(w, RegisterWorker{w}));
  ASSERT_EQ(exec.size(), 1u);
  EXPECT_EQ(exec[0].second.spec.args[0].value.data.view(), std::string(400, 'b'));
  EXPECT_TRUE(nm.comp.IsPinned(Obj(1)));
  EXPECT_EQ(nm.comp.queued_tasks(), 0u);
}

TEST_F(NodeStoreTest, APullFromAnotherNodeIsServedFromTheRestore) {
  Put(1, 400);
  Put(2, 400);
  uint64_t key = SpillKey(Put(3, 400), Obj(1));
  auto fx = nm.Deliver(kOther, PullObject{Obj(1), 0});
  EXPECT_TRUE(Sent<ObjectChunk>(fx).empty());
  ASSERT_EQ(Effects<EfRestore>(fx).size(), 1u);
  auto chunks = Sent<ObjectChunk>(nm.Deliver(kSelf, ObjectRestored{Obj(1), key, true, Buf(std::string(400, 'b')), ""}));
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].first, kOther);
  EXPECT_TRUE(chunks[0].second.found);
  EXPECT_EQ(chunks[0].second.data.view(), std::string(400, 'b'));
}

TEST_F(NodeStoreTest, FreeingASpilledObjectDeletesItsSpillFile) {
  Put(1, 400);
  Put(2, 400);
  uint64_t key = SpillKey(Put(3, 400), Obj(1));
  auto fx = nm.Deliver(kDriver, FreeObjects{{Obj(1)}});
  auto del = Effects<EfDeleteSpill>(fx);
  ASSERT_EQ(del.size(), 1u);
  EXPECT_EQ(del[0].key, key);
  EXPECT_FALSE(nm.comp.HasObject(Obj(1)));
  EXPECT_EQ(nm.comp.spilled_objects(), 0u);
  // An object in memory that was never spilled has no file to delete.
  EXPECT_TRUE(Effects<EfDeleteSpill>(nm.Deliver(kDriver, FreeObjects{{Obj(3)}})).empty());
}

TEST_F(NodeStoreTest, FreedWhileRestoringFailsItsFetchersAndIgnoresTheLateRead) {
  Put(1, 400);
  Put(2, 400);
  uint64_t key = SpillKey(Put(3, 400), Obj(1));
  nm.Deliver(kReader, FetchObject{Obj(1), kDriver, {0}, 5});
  auto fx = nm.Deliver(kDriver, FreeObjects{{Obj(1)}});
  ASSERT_EQ(Effects<EfDeleteSpill>(fx).size(), 1u);
  auto ready = Sent<ObjectReady>(fx);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_FALSE(ready[0].second.ok);
  EXPECT_TRUE(nm.Deliver(kSelf, ObjectRestored{Obj(1), key, true, Buf(std::string(400, 'b')), ""}).empty());
  EXPECT_FALSE(nm.comp.HasObject(Obj(1)));
}

TEST_F(NodeStoreTest, AFailedRestoreLosesTheCopyAndTellsTheOwner) {
  Put(1, 400);
  Put(2, 400);
  uint64_t key = SpillKey(Put(3, 400), Obj(1));
  nm.Deliver(kReader, FetchObject{Obj(1), kDriver, {0}, 5});
  auto fx = nm.Deliver(kSelf, ObjectRestored{Obj(1), key, false, {}, "disk gone"});
  auto ready = Sent<ObjectReady>(fx);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_FALSE(ready[0].second.ok);
  EXPECT_NE(ready[0].second.error.find("disk gone"), std::string::npos);
  ASSERT_EQ(Sent<RemoveObjectLocation>(fx).size(), 1u);
  ASSERT_EQ(Effects<EfDeleteSpill>(fx).size(), 1u);
  EXPECT_FALSE(nm.comp.HasObject(Obj(1)));
}

TEST_F(NodeStoreTest, APinnedArgumentIsNeitherEvictedNorSpilled) {
  nm.Deliver(kWorker, RegisterWorker{kWorker});
  Put(1, 400);
  ASSERT_EQ(Sent<ExecuteTask>(nm.Deliver(kDriver, SubmitTask{TaskWithArg(52, Obj(1))})).size(), 1u);
  ASSERT_TRUE(nm.comp.IsPinned(Obj(1)));
  Put(2, 400);
  auto fx = Put(3, 400);
  auto spills = Effects<EfSpill>(fx);
  ASSERT_EQ(spills.size(), 1u);
  EXPECT_EQ(spills[0].id, Obj(2));  // the older object 1 is in use
  EXPECT_FALSE(nm.comp.IsSpilled(Obj(1)));
  // Once its task is done it may go.
  nm.Deliver(kWorker, TaskFinished{TaskId{52}, {}});
  auto later = Put(4, 400);
  EXPECT_TRUE(nm.comp.IsSpilled(Obj(3)) || nm.comp.IsSpilled(Obj(1)));
  EXPECT_EQ(nm.comp.store_overflows(), 0u);
}

TEST_F(NodeStoreTest, WithEverythingPinnedTheObjectIsStoredAnywayAndCounted) {
  nm.Deliver(kWorker, RegisterWorker{kWorker});
  Put(1, 600);
  ASSERT_EQ(Sent<ExecuteTask>(nm.Deliver(kDriver, SubmitTask{TaskWithArg(53, Obj(1))})).size(), 1u);
  auto fx = Put(2, 600);
  EXPECT_TRUE(Effects<EfSpill>(fx).empty());
  EXPECT_TRUE(nm.comp.HasObject(Obj(2)));
  EXPECT_FALSE(nm.comp.IsSpilled(Obj(1)));
  EXPECT_EQ(nm.comp.store_used_bytes(), 1200u);
  EXPECT_EQ(nm.comp.store_overflows(), 1u);
  // The next store makes room again (object 2 is not pinned).
  auto fx2 = Put(3, 300);
  ASSERT_EQ(Effects<EfSpill>(fx2).size(), 1u);
  EXPECT_EQ(Effects<EfSpill>(fx2)[0].id, Obj(2));
  EXPECT_EQ(nm.comp.store_used_bytes(), 900u);
}

TEST_F(NodeStoreTest, AnObjectBiggerThanTheStoreIsAFallbackAndSpillsNothingElse) {
  Put(1, 400);
  auto fx = Put(2, 5000);
  EXPECT_TRUE(Effects<EfSpill>(fx).empty());
  EXPECT_FALSE(nm.comp.IsSpilled(Obj(1)));
  EXPECT_EQ(nm.comp.store_overflows(), 1u);
  EXPECT_EQ(nm.comp.store_used_bytes(), 5400u);
  // The next object needs room: object 1 (older) goes first, then it.
  auto fx2 = Put(3, 400);
  auto spills = Effects<EfSpill>(fx2);
  ASSERT_EQ(spills.size(), 2u);
  EXPECT_EQ(spills[0].id, Obj(1));
  EXPECT_EQ(spills[1].id, Obj(2));
  EXPECT_EQ(nm.comp.store_used_bytes(), 400u);
}

TEST_F(NodeStoreTest, ANodeDeclaredDeadDeletesItsSpillFiles) {
  Put(1, 400);
  Put(2, 400);
  uint64_t key = SpillKey(Put(3, 400), Obj(1));
  auto fx = nm.Deliver(kGcs, Deaths{{}, {0}, "declared dead"});
  auto del = Effects<EfDeleteSpill>(fx);
  ASSERT_EQ(del.size(), 1u);
  EXPECT_EQ(del[0].key, key);
  EXPECT_EQ(nm.comp.store_objects(), 0u);
}

// A retried task's process puts objects with the ids its dead attempt used
// (ids are derived from the task). Recovery seed 655: the retry's put found
// the dead attempt's copy here and was kept under the old owner only; when
// that death was published the copy was freed under the live owner, whose
// tasks were then sent here for it forever. Now each owner holds the entry.
TEST_F(NodeStoreTest, AnObjectPutAgainByAnotherAttemptsProcessOutlivesTheFirstOwner) {
  const Addr first{0, 80};
  const Addr retry{0, 81};
  const ObjectId put = ObjectId::Put(TaskId{77}, 1);
  nm.Deliver(first, PutObject{StoredObject{put, first, Bytes(300, 'p')}});
  nm.Deliver(retry, PutObject{StoredObject{put, retry, Bytes(300, 'p')}});
  // A stale free from another process than an owner frees nothing.
  nm.Deliver(kReader, FreeObjects{{put}});
  EXPECT_TRUE(nm.comp.HasObject(put));
  // The first attempt's death is published: the retry still holds it.
  nm.Deliver(kGcs, Deaths{{first}, {}, "worker crashed"});
  ASSERT_TRUE(nm.comp.HasObject(put));
  auto served = Sent<ObjectReady>(nm.Deliver(kReader, FetchObject{put, retry, {0}, 5}));
  ASSERT_EQ(served.size(), 1u);
  EXPECT_TRUE(served[0].second.ok);
  // Its last owner frees it: gone.
  nm.Deliver(retry, FreeObjects{{put}});
  EXPECT_FALSE(nm.comp.HasObject(put));
  EXPECT_EQ(nm.comp.store_used_bytes(), 0u);
}

TEST_F(NodeStoreTest, TwoLiveOwnersOfOneObjectFreeItWhenBothHaveFreedIt) {
  const Addr a{0, 80};
  const Addr b{0, 81};
  const ObjectId put = ObjectId::Put(TaskId{78}, 1);
  nm.Deliver(a, PutObject{StoredObject{put, a, Bytes(300, 'p')}});
  nm.Deliver(b, PutObject{StoredObject{put, b, Bytes(300, 'p')}});
  nm.Deliver(a, FreeObjects{{put}});
  EXPECT_TRUE(nm.comp.HasObject(put));
  nm.Deliver(b, FreeObjects{{put}});
  EXPECT_FALSE(nm.comp.HasObject(put));
}

// A task sent here for an argument whose only location the owner knows is
// this node, which no longer has it: the owner hears that the location is
// gone, so it rebuilds the object (or fails a put) instead of sending every
// retry here again.
TEST_F(NodeStoreTest, AnArgumentWhoseOnlyLocationIsAGoneCopyHereTellsItsOwner) {
  nm.Deliver(kWorker, RegisterWorker{kWorker});
  auto fx = nm.Deliver(kDriver, SubmitTask{TaskWithArg(52, Obj(9))});
  EXPECT_TRUE(Sent<ExecuteTask>(fx).empty());
  auto failed = Sent<TaskFailed>(fx);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].second.kind, "ObjectLostError");
  auto gone = Sent<RemoveObjectLocation>(fx);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].first, kDriver);
  EXPECT_EQ(gone[0].second.id, Obj(9));
  EXPECT_EQ(gone[0].second.node, 0u);
}

}  // namespace
}  // namespace dray
