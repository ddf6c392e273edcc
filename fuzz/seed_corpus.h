// The codec fuzzer's seed corpus: a valid encoding of every Message
// alternative (each both default-constructed and filled with nested data),
// of every Input and every Effect alternative. Shared by the standalone
// driver (fuzz/standalone_main.cc), which also writes it out as a libFuzzer
// corpus directory.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/proto/codec.h"

namespace dray::fuzz {

struct Seed {
  std::string name;
  std::string bytes;
};

inline ObjectValue SampleValue(bool big) {
  ObjectValue v;
  v.data = Buf(std::string(big ? 3000 : 9, 'v'));
  v.contained.push_back({ObjectId{0x1234, 1}, Addr{2, 7}});
  return v;
}

inline TaskSpec SampleSpec() {
  TaskSpec s;
  s.task = TaskId{0xabcdef0123456789ULL};
  s.parent = TaskId{42};
  s.job = 3;
  s.function = "Add";
  s.name = "add";
  TaskArg v;
  v.value = SampleValue(false);
  v.resolved = true;
  s.args.push_back(v);
  TaskArg r;
  r.kind = TaskArg::kRef;
  r.ref = {ObjectId{77, 1}, Addr{1, 9}};
  r.in_store = true;
  r.resolved = true;
  r.locations = {1, 4};
  r.size = 200 * 1024;
  s.args.push_back(r);
  s.resources.SetUnits("CPU", 1);
  s.resources.SetUnits("GPU", 0.5);
  s.owner = Addr{0, 2};
  s.max_retries = -1;
  s.retry_exceptions = true;
  s.attempt = 2;
  s.spill_count = 1;
  return s;
}

inline std::vector<Message> SampleMessages() {
  std::vector<Message> out;
  // Every alternative default-constructed.
  [&]<size_t... I>(std::index_sequence<I...>) {
    (out.push_back(Message(std::in_place_index<I>)), ...);
  }(std::make_index_sequence<std::variant_size_v<Message>>{});
  ResourceSet total;
  total.SetUnits("CPU", 4);
  total.SetUnits("memory", 1 << 30);
  total.SetUnits("node:1", 1);
  out.push_back(RegisterNode{1, Addr{1, 0}, total, 1ull << 31});
  out.push_back(ResourceReport{1, total, 3, {total, ResourceSet()}, 17});
  out.push_back(ClusterView{5, {NodeView{0, Addr{0, 0}, total, total, 2}, NodeView{1, Addr{1, 0}, total, {}, 0}}});
  out.push_back(RegisterJob{Addr{0, 2}});
  out.push_back(JobRegistered{1});
  out.push_back(SubmitTask{SampleSpec()});
  out.push_back(ExecuteTask{SampleSpec()});
  out.push_back(TaskDone{TaskId{9}, 1, Addr{1, 70},
                         {ReturnObject{ObjectId{9, 1}, SampleValue(false), false, 0, 9},
                          ReturnObject{ObjectId{9, 2}, {}, true, 1, 300000}}});
  out.push_back(TaskFinished{TaskId{9}, {StoredObject{ObjectId{9, 2}, Addr{0, 2}, SampleValue(true)}}});
  out.push_back(RegisterWorker{Addr{3, 66}});
  out.push_back(WorkerBlocked{TaskId{5}});
  out.push_back(WorkerUnblocked{TaskId{5}});
  out.push_back(ResumeGrant{TaskId{5}});
  out.push_back(PutObject{StoredObject{ObjectId::Put(TaskId{5}, 1), Addr{0, 2}, SampleValue(true)}});
  out.push_back(FetchObject{ObjectId{8, 1}, Addr{0, 2}, {0, 1, 2}, 99});
  out.push_back(ObjectReady{ObjectId{8, 1}, 99, true, SampleValue(false), ""});
  out.push_back(ObjectReady{ObjectId{8, 1}, 99, false, {}, "lost"});
  out.push_back(PullObject{ObjectId{8, 1}, 3});
  out.push_back(ObjectChunk{ObjectId{8, 1}, true, 1, 4, 4000, false, {{ObjectId{1, 1}, Addr{0, 2}}}, Addr{0, 2},
                            std::string(1000, 'c')});
  out.push_back(FreeObjects{{ObjectId{1, 1}, ObjectId{2, 1}, ObjectId::Put(TaskId{3}, 2)}});
  out.push_back(AddObjectLocation{ObjectId{8, 1}, 4});
  out.push_back(GetObjectStatus{ObjectId{8, 1}});
  out.push_back(ObjectStatus{ObjectId{8, 1}, true, true, {}, {1, 2}, 500000});
  out.push_back(ObjectStatus{ObjectId{8, 2}, true, false, SampleValue(false), {}, 9});
  out.push_back(AddBorrower{ObjectId{8, 1}});
  out.push_back(AddBorrowerAck{ObjectId{8, 1}, true});
  out.push_back(RemoveBorrower{ObjectId{8, 1}, 2});
  out.push_back(ReturnRefsAck{TaskId{12}});
  return out;
}

inline std::vector<Input> SampleInputs() {
  std::vector<Input> out;
  for (auto& m : SampleMessages()) out.push_back(InDeliver{Addr{1, 0}, std::move(m)});
  out.push_back(InTimer{(2ull << 32) + 70});
  [&]<size_t... I>(std::index_sequence<I...>) {
    (out.push_back(InCommand{Command(std::in_place_index<I>)}), ...);
  }(std::make_index_sequence<std::variant_size_v<Command>>{});
  out.push_back(InCommand{CmdSubmit{SampleSpec()}});
  out.push_back(InCommand{CmdPut{SampleValue(true)}});
  out.push_back(InCommand{CmdGet{4, {{ObjectId{1, 1}, Addr{0, 2}}, {ObjectId{2, 1}, Addr{1, 5}}}, 1000000}});
  out.push_back(InCommand{CmdWait{5, {{ObjectId{1, 1}, Addr{0, 2}}}, 1, -1}});
  out.push_back(InCommand{CmdAddRef{{ObjectId{1, 1}, Addr{0, 2}}}});
  out.push_back(InCommand{CmdRemoveRef{{ObjectId{1, 1}, Addr{0, 2}}}});
  out.push_back(InCommand{CmdTaskReturned{TaskId{7}, {SampleValue(false), SampleValue(true)}}});
  return out;
}

inline std::vector<Effect> SampleEffects() {
  std::vector<Effect> out;
  [&]<size_t... I>(std::index_sequence<I...>) {
    (out.push_back(Effect(std::in_place_index<I>)), ...);
  }(std::make_index_sequence<std::variant_size_v<Effect>>{});
  out.push_back(EfSend{Addr{1, 0}, SubmitTask{SampleSpec()}});
  out.push_back(EfSetTimer{1, 123456789});
  out.push_back(EfCancelTimer{1});
  out.push_back(EfStartWorker{Addr{1, 66}});
  out.push_back(EfStopWorker{Addr{1, 66}});
  out.push_back(EfRunTask{SampleSpec()});
  out.push_back(EfCompleteWait{3, kWaitOk, {SampleValue(false)}, {1, 0}});
  out.push_back(EfCommandResult{TaskId{3}, {ObjectId{3, 1}}});
  return out;
}

inline std::vector<Seed> SeedCorpus() {
  std::vector<Seed> out;
  for (const auto& m : SampleMessages())
    out.push_back({std::string("message-") + MessageName(m) + "-" + std::to_string(out.size()), EncodeMessage(m)});
  for (const auto& in : SampleInputs())
    out.push_back({"input-" + std::to_string(in.index()) + "-" + std::to_string(out.size()), EncodeInput(in)});
  for (const auto& e : SampleEffects())
    out.push_back({"effect-" + std::to_string(e.index()) + "-" + std::to_string(out.size()), EncodeEffect(e)});
  return out;
}

}  // namespace dray::fuzz
