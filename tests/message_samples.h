// Sample messages, inputs and effects: the one list shared by the codec tests
// (tests/codec_test.cc) and the codec fuzzer's seed corpus (fuzz/seed_corpus.h).
// Every<X>() holds one of each alternative of X, in variant order, each with
// non-default fields; Sample<X>() adds every alternative default-constructed
// and further shapes (large values, failures, put ids). When a Message,
// Command or Effect alternative is added, add it to the Every<X>() list:
// codec_test checks that each list covers its variant.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/common/step.h"

namespace dray::samples {

inline RefInfo SampleRef(uint32_t k) { return RefInfo{ObjectId{0x1234500000000000ULL + k, k}, Addr{k, k + 2}}; }

// 16 bytes with a NUL inside, the error flag, two contained refs.
inline ObjectValue SampleValue() {
  ObjectValue v;
  v.data = Buf(std::string("payload\0with nul", 16));
  v.is_error = true;
  v.contained = {SampleRef(1), SampleRef(2)};
  return v;
}

// 3,000 bytes: takes 16-bit BIN headers.
inline ObjectValue BigValue() {
  ObjectValue v;
  v.data = Buf(std::string(3000, 'v'));
  v.contained = {SampleRef(3)};
  return v;
}

inline ResourceSet SampleResources() {
  ResourceSet r;
  r.SetUnits("CPU", 2.5);
  r.SetUnits("custom", 0.0001);
  return r;
}

// Args: a resolved ref in a store, then an inline value (SampleValue()).
inline TaskSpec SampleSpec() {
  TaskSpec s;
  s.task = TaskId{77};
  s.parent = TaskId{76};
  s.job = 3;
  s.function = "Add";
  s.name = "add";
  TaskArg a;
  a.kind = TaskArg::kRef;
  a.ref = SampleRef(4);
  a.resolved = true;
  a.in_store = true;
  a.locations = {1, 2};
  a.size = 200000;
  TaskArg b;
  b.value = SampleValue();
  b.resolved = true;
  s.args = {a, b};
  s.num_returns = 2;
  s.resources = SampleResources();
  s.owner = Addr{0, 2};
  s.max_retries = -1;
  s.retry_exceptions = true;
  s.attempt = 2;
  s.spill_count = 1;
  s.actor_kind = kActorCall;
  s.actor = 91;
  s.incarnation = 2;
  s.actor_seq = 7;
  s.actor_done_below = 5;
  return s;
}

inline ActorSpec SampleActorSpec() {
  ActorSpec a;
  a.actor = 81;
  a.owner = Addr{0, 2};
  a.job = 2;
  a.name = "counter";
  a.class_name = "Counter";
  a.creation = SampleSpec();
  a.creation.actor_kind = kActorCreation;
  a.max_restarts = 2;
  a.max_task_retries = -1;
  a.max_concurrency = 1;
  return a;
}

// A task id with all 64 bits in use, as real (hashed) ids are.
inline TaskSpec HashedIdSpec() {
  TaskSpec s = SampleSpec();
  s.task = TaskId{0xabcdef0123456789ULL};
  s.parent = TaskId::ForDriver(3);
  s.resources.SetUnits("GPU", 0.5);
  return s;
}

template <class V>
std::vector<V> EveryDefault() {
  std::vector<V> out;
  [&]<size_t... I>(std::index_sequence<I...>) {
    (out.push_back(V(std::in_place_index<I>)), ...);
  }(std::make_index_sequence<std::variant_size_v<V>>{});
  return out;
}

// One of every Message alternative, in variant order, each with non-default fields.
inline std::vector<Message> EveryMessage() {
  NodeView nv{4, Addr{4, 0}, SampleResources(), SampleResources(), 9};
  ReturnObject ro{ObjectId{5, 1}, SampleValue(), true, 3, 123456};
  StoredObject so{ObjectId{6, 1}, Addr{1, 3}, SampleValue()};
  return {
      RegisterNode{4, Addr{4, 0}, SampleResources(), 1 << 20},
      ResourceReport{4, SampleResources(), 2, {SampleResources()}, 17},
      ClusterView{8, {nv, nv}},
      RegisterJob{Addr{0, 2}},
      JobRegistered{5},
      SubmitTask{SampleSpec()},
      ExecuteTask{SampleSpec()},
      TaskDone{TaskId{77}, 1, Addr{2, 66}, {ro}},
      TaskFinished{TaskId{77}, {so}},
      RegisterWorker{Addr{2, 66}},
      WorkerBlocked{TaskId{78}},
      WorkerUnblocked{TaskId{79}},
      ResumeGrant{TaskId{80}},
      PutObject{so},
      FetchObject{ObjectId{9, 2}, Addr{0, 2}, {1, 3}, 44},
      ObjectReady{ObjectId{9, 2}, 44, true, SampleValue(), "none"},
      PullObject{ObjectId{9, 2}, 3},
      ObjectChunk{ObjectId{9, 2}, true, 1, 3, 30, true, {SampleRef(7)}, Addr{0, 2}, Buf(std::string("0123456789"))},
      FreeObjects{{ObjectId{1, 1}, ObjectId{2, 0x80000001u}}},
      AddObjectLocation{ObjectId{1, 1}, 6},
      GetObjectStatus{ObjectId{1, 1}},
      ObjectStatus{ObjectId{1, 1}, true, true, SampleValue(), {2, 4}, 999},
      AddBorrower{ObjectId{1, 1}},
      AddBorrowerAck{ObjectId{1, 1}, true},
      RemoveBorrower{ObjectId{1, 1}, 3},
      ReturnRefsAck{TaskId{81}},
      WorkerOwnership{true},
      WorkerDied{Addr{2, 70}, "killed by signal 9"},
      TaskFailed{TaskId{81}, 2, "WorkerCrashedError", "worker n2.70 died"},
      Deaths{{Addr{2, 70}, Addr{3, 66}}, {3}, "node 3 missed 5 health checks"},
      HealthCheck{17},
      HealthCheckAck{3, 17},
      TaskPlaced{TaskId{81}, 1, 4, 2},
      RegisterActor{SampleActorSpec()},
      ActorRegistered{81, false, "the name 'c' is taken"},
      GetActorInfo{0, "counter", 2, 9},
      ActorInfo{81, 9, true, kActorAlive, 3, Addr{2, 70}, Addr{0, 2}, "Counter", -1, "none"},
      KillActor{81, true, "Kill()"},
      StopActor{81, 3, "killed"},
      RenewLease{3, 12},
      LeaseGranted{12},
      ObjectRestored{ObjectId{8, 1}, 5, true, Buf(std::string(300, 'r')), ""},
      RemoveObjectLocation{ObjectId{8, 1}, 3},
  };
}

// Every alternative default-constructed, EveryMessage(), and further shapes.
inline std::vector<Message> SampleMessages() {
  std::vector<Message> out = EveryDefault<Message>();
  for (auto& m : EveryMessage()) out.push_back(std::move(m));
  ResourceSet total;
  total.SetUnits("CPU", 4);
  total.SetUnits("memory", 1 << 30);
  total.SetUnits("node:1", 1);
  out.push_back(RegisterNode{1, Addr{1, 0}, total, 1ull << 31});
  out.push_back(ResourceReport{1, total, 3, {total, ResourceSet()}, 17});
  out.push_back(ClusterView{5, {NodeView{0, Addr{0, 0}, total, total, 2}, NodeView{1, Addr{1, 0}, total, {}, 0}}});
  out.push_back(SubmitTask{HashedIdSpec()});
  out.push_back(TaskDone{TaskId{9}, 1, Addr{1, 70},
                         {ReturnObject{ObjectId{9, 1}, SampleValue(), false, 0, 9},
                          ReturnObject{ObjectId{9, 2}, {}, true, 1, 300000}}});
  out.push_back(TaskFinished{TaskId{9}, {StoredObject{ObjectId{9, 2}, Addr{0, 2}, BigValue()}}, true});
  out.push_back(PutObject{StoredObject{ObjectId::Put(TaskId{5}, 1), Addr{0, 2}, BigValue()}});
  out.push_back(ObjectReady{ObjectId{8, 1}, 99, false, {}, "lost"});
  out.push_back(ObjectChunk{ObjectId{8, 1}, true, 1, 4, 4000, false, {SampleRef(1), SampleRef(2)}, Addr{0, 2},
                            Buf(std::string(1000, 'c'))});
  out.push_back(FreeObjects{{ObjectId{1, 1}, ObjectId{2, 1}, ObjectId::Put(TaskId{3}, 2)}});
  out.push_back(ObjectStatus{ObjectId{8, 2}, true, false, BigValue(), {}, 3000});
  out.push_back(ObjectRestored{ObjectId{8, 2}, 6, true, BigValue().data, ""});
  out.push_back(ObjectRestored{ObjectId{8, 3}, 7, false, {}, "spill file 7: No such file or directory"});
  return out;
}

// One of every Command alternative, in variant order (CmdStart has no fields).
inline std::vector<Command> EveryCommand() {
  return {
      CmdStart{},
      CmdSubmit{SampleSpec()},
      CmdPut{SampleValue()},
      CmdGet{3, {SampleRef(1)}, 1000},
      CmdWait{4, {SampleRef(1), SampleRef(2)}, 2, 5000},
      CmdAddRef{SampleRef(3)},
      CmdRemoveRef{SampleRef(3)},
      CmdTaskReturned{TaskId{5}, {SampleValue()}},
      CmdCreateActor{6, SampleActorSpec()},
      CmdGetActor{7, "counter"},
      CmdKillActor{81, false},
  };
}

// Every message delivered, timers, every command default and filled, more shapes.
inline std::vector<Input> SampleInputs() {
  std::vector<Input> out;
  for (auto& m : SampleMessages()) out.push_back(InDeliver{Addr{1, 0}, std::move(m)});
  out.push_back(InTimer{(1ULL << 62) + 5});
  out.push_back(InTimer{(2ULL << 32) + 70});
  for (auto& c : EveryDefault<Command>()) out.push_back(InCommand{std::move(c)});
  for (auto& c : EveryCommand()) out.push_back(InCommand{std::move(c)});
  out.push_back(InCommand{CmdSubmit{HashedIdSpec()}});
  out.push_back(InCommand{CmdPut{BigValue()}});
  out.push_back(InCommand{CmdWait{5, {SampleRef(1)}, 1, -1}});
  out.push_back(InCommand{CmdTaskReturned{TaskId{7}, {SampleValue(), BigValue()}}});
  return out;
}

// One of every Effect alternative, in variant order, each with non-default fields.
inline std::vector<Effect> EveryEffect() {
  return {
      EfSend{Addr{1, 0}, FreeObjects{{ObjectId{1, 1}}}},
      EfSetTimer{7, 123456789},
      EfCancelTimer{7},
      EfStartWorker{Addr{1, 66}},
      EfStopWorker{Addr{1, 66}},
      EfRunTask{SampleSpec()},
      EfCompleteWait{5, kWaitTimeout, {SampleValue()}, {1, 0}},
      EfCommandResult{TaskId{9}, {ObjectId{9, 1}, ObjectId{9, 2}}},
      EfPersist{"actors", "81", std::string("\x01\x02row", 5), false},
      EfSpill{5, ObjectId{8, 1}, Buf(std::string(300, 's'))},
      EfRestore{5, ObjectId{8, 1}, 300},
      EfDeleteSpill{5},
  };
}

inline std::vector<Effect> SampleEffects() {
  std::vector<Effect> out = EveryDefault<Effect>();
  for (auto& e : EveryEffect()) out.push_back(std::move(e));
  out.push_back(EfSend{Addr{1, 0}, SubmitTask{HashedIdSpec()}});
  out.push_back(EfCompleteWait{3, kWaitOk, {BigValue()}, {1}});
  out.push_back(EfSpill{6, ObjectId{8, 2}, BigValue().data});
  return out;
}

}  // namespace dray::samples
